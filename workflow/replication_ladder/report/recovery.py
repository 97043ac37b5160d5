"""The report's recovery section (synthetic data): estimates against the true values."""

import pandas as pd

from replication_ladder.report import figures
from replication_ladder.report import html as fragments
from replication_ladder.report.dataset import Section


class RecoverySection(Section):
    """Estimates against the truth of synthetic data."""

    def recovery_table(self) -> pd.DataFrame:
        return self.report.table(self.report.recovery, "ladder.recovery")

    def recovery_sentence(self) -> str:
        return fragments.recovery_sentence(self.report.recovery, self.report.settings["ci_prob"])

    def recovery_figure(self):
        parameter = self.report.recovery["parameter"]
        per_level = parameter.str.contains("[", regex=False) & parameter.str.contains(
            "|", regex=False
        )
        fig = figures.forest(
            self.report.recovery[~per_level], "Estimated against true values", truth=True
        )
        return self.report.save(fig, "ladder.recovery")
