"""The report's data section: what was kept, how the outcome clusters, the outcome by arm."""

import pandas as pd

from replication_ladder.data.design_effects import (
    intraclass_correlation,
    site_design_effect_of_treatment,
)
from replication_ladder.report import figures
from replication_ladder.report.dataset import Section
from replication_ladder.report.tables import printable


class DataSection(Section):
    """The data: rows kept, clustering, the outcome by arm."""

    def data_table(self) -> pd.DataFrame:
        record = self.report.record
        rows = {
            "rows in the raw file": record["rows_raw"],
            "rows kept": record["rows_kept"],
            "rows removed": record["rows_removed"],
        }
        for column, count in record["removed_by_column"].items():
            rows[f"  missing {column}"] = count
        if record.get("sites"):
            rows[f"sites ({self.report.spec['site']})"] = record["sites"]
        if record.get("participants"):
            rows[f"participants ({self.report.spec['participant']})"] = record["participants"]
        contrast = record.get("contrast")
        if contrast:
            labels = (self.report.spec.get("replication") or {}).get("labels")
            control, treated = labels or (contrast["control"], contrast["treatment"])
            rows["treatment effect"] = f"{contrast['column']}: {treated} minus {control}"
        return pd.DataFrame({"value": {k: str(v) for k, v in rows.items()}})

    def clustering(self) -> pd.DataFrame | None:
        """The intraclass correlation of the outcome within participants and within sites,
        the design effect each implies for a mean, and for the treatment effect (which
        differs for sites: their intercepts cancel in a contrast randomised within them)."""
        if self.report.record.get("level") == "summary":
            return None  # one row per site: nothing clusters
        name = self.report.outcome[0]
        rows = {}
        participant, site = self.report.spec.get("participant"), self.report.spec.get("site")
        if participant and name in self.report.data:
            keys = (
                self.report.data[[site, participant]].astype(str).agg(":".join, axis=1)
                if site
                else self.report.data[participant]
            )
            rows["participant"] = intraclass_correlation(self.report.data[name], keys)
        if participant and name in self.report.data:
            # The condition varies between participants: their clustering is the effect's.
            rows["participant"]["treatment_design_effect"] = rows["participant"]["design_effect"]
        if site and name in self.report.data:
            rows["site"] = intraclass_correlation(self.report.data[name], self.report.data[site])
            rows["site"]["treatment_design_effect"] = self._site_design_effect_of_treatment()
        if not rows:
            return None
        return self.report.table(pd.DataFrame(rows).T.rename_axis("grouping"), "ladder.clustering")

    def _site_design_effect_of_treatment(self) -> float | None:
        """From the sites' heterogeneity of the effect (REML tau^2 of the site estimates),
        not from the outcome's ICC: site intercepts cancel in a within-site contrast."""
        sites = self.report.site_estimates
        reference = (self.report.replication or {}).get("random_effects")
        if sites is None or reference is None:
            return None
        return site_design_effect_of_treatment(sites["se"], reference["tau2"])

    def outcome_table(self) -> pd.DataFrame:
        """Count, mean and SD of the outcome by arm (or its description), in its unit."""
        name, _ = self.report.outcome
        data = self.report.data
        if name not in data:
            return pd.DataFrame()
        if self.report.treatment in data:
            frame = data.groupby(self.report.treatment, observed=True)[name].agg(
                ["count", "mean", "std"]
            )
        else:
            frame = data[[name]].describe().T
        unit = self.report.settings["outcome"]["unit"]
        return printable(frame, {str(c): unit for c in frame.columns if c != "count"})

    def outcome_figure(self):
        name, values = self.report.outcome
        data = self.report.data
        if self.report.treatment in data and name in data:
            groups = [
                (
                    f"{self.report.treatment} = {level}",
                    data.loc[data[self.report.treatment] == level, name].to_numpy(),
                )
                for level in sorted(data[self.report.treatment].dropna().unique())
            ]
            title = f"{name} by {self.report.treatment}"
        else:
            groups, title = [("all rows", values)], name
        return self.report.save(
            figures.outcome_histogram(groups, self.report.outcome_label, title), "ladder.outcome"
        )
