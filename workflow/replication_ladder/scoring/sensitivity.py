"""Power-scaling sensitivity of a fit (Kallioinen et al. 2024), with ArviZ's `psense_summary`:
how much each parameter's posterior moves when the prior, or the likelihood, is raised
to a power near 1. A parameter sensitive to both flags a prior-data conflict; one
sensitive to the prior but not to the likelihood, a strong prior or a weak likelihood.
"""

import logging
from dataclasses import dataclass

import pandas as pd

from replication_ladder.models.parameter_names import parse

log = logging.getLogger(__name__)

THRESHOLD = 0.05  # ArviZ's default: the distance above which a posterior counts as moved
COLUMNS = ["prior", "likelihood", "diagnosis"]


@dataclass(frozen=True)
class Sensitivity:
    table: pd.DataFrame  # one row per parameter: prior, likelihood, diagnosis

    def flagged(self, diagnosis: str) -> list[str]:
        return [str(name) for name in self.table.index[self.table["diagnosis"] == diagnosis]]


def _group_level(name: str) -> bool:
    """Per-level effects (`1|study[3]`, `1|study`): hundreds of them say little here."""
    parameter = parse(name)
    return parameter.group is not None and parameter.suffix != "sigma"


def per_draw_likelihood(idata):
    """The fit with its log-likelihood summed over rows, as psense sums it before use:
    the same weights, without the copies of every row's value it makes on the way. A
    fit's own total (models.pointwise.TOTAL_GROUP) is taken as it is."""
    import xarray as xr

    from replication_ladder.models.pointwise import TOTAL_GROUP

    groups = {f"/{name}": idata[name].to_dataset() for name in ("posterior", "log_prior")}
    if TOTAL_GROUP in idata:
        total = idata[TOTAL_GROUP]["total"]
    elif "log_likelihood" in idata:
        sample_dims = ("chain", "draw")
        total = sum(
            value.sum([dim for dim in value.dims if dim not in sample_dims], skipna=False)
            for value in idata["log_likelihood"].to_dataset().data_vars.values()
        )
    else:
        return idata
    return xr.DataTree.from_dict({**groups, "/log_likelihood": xr.Dataset({"total": total})})


def power_scaling(idata, parameters: list[str]) -> Sensitivity:
    """psense_summary over the population-level parameters of a fit."""
    from arviz_stats import psense_summary

    names = [name for name in parameters if not _group_level(name)]
    if not names or "log_prior" not in idata or not idata["log_prior"].data_vars:
        return Sensitivity(pd.DataFrame(columns=COLUMNS).rename_axis("parameter"))
    try:
        table = psense_summary(
            per_draw_likelihood(idata), var_names=names, threshold=THRESHOLD, round_to=6
        )
    except ValueError as error:
        # Degenerate draws (a chain stuck at one value) leave no tail to smooth; the
        # convergence diagnostics report the fit itself.
        log.warning("power-scaling sensitivity not computed: %s", error)
        return Sensitivity(
            pd.DataFrame(
                {
                    "prior": float("nan"),
                    "likelihood": float("nan"),
                    "diagnosis": f"not computed: {error}",
                },
                index=pd.Index(names, name="parameter"),
            )
        )
    table.index.name = "parameter"
    table = table[COLUMNS].astype({"prior": "float64", "likelihood": "float64", "diagnosis": "str"})
    for name, row in table[table["diagnosis"] != "✓"].iterrows():
        log.warning(
            "%s: %s (prior %.3f, likelihood %.3f)",
            name,
            row["diagnosis"],
            row["prior"],
            row["likelihood"],
        )
    return Sensitivity(table)
