"""The frequentist reference of the two-stage analysis against R's metafor (`rma(yi, sei,
method = "REML")` and `predict()`), run by Rscript on the same site estimates: the RRR's
17 labs (tau^2 at its boundary, 0) and a synthetic set with clear heterogeneity. Debian's
r-base-core and r-cran-metafor are installed by `make setup-test` (CI's setup)."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from replication_ladder.data.sites import participant_means, per_site_effects
from replication_ladder.verdict.random_effects import random_effects

METAFOR = """
library(metafor)
d <- read.csv("{path}")
m <- rma(yi = effect, sei = se, data = d, method = "REML")
p <- predict(m)
cat(sprintf('{{"estimate": %.12g, "se": %.12g, "ci_low": %.12g, "ci_high": %.12g,
  "tau2": %.12g, "i2": %.12g, "h2": %.12g, "q": %.12g, "q_p": %.12g,
  "pi_low": %.12g, "pi_high": %.12g}}',
  m$b[1], m$se, m$ci.lb, m$ci.ub, m$tau2, m$I2, m$H2, m$QE, m$QEp, p$pi.lb, p$pi.ub))
"""

# metafor stops Fisher scoring when tau^2 changes by less than 1e-5; figures agree to
# well within that.
TOLERANCE = 1e-5


def metafor(table: pd.DataFrame, folder) -> dict:
    rscript = shutil.which("Rscript")
    assert rscript, "Rscript not found: `make setup-test` installs r-base-core and r-cran-metafor"
    path = folder / "sites.csv"
    table[["effect", "se"]].to_csv(path, index=False)
    result = subprocess.run(
        [rscript, "-e", METAFOR.format(path=path)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def heterogeneous_sites() -> pd.DataFrame:
    rng = np.random.default_rng(29)
    se = rng.uniform(0.1, 0.3, 12)
    return pd.DataFrame({"effect": 0.4 + rng.normal(0, 0.35, 12) + rng.normal(0, se), "se": se})


def rrr_sites(table: pd.DataFrame) -> pd.DataFrame:
    return per_site_effects(participant_means(table, "study", "uid", "condition", "value"))


@pytest.mark.parametrize("which", ["rrr", "heterogeneous"])
def test_reml_matches_metafor(which, rrr_table, tmp_path):
    sites = rrr_sites(rrr_table) if which == "rrr" else heterogeneous_sites()
    ours = random_effects(sites["effect"], sites["se"])
    theirs = metafor(sites, tmp_path)
    for key, value in theirs.items():
        print(f"margin: {key} {ours[key]:.6g} against metafor's {value:.6g}")
        assert ours[key] == pytest.approx(value, abs=TOLERANCE, rel=TOLERANCE), key
    if which == "heterogeneous":
        assert ours["tau2"] > 0.05 and ours["i2"] > 50  # the case is not the boundary's


def test_the_rrr_reference_is_the_same_data_figure_not_the_published_one(rrr_table):
    """The public CSV is not the RRR's analysed sample: same-data REML is -0.004
    [-0.149, 0.140], the published 0.03 [-0.11, 0.16] (Wagenmakers et al. 2016)."""
    ours = random_effects(*rrr_sites(rrr_table)[["effect", "se"]].T.to_numpy())
    assert round(ours["estimate"], 3) == -0.004
    assert (round(ours["ci_low"], 3), round(ours["ci_high"], 3)) == (-0.149, 0.140)


def test_too_few_sites_are_refused():
    with pytest.raises(ValueError, match="2 or more sites, not 1"):
        random_effects([0.1], [0.2])
