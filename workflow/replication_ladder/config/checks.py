"""The config's semantic checks: what the schema cannot say (columns a formula names,
sources, the verdict's settings, predictions), each error naming its key. Each takes
the `Ladder` being built (config/ladder.py calls `check` last)."""

from replication_ladder.base.errors import ConfigError
from replication_ladder.config.datasets import converts_original
from replication_ladder.config.schema import key_path
from replication_ladder.data.columns import column_type
from replication_ladder.data.readers import FORMATS, source_format
from replication_ladder.models.prior_spec import Prior


def check(ladder) -> None:
    if "index" in ladder.datasets or "sbc" in ladder.datasets:
        raise ConfigError(
            "config key datasets: the names 'index' and 'sbc' are reserved (report pages)"
        )
    for name in ladder.datasets:
        check_dataset(ladder, name)
    for name in ladder.raw["sbc"]["datasets"]:
        if name not in ladder.raw["datasets"]:
            raise ConfigError(
                f"config key sbc.datasets: {name!r} is not a dataset "
                f"(datasets: {', '.join(ladder.datasets)})"
            )


def check_dataset(ladder, name: str) -> None:
    spec = ladder.dataset(name)
    where = key_path("datasets", name)
    columns = spec["columns"]
    check_source(ladder, name)
    for key in ("dropna", "filter"):
        for column in spec[key]:
            if column not in columns:
                raise ConfigError(f"{where}.{key}: {column!r} is not in {where}.columns")
    for original, renamed in spec["rename"].items():
        if renamed not in columns:
            raise ConfigError(f"{where}.rename.{original}: {renamed!r} is not in {where}.columns")
    for key in ("site", "participant"):
        column = spec[key]
        if column is not None and column not in columns:
            raise ConfigError(f"{where}.{key}: {column!r} is not in {where}.columns")
    if spec["site"] is not None and column_type(columns[spec["site"]]) != "category":
        raise ConfigError(f"{where}.site: column {spec['site']!r} must have type category")
    if spec["replication"]:
        check_replication(ladder, name)
    check_design(spec, where)
    for column in spec["moderators"]:
        if column not in spec["columns"]:
            raise ConfigError(f"{where}.moderators: {column!r} is not in {where}.columns")
    if "summary" in spec:
        check_summary(spec, where)
    for model, entry in spec["models"].items():
        check_model(ladder, name, model, entry)
    rows = ladder.row_models(name)
    if not rows:
        raise ConfigError(f"{where}.models: at least one rung must model the rows")
    responses = {m: ladder.model_columns(name, m)[0] for m in rows}
    if len(set(responses.values())) > 1:
        listed = ", ".join(f"{m}: {r}" for m, r in responses.items())
        raise ConfigError(
            f"{where}.models: the rungs model different outcomes "
            f"({listed}); a ladder compares models of one outcome"
        )
    check_predict(ladder, name)


def check_summary(spec: dict, where: str) -> None:
    """A summary file's form gives the effect sizes it can (effect_sizes.FORM_UNITS)."""
    from replication_ladder.data.effect_sizes import FORM_UNITS
    from replication_ladder.data.summary_files import summary_form

    form, unit = summary_form(spec["summary"]), spec["effect_size"]
    allowed = FORM_UNITS.get(form)
    if allowed is not None and unit not in allowed:
        raise ConfigError(
            f"{where}.effect_size: {unit} from a summary of the {form} form; it gives "
            f"{', '.join(allowed)}"
        )


def check_design(spec: dict, where: str) -> None:
    """A declared design needs participants, and names declared columns, once each."""
    within, between = spec["design"]["within"], spec["design"]["between"]
    if (within or between) and spec["participant"] is None:
        raise ConfigError(
            f"{where}.design: a design within or between participants needs {where}.participant"
        )
    for column in [*within, *between]:
        if column not in spec["columns"]:
            raise ConfigError(f"{where}.design: {column!r} is not in {where}.columns")
    for column in set(within) & set(between):
        raise ConfigError(f"{where}.design: {column!r} is declared both within and between")


def check_source(ladder, name: str) -> None:
    source = ladder.dataset(name)["source"]
    where = key_path("datasets", name, "source")
    url = source.get("url", "https://")
    if not (url.startswith("https://") or (ladder.raw["allow_http"] and url.startswith("http://"))):
        raise ConfigError(
            f"{where}.url: only https:// URLs are fetched "
            f"(set allow_http: true for a local http mirror): {url!r}"
        )
    if "generator" in source:
        from replication_ladder.data.synthetic import check_generator_params

        check_generator_params(source["generator"], source["params"], where)
        if "read" in source:
            raise ConfigError(f"{where}.read: a generator writes CSV; there is nothing to read")
        return
    try:
        source_format(source)
    except ValueError as error:
        raise ConfigError(
            f"{where}: {error}; set {where}.read.format to one of {', '.join(FORMATS)}"
        ) from None


