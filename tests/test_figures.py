"""The report's figures from ArviZ, checked for what they show: the values drawn on the
axes, read back from the figure, against the data given to it."""

import matplotlib

matplotlib.use("Agg")
import numpy as np

from replication_ladder.report import figures


def test_an_ordinal_outcome_is_checked_with_a_rootogram_of_its_counts():
    """Whole-numbered ratings: ArviZ's rootogram, whose observed markers are the
    observed count of each rating (np.bincount) and whose predicted markers are the
    replicates' mean count per rating."""
    rng = np.random.default_rng(1)
    observed = rng.integers(0, 10, 400).astype(float)
    replicated = rng.integers(0, 10, (60, 400)).astype("float32")
    fig = figures.posterior_predictive(observed, replicated, "rating (points)", "rrr/ordinal")
    ax = fig.axes[0]
    points = [collection.get_offsets() for collection in ax.collections]
    counts = np.bincount(observed.astype(int), minlength=10)
    predicted = np.array([np.bincount(r.astype(int), minlength=10) for r in replicated]).mean(0)
    shown = {tuple(np.round(np.asarray(p[:, 1], dtype=float), 6)) for p in points}
    assert tuple(counts.astype(float)) in shown
    assert any(np.allclose(np.asarray(p[:, 1], dtype=float), predicted, atol=0.5) for p in points)
    assert ax.get_yscale() != "linear"  # counts on a square-root axis
    assert ax.get_title() == "rrr/ordinal" and ax.get_xlabel() == "rating (points)"


def test_a_continuous_outcome_is_checked_with_densities():
    """A continuous outcome: ArviZ's plot_ppc_dist, 50 replicated densities and the
    observed one, which integrates to 1 over the range of the data."""
    rng = np.random.default_rng(2)
    observed = rng.normal(4.5, 2.0, 500)
    replicated = rng.normal(4.5, 2.0, (80, 500)).astype("float32")
    fig = figures.posterior_predictive(observed, replicated, "score", "linear/linear")
    lines = fig.axes[0].lines
    black = [line for line in lines if matplotlib.colors.to_hex(line.get_color()) == "#000000"]
    assert len(lines) == 51 and len(black) == 1
    x, density = black[0].get_xdata(), black[0].get_ydata()
    assert abs(np.trapezoid(density, x) - 1) < 0.05
    assert abs(x[np.argmax(density)] - 4.5) < 1.0  # its mode near the normal's mean
