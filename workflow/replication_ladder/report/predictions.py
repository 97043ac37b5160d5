"""The report's predictions section: each rung's predictions for new rows, against the
observed values where they are known."""

import pandas as pd

from replication_ladder.report import figures
from replication_ladder.report import html as fragments
from replication_ladder.report.dataset import Section


class PredictionsSection(Section):
    """Predictions for new rows."""

    def predictions_sentence(self) -> str:
        predict = self.report.spec["predict"]
        origin = (
            "rows held out of the synthetic data"
            if "holdout" in predict
            else f"the rows of {predict['file']}"
            if "file" in predict
            else "a grid over " + ", ".join(predict["grid"])
        )
        first = next(iter(self.report.predictions.values()))
        sentence = f"{len(first)} new rows: {fragments.escape(origin)}."
        if "covered" in first:
            parts = [
                f"{m} {t['covered'].sum()} of {len(t)}" for m, t in self.report.predictions.items()
            ]
            sentence += (
                f" Observed values inside the {100 * self.report.settings['ci_prob']:.0f}% "
                f"prediction interval: {'; '.join(parts)}."
            )
        return sentence

    def predictions_table(self, model: str) -> pd.DataFrame:
        return self.report.table(self.report.predictions[model], f"{model}.predictions")

    def predictions_figure(self):
        tables = self.report.predictions
        if "observed" in next(iter(tables.values())):
            fig = figures.predictions_against_truth(tables, self.report.settings["ci_prob"])
        else:
            fig = figures.predictions_along_grid(
                tables,
                self.report.spec["predict"]["grid"],
                self.report.outcome[0],
                self.report.settings["ci_prob"],
            )
        return self.report.save(fig, "ladder.predictions")