def check_replication(ladder, name: str) -> None:
    spec = ladder.dataset(name)
    replication = spec["replication"]
    where = key_path("datasets", name, "replication")
    treatment = replication["treatment"]
    columns = spec["columns"]
    if name in ladder.summary_datasets:
        # No treatment column: the name is that of the pooled effect.
        if treatment in (*columns, "theta"):
            raise ConfigError(
                f"{where}.treatment: in a summary-level dataset it names the pooled "
                f"effect, and may not be {treatment!r} (a column or a model variable)"
            )
        check_test_prior(ladder, name)
        return
    if treatment not in columns:
        raise ConfigError(f"{where}.treatment: {treatment!r} is not in datasets.{name}.columns")
    if spec["effect_size"] != "raw":
        raise ConfigError(
            f"datasets.{name}.effect_size: {spec['effect_size']} for a trial-level dataset "
            "with a verdict: its rungs estimate the effect in the outcome's units and the "
            "verdict compares them; keep raw (a summary-level dataset may use d or g)"
        )
    declared = columns[treatment]
    kind = column_type(declared)
    if kind not in ("binary", "category"):
        raise ConfigError(
            f"{where}.treatment: column {treatment!r} has type {kind}; a treatment must be "
            "binary (0/1) or a category with two levels"
        )
    contrast = replication.get("contrast")
    if contrast is None:
        raise ConfigError(
            f"{where}.contrast: say which level of {treatment!r} is the control and which "
            "the treatment, as they appear in the data: contrast: [control, treatment] "
            "(the effect is treatment minus control)"
        )
    if contrast[0] == contrast[1]:
        raise ConfigError(f"{where}.contrast: the two levels must differ: {contrast}")
    if kind == "binary" and sorted(contrast) != [0, 1]:
        raise ConfigError(f"{where}.contrast: a binary treatment's levels are 0 and 1")
    if isinstance(declared, dict):
        levels = [str(level) for level in declared["levels"]]
        for level in contrast:
            if str(level) not in levels:
                raise ConfigError(
                    f"{where}.contrast: {level!r} is not among the declared levels of "
                    f"{treatment!r} ({', '.join(levels)})"
                )
    check_test_prior(ladder, name)


def check_test_prior(ladder, name: str) -> None:
    spec = ladder.dataset(name)
    replication = spec["replication"]
    where = key_path("datasets", name, "replication")
    if converts_original(spec) and spec["site"] is None:
        raise ConfigError(
            f"{where}.original.unit: converting the original's effect to the data's unit "
            "takes the sites' pooled SD: the dataset needs a site column"
        )
    if "test_prior" not in replication:
        return  # the default, in the data's unit, comes with the converted original
    prior = replication["test_prior"]
    Prior(prior).check(f"{where}.test_prior")
    if any(isinstance(value, dict) for value in prior.values()):
        raise ConfigError(
            f"{where}.test_prior: the test's prior must have fixed parameters "
            "(a Bayes factor needs its density at zero)"
        )
    verdict = replication["verdict_model"]
    if verdict is not None and verdict not in spec["models"]:
        raise ConfigError(
            f"{where}.verdict_model: {verdict!r} is not a rung of datasets.{name}.models"
        )
    if verdict is not None and ladder.effect_scale(name, verdict) != replication["scale"]:
        raise ConfigError(
            f"{where}.verdict_model: {verdict!r} is a {ladder.family(name, verdict)} rung: its "
            f"{replication['treatment']!r} coefficient is on the "
            f"{ladder.effect_scale(name, verdict)} scale, while the test prior, the original "
            f"effect and the SESOI are on the {replication['scale']} scale "
            f"({where}.scale); name a rung on that scale, or say which scale they are on"
        )


def check_predict(ladder, dataset: str) -> None:
    spec = ladder.dataset(dataset)
    predict = spec["predict"]
    where = key_path("datasets", dataset, "predict")
    if predict is None:
        return
    if "holdout" in predict and not spec["source"].get("params", {}).get("holdout"):
        raise ConfigError(
            f"{where}.holdout: datasets.{dataset}.source.params.holdout "
            "must hold some rows out (a synthetic dataset)"
        )
    if "grid" in predict:
        given, wanted = set(predict["grid"]), set(ladder.predictors(dataset))
        for column in sorted(wanted - given):
            raise ConfigError(f"{where}.grid: predictor column {column!r} is missing")
        for column in sorted(given - wanted):
            raise ConfigError(
                f"{where}.grid: {column!r} is not a predictor of any rung "
                f"(predictors: {', '.join(sorted(wanted))})"
            )


def check_model(ladder, dataset: str, model: str, entry: dict) -> None:
    from replication_ladder.models.samplers import check_sampler_available

    where = ladder.where(dataset, model)
    kind = ladder.kind(dataset, model)
    sampling = ladder.sampling(dataset, model)
    try:
        check_sampler_available(sampling["sampler"], where)
    except Exception as error:
        raise ConfigError(str(error)) from None
    if sampling["thin"] > sampling["draws"]:
        raise ConfigError(
            f"{where}.sampling: thin {sampling['thin']} keeps no draw of {sampling['draws']}"
        )
    kind.check(entry, ladder.dataset(dataset), ladder.model_spec(dataset, model), where)
