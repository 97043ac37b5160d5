"""The report's ladder section: the rungs side by side (common effects, site effects),
compared by PSIS-LOO with their Pareto k, and leave one site out."""

import pandas as pd

from replication_ladder.models.parameter_names import parse
from replication_ladder.report import figures, loaders
from replication_ladder.report import html as fragments
from replication_ladder.report.dataset import Section
from replication_ladder.report.tables import log_score_units


class LadderSection(Section):
    """The rungs side by side and compared."""

    def common_effects(self) -> pd.DataFrame:
        """Common (population-level) effects of every rung, side by side."""
        rows = []
        for model in self.report.models:
            auxiliary = set(self.report.settings["auxiliary"][model])
            for name, row in self.report.summary(model).iterrows():
                parameter = parse(name)
                if parameter.group is not None or parameter.variable in auxiliary:
                    continue
                rows.append(
                    {"model": model, "parameter": name, **row[["mean", "ci_low", "ci_high"]]}
                )
        return pd.DataFrame(rows)

    def forest_figure(self):
        return self.report.save(
            figures.forest(self.common_effects(), "Common effects across the ladder"),
            "ladder.forest",
        )

    def site_effects(self) -> pd.DataFrame | None:
        """The treatment effect in each site: every rung with a random slope on it and the
        two-stage estimates (for a dataset with a replication block and a site column)."""
        treatment, site = self.report.treatment, self.report.spec.get("site")
        if treatment is None or site is None or self.report.replication is None:
            return None
        rows = []
        for model, effect in self.report.replication["models"].items():
            for entry in (effect.get("site_effects") or {}).get("sites", []):
                rows.append({"source": model, **entry})
        if self.report.site_estimates is not None:
            z = _normal_quantile(self.report.settings["ci_prob"])
            for _, row in self.report.site_estimates.iterrows():
                rows.append(
                    {
                        "source": "two-stage",
                        "site": row["site"],
                        "mean": row["effect"],
                        "ci_low": row["effect"] - z * row["se"],
                        "ci_high": row["effect"] + z * row["se"],
                    }
                )
        return pd.DataFrame(rows) if rows else None

    def site_figure(self):
        frame = self.site_effects()
        fig = figures.site_forest(
            frame,
            self.report.spec["site"],
            f"effect of {self.report.treatment}",
            self.report.settings["ci_prob"],
        )
        self.report.table(frame, "ladder.site_effects")
        return self.report.save(fig, "ladder.site_effects")

    def loo_table(self) -> pd.DataFrame:
        return self.report.table(self.report.loo, "ladder.loo", log_score_units(self.report.loo))

    def loo_warnings(self) -> str:
        return fragments.loo_warnings(self.report.loo)

    def loo_figure(self):
        compared = self.report.loo[self.report.loo["comparable"]]
        return self.report.save(figures.loo_comparison(compared), "ladder.loo")

    def pareto_k_figure(self):
        compared = self.report.loo[self.report.loo["comparable"]]
        threshold = float(compared["pareto_k_threshold"].iloc[0])
        ks = {
            m: loaders.read_parquet(self.report.fit(m, "loo_pointwise"))["pareto_k_psis"].to_numpy()
            for m in compared.index
        }
        return self.report.save(figures.pareto_k(ks, threshold), "ladder.pareto_k")

    def loso_table(self) -> pd.DataFrame:
        return self.report.table(self.report.loso, "ladder.loso", log_score_units(self.report.loso))

    def loso_figure(self):
        best = self.report.loso.index[0]
        by_site = self.report.loso_sites.pivot(index="site", columns="model", values="elpd_site")
        by_site = by_site.reindex(self.report.record["site_levels"])
        diff = by_site.sub(by_site[best], axis=0).drop(columns=best)
        return self.report.save(
            figures.loso_differences(diff, best, self.report.spec["site"]), "ladder.loso"
        )


def _normal_quantile(ci_prob: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(0.5 + ci_prob / 2))
