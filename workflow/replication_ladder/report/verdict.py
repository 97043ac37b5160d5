"""The report's verdict section: every rung's pooled effect beside the original and the
published one, the Bayes factor's prior and posterior, and how the Bayes factor moves
with the prior."""

import pandas as pd

from replication_ladder.report import figures, loaders
from replication_ladder.report import html as fragments
from replication_ladder.report.dataset import Section
from replication_ladder.verdict import bayes_factors as bf
from replication_ladder.verdict.design_analysis import GROUPS


class VerdictSection(Section):
    """The replication verdict and its Bayes factors."""

    def verdict_numbers(self) -> str:
        return fragments.verdict_numbers(self.report.replication)

    def verdict_table(self) -> pd.DataFrame:
        keys = ("scale", "mean", "ci_low", "ci_high", "p_positive", "p_at_least_original", "bf01")
        rows = {
            m: {k: e.get(k) for k in keys} for m, e in self.report.replication["models"].items()
        }
        table = pd.DataFrame(rows).T
        table.index.name = "model"
        return self.report.table(table, "ladder.verdict")

    def verdict_figure(self):
        """Every rung's pooled effect beside the original and the published estimate."""
        report = self.report.replication
        published = report["published"]
        rows = [
            {
                "label": "original study",
                "mean": report["original"]["effect"],
                "color": figures.TRUE_COLOR,
            }
        ]
        if published:
            rows.append(
                {
                    "label": "published meta-analysis",
                    "mean": published["estimate"],
                    "ci_low": published["ci_low"],
                    "ci_high": published["ci_high"],
                    "color": figures.REFERENCE_COLOR,
                    "reference": True,
                }
            )
        for (model, effect), color in zip(
            report["models"].items(), figures.MODEL_COLORS, strict=False
        ):
            shown = effect.get("outcome_scale") or effect
            note = " (outcome scale)" if effect.get("outcome_scale") else ""
            star = " *" if model == report["verdict_model"] else ""
            rows.append(
                {
                    "label": f"{model}{note}{star}",
                    "color": color,
                    **{k: shown[k] for k in ("mean", "ci_low", "ci_high")},
                }
            )
        ci = f"{100 * report['ci_prob']:.0f}% intervals"
        xlabel = f"effect of {report['treatment']} on {self.report.outcome_label} ({ci})"
        fig = figures.effects_on_one_axis(
            rows,
            xlabel,
            "Pooled effects: every rung, the original and the published (* the verdict's rung)",
        )
        return self.report.save(fig, "ladder.verdict")

    def savage_dickey_figure(self):
        """The verdict rung's effect: its prior and posterior at zero, when its prior is
        one the Savage-Dickey ratio can use (fixed, not hierarchical)."""
        model = self.report.replication["verdict_model"]
        effect = self.report.replication["models"][model]
        if effect.get("savage_dickey") is None:
            return None
        treatment = self.report.replication["treatment"]
        fitted = loaders.read_posterior(self.report.fit(model, "posterior"), groups=("posterior",))
        posterior = fitted["posterior"][treatment].values.ravel()
        result = effect["savage_dickey"]
        title = (
            f"{model}: the effect of {treatment}; the ratio of its posterior to its prior "
            f"density at zero is the Savage-Dickey {bf.stated(result)}"
        )
        fig = figures.savage_dickey(
            posterior, effect["prior"], result["density"]["log_density"], treatment, title
        )
        return self.report.save(fig, "ladder.savage_dickey")

    def robustness_figure(self):
        sensitivity = self.report.replication["sensitivity"]
        curves = {"two-sided": sensitivity["curve"]}
        if sensitivity.get("one_sided"):
            curves[f"one-sided ({sensitivity['direction']})"] = sensitivity["one_sided"]
        test = self.report.replication["test_prior"]
        point = None
        prior = test.get("prior", {})
        if prior.get("dist") == "Normal" and prior.get("mu", 0) == 0:
            point = {"scale": prior["sigma"] / sensitivity["unit"], "bf01": test["bf01"]}
        self.report.table(
            pd.DataFrame(sensitivity["curve"]).drop(columns=["prior"]), "ladder.sensitivity"
        )
        return self.report.save(
            figures.robustness(curves, point, sensitivity["unit_is"]), "ladder.robustness"
        )

    @property
    def design(self) -> dict | None:
        """The verdict's operating characteristics (design_analysis), where simulated,
        scenarios and verdicts in the order they are read (JSON keeps them sorted)."""
        design = loaders.read_json(self.report.inputs.get("design_analysis"))
        if design is None:
            return None
        groups = list(dict.fromkeys(GROUPS.values()))
        design["scenarios"] = {
            name: {**scenario, "grouped": {g: scenario["grouped"][g] for g in groups}}
            for name in ("zero", "original", "d33")
            if (scenario := design["scenarios"].get(name))
        }
        return design

    def design_sentence(self) -> str:
        return fragments.design_analysis(self.design)

    def design_table(self) -> pd.DataFrame:
        """Per true effect, the share of simulated replications with each verdict."""
        rows = {
            f"{name} ({scenario['true_effect']:.3g})": {
                **{f"P({group})": share for group, share in scenario["grouped"].items()},
                "median log BF10": scenario["log_bf10_quantiles"]["q50"],
            }
            for name, scenario in self.design["scenarios"].items()
        }
        table = pd.DataFrame(rows).T.rename_axis("true effect")
        return self.report.table(table, "ladder.operating_characteristics")

    def design_figure(self):
        fig = figures.operating_characteristics(self.design["scenarios"])
        return self.report.save(fig, "ladder.operating_characteristics")

    def moderator_table(self) -> pd.DataFrame | None:
        """Each rung's interaction of the treatment with each declared moderator (centred
        or not, as its formula has it): mean and interval."""
        treatment, moderators = self.report.treatment, self.report.spec["moderators"]
        if not moderators or treatment is None:
            return None
        rows = {}
        for model in self.report.settings["models"]:
            summary = self.report.summary(model)
            for moderator in moderators:
                for term in (f"{treatment}:center({moderator})", f"{treatment}:{moderator}"):
                    if term in summary.index:
                        rows[(model, moderator)] = summary.loc[term, ["mean", "ci_low", "ci_high"]]
        if not rows:
            return None
        table = pd.DataFrame(rows).T.rename_axis(["model", "moderator"])
        return self.report.table(table, "ladder.moderators")
