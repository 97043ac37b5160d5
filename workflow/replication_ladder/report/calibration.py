"""The calibration report (`make sbc`): per rung, PIT-ECDF envelopes of each
population-level parameter's SBC ranks and ArviZ's uniformity test."""

import io
from pathlib import Path

import pandas as pd

from replication_ladder.base.atomic import write_bytes, write_text
from replication_ladder.calibration.sbc import META
from replication_ladder.models.parameter_names import parse
from replication_ladder.report import figures, loaders
from replication_ladder.report import html as fragments

DPI = 80
STYLE = fragments.STYLE
MAX_PANELS = 12


def population_level(columns) -> list[str]:
    """Parameters that are not one level's effect (`1|study[3]`): those are many, and
    their calibration follows from their SD's."""
    return [c for c in columns if c not in META and not parse(c).one_level]


def ranks_tree(ranks: pd.DataFrame, names: list[str], seed: int = 0):
    """PIT values of the ranks in the layout `plot_ecdf_pit` reads (group prior_sbc)."""
    import xarray as xr

    from replication_ladder.calibration.sbc_ranks import pit_values

    pit = pit_values(ranks, seed)
    dataset = xr.Dataset({n: (("chain", "draw"), pit[n].to_numpy()[None, :]) for n in names})
    return xr.DataTree.from_dict({"prior_sbc": dataset})


class CalibrationReport:
    def __init__(self, inputs: dict, figures_dir: str | Path):
        self.inputs = inputs
        self.figures_dir = Path(figures_dir)
        self.figures_dir.mkdir(parents=True, exist_ok=True)

    @property
    def rungs(self) -> list[str]:
        return list(self.inputs)

    def ranks(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        return loaders.read_parquet(self.inputs[name]["ranks"], columns)

    def uniformity(self, name: str) -> dict:
        return loaders.read_json(self.inputs[name]["uniformity"])

    def introduction(self) -> str:
        return (
            "<p>Parameters drawn from each rung's own prior, outcomes simulated on the real "
            "design, each fitted; if the fit is calibrated, the rank of each true value "
            "among its (thinned) posterior draws is uniform over the replicates.</p>"
        )

    def overview(self) -> pd.DataFrame:
        rows = {}
        for name in self.rungs:
            test, draws_ranked = self.uniformity(name), self.ranks(name, ["draws_ranked"])
            p_values = test["parameters"]
            factor = test.get("bayes_factor")
            rows[name] = {
                "replicates": test["replicates"],
                "parameters": len(p_values),
                "smallest p": min(p_values.values()) if p_values else None,
                "miscalibrated (Bonferroni by family)": len(test["miscalibrated"]),
                "mean P(H1 | y) (expected)": (
                    f"{factor['mean_p_h1']:.3f} ({factor['share_from_h1']:.2f})" if factor else None
                ),
                "replicates not converged (R-hat)": test["unconverged_replicates"],
                "replicates with divergences": test["divergent_replicates"],
                "draws ranked": int(draws_ranked["draws_ranked"].median()),
            }
        table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("dataset/rung")
        write_text(self.figures_dir / "overview.csv", table.to_csv())
        return table

    def rung_summary(self, name: str) -> str:
        test = self.uniformity(name)
        return (
            self.mixing_summary(test)
            + self.uniformity_summary(test)
            + fragments.bayes_factor_calibration(test.get("bayes_factor"))
        )

    @staticmethod
    def mixing_summary(test: dict) -> str:
        """A warning when some replicates' chains did not mix (by the R-hat line every fit
        is judged by): their ranks test the sampling as much as the model."""
        unmixed = test["unconverged_replicates"]
        if not unmixed:
            return ""
        measured = (
            f"R-hat above {test['max_r_hat_threshold']} in {unmixed} of {test['replicates']} "
            "replicates"
        )
        return fragments.box(
            "warning",
            f"<p>Max {measured} (median over replicates {test['median_max_r_hat']:.2f}). "
            "Ranks from chains that did not mix test the "
            "sampling as much as the model. Rerun with longer chains (the config's "
            "<code>sbc.tune</code> and <code>sbc.draws</code>); if R-hat stays high, look at "
            "the rung's priors: data simulated far off the outcome's scale can leave the "
            "posterior a ridge no chain length crosses. Until then, do not read the test "
            "below as calibration.</p>",
            measured,
        )

    @staticmethod
    def uniformity_summary(test: dict) -> str:
        families = test.get("families", {})
        if test["miscalibrated"]:
            lines = [
                f"{fragments.escape(family)} (p below {entry['bonferroni_bound']:.2g}): "
                + ", ".join(fragments.escape(p) for p in entry["miscalibrated"])
                for family, entry in families.items()
                if entry["miscalibrated"]
            ]
            return fragments.box("warning", fragments.items(lines), "Ranks not uniform")
        sizes = ", ".join(f"{family} {len(e['parameters'])}" for family, e in families.items())
        return fragments.box(
            "note" if test["unconverged_replicates"] else "ok",
            f"{len(test['parameters'])} parameters ({sizes}), {test['replicates']} replicates: "
            "no rank distribution departs from uniform beyond chance (Bonferroni within each "
            "family: the verdict's effect and its SD across sites, the other scalars, the "
            "per-level effects).",
        )

    def bayes_factor_figure(self, name: str):
        """The Bayes factors' calibration: P(H1 | y) by bin against the share of
        replicates from H1, and log BF10 under each hypothesis; None without one."""
        test = self.uniformity(name)
        if not test.get("bayes_factor"):
            return None
        table = self.ranks(name, ["hypothesis", "log_bf10"])
        fig = figures.bayes_factor_calibration(test["bayes_factor"], table)
        return self._png(fig, f"{name.replace('/', '.')}.bayes_factor.png")

    def _png(self, fig, file: str):
        import matplotlib.pyplot as plt
        from IPython.display import Image

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
        plt.close(fig)
        write_bytes(self.figures_dir / file, buffer.getvalue())
        return Image(data=buffer.getvalue(), format="png")

    def ecdf_figure(self, name: str):
        ranks = self.ranks(name)
        names = population_level(ranks.columns)[:MAX_PANELS]
        fig = figures.sbc_ecdf(ranks_tree(ranks, names), names)
        return self._png(fig, f"{name.replace('/', '.')}.ecdf.png")
