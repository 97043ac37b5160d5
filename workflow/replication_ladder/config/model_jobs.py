"""The params of the jobs that fit and score rungs."""

from replication_ladder.base.hashing import canonical_hash
from replication_ladder.base.seeds import derive_seed


class ModelJobs:
    """A part of `Ladder` (config/ladder.py): the params of the jobs that fit and score rungs."""

    def model_spec(self, dataset: str, model: str) -> dict:
        """Everything a fit's draws and summary depend on; its hash is the model's config
        hash. Convergence thresholds and strictness are not in it: they judge a fit
        without changing it, so changing them must not rerun finished fits."""
        entry = self.rung(dataset, model)
        replication = self.dataset(dataset)["replication"] or {}
        spec = {
            "dataset": dataset,
            "model": model,
            "kind": entry["kind"],
            "level": self.rung_level(dataset, model),
            "formula": entry.get("formula"),
            "family": self.family(dataset, model),
            "builder": entry.get("builder"),
            "priors": entry["priors"],
            # Terms without a stated prior get the outcome-scale rule (outcome_priors.py).
            "outcome_range": self.dataset(dataset)["outcome"]["range"],
            "effect_size": self.dataset(dataset)["effect_size"],
            "sampling": self.sampling(dataset, model),
            "seed": derive_seed(self.seed, dataset, model),
            "ci_prob": self.raw["ci_prob"],
            # The pooled effect's row is named after the treatment column in every rung.
            "treatment": replication.get("treatment"),
            "site": self.dataset(dataset)["site"],
            "participant": self.dataset(dataset)["participant"],
        }
        spec["config_sha256"] = canonical_hash(spec)
        return spec

    def fit_settings(self) -> dict:
        """How a fit is judged (a job param; not in the model's hash)."""
        return {
            "convergence": self.raw["convergence"],
            "strict": self.raw["strict_convergence"],
        }

    def loo_settings(self, dataset: str) -> dict:
        """LOO's settings, with the k-fold split shared by every rung of the dataset:
        a seed of the dataset's own and the participant column to group rows by."""
        return {
            **self.raw["loo"],
            "kfold_seed": derive_seed(self.seed, dataset, "kfold"),
            "kfold_group": self.dataset(dataset)["participant"],
        }

    def refits_in_loo(self, dataset: str, model: str) -> int:
        """Most refits a rung's LOO job may run for its remedy (sizes its resources)."""
        loo = self.raw["loo"]
        if loo["remedy"] == "none":
            return 0
        return max(loo["max_reloo"], loo["kfold_folds"])

    def comparison_spec(self, dataset: str) -> dict:
        """Which rungs the LOO table compares, and why the others are left out."""
        rows = self.row_models(dataset)
        kinds = {m: self.likelihood_kind(dataset, m) for m in rows}
        main = "continuous" if "continuous" in kinds.values() else "discrete"
        excluded = {
            m: "fitted to per-site estimates, not to the rows: another likelihood"
            for m in self.models(dataset)
            if m not in rows
        }
        excluded |= {
            m: f"a {kind} likelihood: its log score is not on the scale of the {main} ones"
            for m, kind in kinds.items()
            if kind != main
        }
        return {
            "dataset": dataset,
            "compared": [m for m in rows if kinds[m] == main],
            "excluded": excluded,
        }

    def prior_predictive_spec(self, dataset: str) -> dict:
        """What the prior predictive check of a dataset's ladder needs (a job param: a
        change of any rung's priors or of the settings reruns it)."""
        spec = self.dataset(dataset)
        return {
            "dataset": dataset,
            "response": self.response(dataset),
            "range": spec["outcome"]["range"],
            "summary": dataset in self.summary_datasets,
            "effect_size": spec["effect_size"],
            "settings": dict(self.raw["prior_predictive"]),
            "models": {m: self.model_spec(dataset, m) for m in self.models(dataset)},
        }

    def model_averaging_spec(self, dataset: str) -> dict:
        """What the model-averaged meta-analysis needs (a job param)."""
        rung = self.meta_analysis_rung(dataset)
        return {
            "dataset": dataset,
            "rung": self.model_spec(dataset, rung),
            **self.raw["model_averaging"],
            "ci_prob": self.raw["ci_prob"],
            "seed": derive_seed(self.seed, dataset, "model_averaging"),
        }
