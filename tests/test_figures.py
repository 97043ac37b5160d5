"""The report's figures from ArviZ, checked for what they show: the values drawn on the
axes, read back from the figure, against the data given to it."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

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


def _conjugate_normal_tree(prior_sd: float, rows: int, draws: int = 20000):
    """Exact posterior draws of mu in y ~ Normal(mu, 1), mu ~ Normal(0, prior_sd), with
    the pointwise log prior and log likelihood ArviZ's power scaling reads."""
    import xarray as xr

    rng = np.random.default_rng(4)
    y = rng.normal(0.3, 1.0, rows)
    precision = 1 / prior_sd**2 + rows
    mu = rng.normal(y.sum() / precision, precision**-0.5, (2, draws // 2))
    return xr.DataTree.from_dict(
        {
            "/posterior": xr.Dataset({"mu": (("chain", "draw"), mu)}),
            "/log_prior": xr.Dataset({"mu": (("chain", "draw"), -0.5 * (mu / prior_sd) ** 2)}),
            "/log_likelihood": xr.Dataset(
                {"y": (("chain", "draw", "row"), -0.5 * (y - mu[..., None]) ** 2)}
            ),
        }
    )


def test_power_scaling_shows_the_closed_form_narrowing():
    """ArviZ's plot_psense_dist on a conjugate normal model (prior SD 0.1, 50 rows of SD
    1: prior precision 100, likelihood 50). Raising the prior to alpha gives posterior
    precision 100 alpha + 50, the likelihood 100 + 50 alpha: a normal's peak grows as the
    square root of its precision, so between alpha 0.8 and 1.25 the prior panel's peaks
    differ by sqrt(175/130) = 1.160 and the likelihood's by sqrt(162.5/140) = 1.077
    (closed form; the KDE's smoothing takes a little off each)."""
    fig = figures.power_scaling(_conjugate_normal_tree(0.1, 50), ["mu"])
    panels = {ax.get_title().split("\n")[-1]: ax for ax in fig.axes if ax.get_title()}
    assert set(panels) >= {"prior", "likelihood"}

    def peak_ratio(ax):
        peaks = [np.max(line.get_ydata()) for line in ax.lines if len(line.get_ydata()) > 10]
        assert len(peaks) == 3  # alpha 0.8, 1 and 1.25
        return max(peaks) / min(peaks)

    assert abs(peak_ratio(panels["prior"]) - 1.160) < 0.06
    assert abs(peak_ratio(panels["likelihood"]) - 1.077) < 0.05


def test_the_pareto_k_figure_draws_each_models_k_against_the_threshold():
    """ArviZ's plot_khat, a row per model: the points drawn are the k given, in order,
    the line across is the threshold, and each title counts what psis.high_k counts (k
    above the threshold or NaN)."""
    from replication_ladder.scoring.psis import high_k

    rng = np.random.default_rng(2)
    ks = {"fixed": rng.uniform(-0.2, 0.6, 50), "participant": rng.uniform(0.0, 1.0, 50)}
    ks["participant"][7] = np.nan
    fig = figures.pareto_k(ks, threshold=0.68)
    rows = [ax for ax in fig.axes if ax.collections]
    assert len(rows) == 2
    for ax, (model, k) in zip(rows, ks.items(), strict=True):
        drawn = np.asarray(ax.collections[0].get_offsets(), dtype=float)
        np.testing.assert_array_equal(drawn[:, 1], k)
        assert [list(line.get_ydata()) for line in ax.lines] == [[0.68, 0.68]]
        assert ax.get_title().startswith(f"{model}: {int(high_k(k, 0.68).sum())} of 50 above")
    assert int(high_k(ks["participant"], 0.68).sum()) > 0


def test_the_savage_dickey_figure_draws_prior_and_posterior_at_zero():
    """The prior as its exact density (Normal(0, 1): 1/sqrt(2 pi) at zero, closed form),
    the posterior's draws as a histogram centred at their mean, and the two densities at
    zero marked with their values: the posterior's is the one given (the Bayes factor's),
    far above what a histogram of draws 6 SDs away shows there (nothing)."""
    rng = np.random.default_rng(3)
    posterior = rng.normal(0.6, 0.1, 4_000)
    log_density = -16.0
    prior = {"dist": "Normal", "mu": 0.0, "sigma": 1.0}
    fig = figures.savage_dickey(posterior, prior, log_density, "condition", "participant")
    ax = fig.axes[0]
    (curve,) = [line for line in ax.lines if len(line.get_xdata()) > 2]
    x, y = np.asarray(curve.get_xdata()), np.asarray(curve.get_ydata())
    assert np.interp(0.0, x, y) == pytest.approx(1 / np.sqrt(2 * np.pi), rel=1e-3)
    heights = [patch.get_height() for patch in ax.patches]
    centres = [patch.get_x() + patch.get_width() / 2 for patch in ax.patches]
    assert abs(centres[int(np.argmax(heights))] - 0.6) < 0.05
    points = {
        line.get_label(): line.get_ydata()[0] for line in ax.lines if len(line.get_xdata()) == 1
    }
    assert points == {
        f"prior at 0: {1 / np.sqrt(2 * np.pi):.3g}": pytest.approx(1 / np.sqrt(2 * np.pi)),
        f"posterior at 0: {np.exp(log_density):.3g}": pytest.approx(np.exp(log_density)),
    }
    assert ax.get_title() == "participant"


def test_whole_numbered_ratings_against_continuous_replicates_are_compared_as_ecdfs():
    """A normal model of 0-9 ratings: ECDFs (a KDE of ratings is a row of spikes). The
    observed curve is the ratings' empirical CDF (np.searchsorted at each drawn x), and
    every replicate's curve rises from near 0 to 1."""
    rng = np.random.default_rng(4)
    observed = rng.integers(0, 10, 300).astype(float)
    replicated = rng.normal(4.5, 2.8, (50, 300))
    fig = figures.posterior_predictive(observed, replicated, "rating (points)", "participant")
    ax = fig.axes[0]
    curves = [line for line in ax.lines if line.get_drawstyle() == "steps-pre"]
    assert len(curves) == 51
    observed_curve = next(line for line in curves if line.get_color() == "#000000")
    x, y = (np.asarray(v, dtype=float) for v in observed_curve.get_data())
    ecdf = np.searchsorted(np.sort(observed), x, side="right") / observed.size
    np.testing.assert_allclose(y, ecdf)
    assert all(np.asarray(line.get_ydata())[-1] == 1.0 for line in curves)
