"""Load what a report shows, from the files its rule declared as inputs (and nothing else:
what a report shows follows the config, never files an earlier run left behind)."""

import json
from pathlib import Path

import pandas as pd


def read_json(path: str | Path | None):
    return None if path is None else json.loads(Path(path).read_text())


def read_parquet(path: str | Path | None, columns: list[str] | None = None) -> pd.DataFrame | None:
    return None if path is None else pd.read_parquet(path, columns=columns)


def read_text(path: str | Path | None) -> str | None:
    return None if path is None else Path(path).read_text()


def read_posterior(path: str | Path, groups=("posterior", "sample_stats", "observed_data")):
    """Chosen groups of a fit's posterior file, loaded (the file is closed after)."""
    import xarray as xr

    with xr.open_datatree(path, engine="h5netcdf") as tree:
        return xr.DataTree.from_dict(
            {group: tree[group].to_dataset().load() for group in groups if group in tree}
        )


def read_power_scaling(path: str | Path, var_names: list[str]):
    """What ArviZ's power scaling of `var_names` uses: their draws, the log prior, and the
    log-likelihood's per-draw total the fit wrote. The weights depend on the densities
    alone, so the posterior's other variables (a participant rung's 1,745 intercepts) and
    the rows' values are not read."""
    import xarray as xr

    from replication_ladder.models.pointwise import TOTAL_GROUP
    from replication_ladder.scoring.sensitivity import per_draw_likelihood

    with xr.open_datatree(path, engine="h5netcdf") as tree:
        present = {
            f"/{group}": tree[group].to_dataset()
            for group in ("log_prior", TOTAL_GROUP)
            if group in tree
        }
        present["/posterior"] = tree["posterior"].to_dataset()[var_names]
        return per_draw_likelihood(xr.DataTree.from_dict(present)).load()


def observed_outcome(path: str | Path) -> tuple[str, object]:
    """The modelled outcome of a fit: its name and observed values."""
    observed = read_posterior(path, groups=("observed_data",))["observed_data"].to_dataset()
    name = next(iter(observed.data_vars))
    return name, observed[name].values.ravel()
