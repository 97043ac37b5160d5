"""Write a config file for a study of one's own: `make new-dataset FILE=... NAME=...` (or
the `ladder-new-dataset` command).

The file is read with the workflow's own readers (any format it reads), each column's
type is inferred, the site and participant columns are guessed (or given), and a
commented dataset block is written with the standard ladder for the outcome, treatment
and site: fixed effects, a random intercept per site, a random intercept and slope per
site, and a random intercept per participant when ratings repeat, each with its priors
stated on the outcome's scale (replication_ladder.models.outcome_priors), the outcome's
range taken from the file. The result runs as it is (`make run CONFIG=config/NAME.yaml`)
and is meant to be edited.
"""

import argparse
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from replication_ladder.base.atomic import write_text
from replication_ladder.base.errors import DataError, LadderError
from replication_ladder.data.readers import FORMATS, read_table
from replication_ladder.data.sites import treatment_design
from replication_ladder.data.summary_files import site_rows, summary_form
from replication_ladder.data.validation import MISSING
from replication_ladder.models.families import FAMILIES, OUTCOME_KINDS
from replication_ladder.models.outcome_priors import outcome_scale_priors, rung_priors
from replication_ladder.scaffold import summary as scaffold_summary

SITE_HINTS = ("site", "lab", "study", "school", "centre", "center", "country", "clinic", "city")
PARTICIPANT_HINTS = ("participant", "subject", "uid", "pid", "person", "respondent", "id")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def model_name(column: str) -> str:
    """A column name as a formula can use it: lower case, letters, digits, underscores."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", column.strip()).strip("_").lower()
    return name if NAME.match(name) else f"x_{name}" if name else "column"


def infer_type(values: list[str], decimal: str) -> str:
    """number, integer, binary or category, from a column's cells."""
    present = [v.strip() for v in values if v.strip() not in MISSING]
    if not present:
        return "category"
    numbers = []
    for token in present:
        try:
            numbers.append(float(token.replace(",", ".") if decimal == "," else token))
        except ValueError:
            return "category"
    unique = set(numbers)
    if unique <= {0.0, 1.0} and len(unique) == 2:
        return "binary"
    if all(n.is_integer() for n in numbers):
        # Few distinct whole numbers: codes (a site, a condition), not a quantity.
        return (
            "category"
            if len(unique) <= max(2, len(numbers) // 20) and len(unique) <= 60
            else "integer"
        )
    return "number"


def _hinted(columns: list[str], hints: tuple[str, ...]) -> list[str]:
    return [c for c in columns if any(h == c or c.startswith(h) or c.endswith(h) for h in hints)]


def guess_site(types: dict[str, str], table: pd.DataFrame) -> str | None:
    """A category with 3 to 200 levels and several rows per level, named like a site."""
    candidates = [
        c
        for c, kind in types.items()
        if kind == "category"
        and 3 <= table[c].nunique() <= 200
        and table[c].nunique() * 5 <= len(table)
    ]
    hinted = _hinted(candidates, SITE_HINTS)
    return (hinted or candidates or [None])[0]


def guess_participant(types: dict[str, str], table: pd.DataFrame, exclude: set[str]) -> str | None:
    """An identifier column with many levels, each on a few rows (repeated measures)."""
    candidates = [
        c
        for c in table.columns
        if c not in exclude
        and 2 < table[c].nunique() < len(table)
        and len(table) / table[c].nunique() <= 50
    ]
    hinted = _hinted(candidates, PARTICIPANT_HINTS)
    return hinted[0] if hinted else None


def numeric(values: pd.Series, decimal: str) -> np.ndarray:
    """A column's cells as numbers (blanks and codes of missing values as NaN)."""
    text = values.astype(str).str.strip()
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    return pd.to_numeric(text.where(~text.isin(MISSING)), errors="coerce").to_numpy(float)


def rung(formula: str, priors: dict, terms: set[str], family: str) -> dict:
    return {"formula": formula, "family": family, "priors": rung_priors(priors, terms, family)}


# What each kind of outcome is modelled with (families.FAMILIES names it for each).
FAMILY_OF_KIND = {
    "rating": "gaussian",
    "time": "lognormal",
    "count": "negativebinomial",
    "binary": "bernoulli",
    "proportion": "beta",
}


@dataclass
class Study:
    """A study's file as the scaffold reads it: the table with columns renamed to
    formula names (labelled codes read as their labels) and each column's type."""

    path: Path
    fmt: str
    read: dict
    raw: object
    table: pd.DataFrame
    types: dict
    renamed: dict

    def pick(self, given: str | None, role: str) -> str | None:
        """A column given for a role, by its name in the file or in the formulas."""
        if given is None:
            return None
        chosen = self.renamed.get(given, given)
        if chosen not in self.types:
            raise LadderError(
                f"{self.path}: no column {given!r} for the {role} "
                f"(columns: {', '.join(self.raw.header)})"
            )
        return chosen

    def numbers(self, column: str) -> np.ndarray:
        return numeric(self.table[column], self.read.get("decimal", "."))


def read_study(path: Path, read: dict) -> tuple[Study | None, object, str]:
    """The file, and a Study of it unless it is a file of per-site summaries."""
    fmt = read.pop("format", None) or path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise LadderError(f"{path}: cannot tell the format from the extension; pass --format")
    raw = read_tolerant(path, fmt, read)
    renamed = {column: model_name(column) for column in raw.header}
    table = pd.DataFrame(
        {
            renamed[c]: [raw.value_labels.get(c, {}).get(v, v) for v in raw.cells[c]]
            for c in raw.header
        }
    )
    types = {
        renamed[c]: "category"
        if c in raw.value_labels
        else infer_type(raw.cells[c], read.get("decimal", "."))
        for c in raw.header
    }
    return Study(path, fmt, read, raw, table, types, renamed), raw, fmt


@dataclass
class Roles:
    """What each column is: the outcome, the treatment, the site, the participant, the
    moderators, and the common predictors of the ladder."""

    outcome: str
    treatment: str | None
    site: str | None
    participant: str | None
    moderators: list[str]
    predictors: list[str]


def choose_roles(study: Study, given: dict) -> Roles:
    """The roles given, and the rest guessed: the outcome the last numeric column, a
    site a category named like one, a participant an identifier on several rows."""
    names = list(study.types)
    outcome = study.pick(given.get("outcome"), "outcome") or next(
        (c for c in reversed(names) if study.types[c] in ("number", "integer")), None
    )
    if outcome is None:
        raise LadderError(f"{study.path}: no numeric column to take as the outcome; pass --outcome")
    treatment = study.pick(given.get("treatment"), "treatment")
    others = {c: k for c, k in study.types.items() if c not in (outcome, treatment)}
    site = study.pick(given.get("site"), "site") or guess_site(others, study.table)
    participant = study.pick(given.get("participant"), "participant") or guess_participant(
        study.types, study.table, {outcome, treatment, site}
    )
    moderators = [study.pick(m, "moderator") for m in given.get("moderators") or ()]
    taken = {outcome, treatment, site, participant, *moderators}
    predictors = [treatment] if treatment else []
    predictors += [c for c in names if c not in taken and study.types[c] in ("number", "binary")][
        : 4 - len(predictors)
    ]
    return Roles(outcome, treatment, site, participant, moderators, predictors)


def outcome_kind(values: np.ndarray, given: str | None) -> tuple[str, str]:
    """The outcome's kind (families.OUTCOME_KINDS) and why: given, or guessed from its
    values: 0/1 binary, inside (0, 1) a proportion, few whole numbers a rating, other
    whole numbers from 0 a count, positive and right-skewed a time, else a rating."""
    if given is not None:
        return given, "given (--outcome-kind)"
    present = values[np.isfinite(values)]
    unique = np.unique(present)
    whole = bool(np.all(present == np.round(present)))
    if set(unique) <= {0.0, 1.0}:
        return "binary", "guessed: its values are 0 and 1"
    if present.min() > 0 and present.max() < 1:
        return "proportion", "guessed: every value lies between 0 and 1"
    if whole and unique.size <= 11:
        return "rating", f"guessed: {unique.size} whole-number values"
    if whole and present.min() >= 0:
        return "count", "guessed: whole numbers from 0"
    skew = float(((present - present.mean()) ** 3).mean() / present.std() ** 3)
    if present.min() > 0 and skew > 1:
        return "time", f"guessed: positive and right-skewed (skewness {skew:.1f})"
    return "rating", "guessed: a continuous score"


def design_of(study: Study, roles: Roles) -> dict:
    """Whether participants have more than one row, and whether the treatment varies
    within them (sites.treatment_design)."""
    if roles.participant is None:
        return {"repeated": False, "within": False}
    keys = [roles.site, roles.participant] if roles.site else [roles.participant]
    rows = study.table.groupby(keys, observed=True).size()
    within = roles.treatment is not None and (
        treatment_design(study.table, roles.participant, roles.treatment, roles.site) == "within"
    )
    return {"repeated": bool(rows.max() > 1), "within": within}


def ladder(roles: Roles, design: dict, family: str, priors: dict) -> dict:
    """The standard ladder: fixed effects, a random intercept and slope per site, and
    with repeated measures the participants too (a slope each where the treatment varies
    within them); the moderators, centred, with their interaction with the treatment in
    the top rungs (the treatment's effect is then at their means)."""
    outcome, treatment, site, participant = (
        roles.outcome,
        roles.treatment,
        roles.site,
        roles.participant,
    )
    right = " + ".join(roles.predictors) or "1"
    common = {"Intercept", *roles.predictors}
    models = {"fixed": rung(f"{outcome} ~ {right}", priors, common, family)}
    if site is None:
        return models
    moderated = right + "".join(
        f" + center({m}) + {treatment}:center({m})" for m in roles.moderators if treatment
    )
    common_top = common | {
        term
        for m in roles.moderators
        if treatment
        for term in (f"center({m})", f"{treatment}:center({m})")
    }
    slope = treatment or "1"
    slopes = {f"{treatment}|{site}"} if treatment else set()
    models["random_intercept"] = rung(
        f"{outcome} ~ {right} + (1|{site})", priors, common | {f"1|{site}"}, family
    )
    models["random_slope"] = rung(
        f"{outcome} ~ {moderated} + ({slope}|{site})",
        priors,
        common_top | {f"1|{site}"} | slopes,
        family,
    )
    if participant is not None and design["repeated"]:
        person = f"({treatment}|{participant})" if design["within"] else f"(1|{participant})"
        person_terms = {f"1|{participant}"} | (
            {f"{treatment}|{participant}"} if design["within"] else set()
        )
        models["participant"] = rung(
            f"{outcome} ~ {moderated} + ({slope}|{site}) + {person}",
            priors,
            common_top | {f"1|{site}"} | slopes | person_terms,
            family,
        )
    return models


def scaffold(path: Path, name: str, *, read: dict | None = None, **given) -> str:
    """The text of a config file with one commented dataset block for `path`. `given`
    holds what the command line says: outcome, treatment, site, participant, moderators,
    outcome_kind, original_effect (and for a summary file arms, effect, se)."""
    if not NAME.match(name):
        raise LadderError(f"NAME {name!r}: use lower case letters, digits and underscores")
    read = {k: v for k, v in (read or {}).items() if v is not None}
    study, raw, fmt = read_study(path, read)
    summary = scaffold_summary.recognise(raw.header, given)
    if summary is not None:
        return summary_config(path, fmt, name, raw, read, *summary, given.get("original_effect"))
    scaffold_summary.refuse_summary_columns(raw.header, given)
    roles = choose_roles(study, given)
    kind, why_kind = outcome_kind(study.numbers(roles.outcome), given.get("outcome_kind"))
    family = FAMILY_OF_KIND[kind]
    design = design_of(study, roles)
    types = typed(study, roles, kind)
    values = study.numbers(roles.outcome)
    bounds = (float(np.nanmin(values)), float(np.nanmax(values)))
    line = bounds if FAMILIES[family].predictor_range(bounds) else None
    sds = {c: None if types[c] == "binary" else _sd(study.numbers(c)) for c in roles.predictors}
    for m in roles.moderators if roles.treatment else ():
        sds |= {f"center({m})": _sd(study.numbers(m)), f"{roles.treatment}:center({m})": None}
    priors = outcome_scale_priors(
        line,
        sds,
        treatment=roles.treatment,
        site=roles.site,
        participant=roles.participant,
        family=family,
        levels=int(np.unique(values[np.isfinite(values)]).size),
    )
    block = dataset_block(
        study, roles, design, kind, types, bounds, ladder(roles, design, family, priors)
    )
    if roles.treatment is not None and given.get("original_effect") is not None:
        block["replication"] = replication_block(study, roles, types, given["original_effect"])
        if kind != "rating":
            block["replication"]["scale"] = FAMILIES[family].effect_scale
    notes = {"kind": f"{kind}, {why_kind}: every rung is {family}", "design": design}
    return header(name, path, roles, bounds, notes) + config_yaml(name, block)


def _sd(values: np.ndarray) -> float | None:
    present = values[np.isfinite(values)]
    return float(present.std()) if present.size > 1 else None


def typed(study: Study, roles: Roles, kind: str) -> dict:
    """The declared types: the site and participant categories, the treatment binary or
    a category, the outcome a number (a rating's whole numbers too: never codes)."""
    types = dict(study.types)
    for column in (roles.site, roles.participant):
        if column is not None:
            types[column] = "category"
    if roles.treatment is not None and types[roles.treatment] not in ("binary", "category"):
        types[roles.treatment] = "category"
    if kind in ("count", "binary"):
        types[roles.outcome] = "integer" if kind == "count" else "binary"
    elif types[roles.outcome] not in ("number", "integer"):
        types[roles.outcome] = "number"
    return types


def dataset_block(study, roles, design, kind, types, bounds, models) -> dict:
    used = {roles.outcome, roles.treatment, roles.site, roles.participant, *roles.moderators}
    used |= set(roles.predictors)
    block = {
        "description": f"scaffolded from {study.path.name}; edit me",
        "source": _source(study.path, study.fmt, study.read),
        "columns": {c: types[c] for c in study.types if c in used},
        "outcome": {"kind": kind, "range": list(bounds)},
        # Only the declared columns are read: rename those alone.
        "rename": {o: n for o, n in study.renamed.items() if o != n and n in used},
        "site": roles.site,
        "participant": roles.participant,
        "models": models,
    }
    if design["within"]:
        block["design"] = {"within": [roles.treatment]}
    if roles.moderators:
        block["moderators"] = list(roles.moderators)
    if not block["rename"]:
        del block["rename"]
    return block


def replication_block(study: Study, roles: Roles, types: dict, original_effect: float) -> dict:
    treatment = roles.treatment
    original_name = {new: old for old, new in study.renamed.items()}
    present = set(study.table[treatment][study.table[treatment].str.strip() != ""])
    labelled = study.raw.value_labels.get(original_name[treatment], {}).values()
    # Labels in the order of their codes (the levels' order), else sorted.
    levels = [v for v in labelled if v in present] or sorted(present)
    return {
        "treatment": treatment,
        "contrast": [int(float(v)) for v in levels[:2]]
        if types[treatment] == "binary"
        else levels[:2],
        "original": {"effect": float(original_effect)},
    }


def header(name: str, path: Path, roles: Roles, bounds, notes: dict) -> str:
    design = notes["design"]
    if roles.participant is None:
        participants = "none: no participant rung"
    elif not design["repeated"]:
        participants = "one row each: no participant level, no participant rung"
    elif design["within"]:
        participants = "each in both conditions (design: within): a slope each"
    else:
        participants = "several rows each: a random intercept each"
    return (
        f"# A config for {name}, scaffolded from {path} by `make new-dataset`.\n"
        f"# Run it: make run CONFIG=<this file>. Check every guess below:\n"
        f"#   columns   the types inferred from the file (number, integer, binary, category)\n"
        f"#   outcome   {roles.outcome!r}: {notes['kind']}\n"
        f"#   site      {roles.site!r} (guessed unless given)\n"
        f"#   participant {roles.participant!r}: {participants}\n"
        f"#   moderators {roles.moderators or 'none'} (centred; with the treatment in the\n"
        f"#             top rungs, so that its effect is the one at their means)\n"
        f"#   outcome.range {list(bounds)}: the smallest and largest {roles.outcome} in the\n"
        f"#             file; set it to the scale's true ends. Every prior below is stated\n"
        f"#             on it, on the family's scale (span s: the log of a time, logit +-4\n"
        f"#             for a probability): Intercept Normal(midpoint, s/4), the treatment\n"
        f"#             Normal(0, s/8), another predictor Normal(0, s/8 / (2 SD)), SDs of\n"
        f"#             site intercepts HalfNormal(s/8) (summing to zero: ZeroSumNormal)\n"
        f"#             and slopes HalfNormal(s/16), of participants HalfNormal(s/6), a\n"
        f"#             gaussian's sigma HalfNormal(s/4) (models/outcome_priors.py and\n"
        f"#             models/families.py say why). The report's prior predictive check\n"
        f"#             shows what they imply.\n"
        f"#   replication  add one (treatment, contrast, original) for a verdict; see\n"
        f"#             config/README.md\n"
        f"# default_datasets: false runs this dataset alone, without the shipped ones.\n"
    )


def read_tolerant(path: Path, fmt: str, read: dict):
    """The file as the workflow will read it: strictly when its header allows, else
    with `headers: tidy` (an export with repeated or blank names), noted in `read`."""
    try:
        return read_table(path, fmt, read)
    except DataError as error:
        if "header has no name" not in str(error) and "duplicate column name" not in str(error):
            raise
    read["headers"] = "tidy"
    return read_table(path, fmt, read)


def _source(path: Path, fmt: str, read: dict) -> dict:
    source = {"path": str(path)}
    if read:
        source["read"] = dict(read)
    if fmt != path.suffix.lower().lstrip("."):
        source.setdefault("read", {})["format"] = fmt
    return source


def summary_config(path, fmt, name, raw, read, summary, unit, original_effect) -> str:
    """The config of a summary-level file (one row per site)."""
    rows, _ = site_rows(raw, summary["site"])
    table = pd.DataFrame({c: [raw.cells[c][i] for i in rows] for c in raw.header})
    numbers = table.drop(columns=[summary["site"]]).apply(
        lambda column: pd.to_numeric(column.str.strip(), errors="coerce")
    )
    scale, why = scaffold_summary.effect_scale(numbers, summary, unit)
    block = scaffold_summary.dataset_block(name, _source(path, fmt, read), summary, unit, scale)
    if original_effect is not None:
        block["replication"] = {"treatment": "treatment", "original": {"effect": original_effect}}
        if unit in scaffold_summary.VERDICT_SCALE:
            block["replication"]["scale"] = scaffold_summary.VERDICT_SCALE[unit]
    header = (
        f"# A config for {name}, scaffolded from {path} by `make new-dataset`: a file of\n"
        f"# per-site summaries ({len(rows)} sites). Run it: make run CONFIG=<this file>.\n"
        f"# Check every guess below:\n"
        f"#   summary      the columns read for each site ({summary_form(summary)} form)\n"
        f"#   effect_size  {unit}: the unit the rungs fit (effect_sizes.LABELS)\n"
        f"#   priors       RoBMA's: the pooled effect Normal(0, s), the SD of the sites'\n"
        f"#                effects InverseGamma(1, 0.15 s), with {why}\n"
        f"#   replication  add one (original: effect) for a verdict; see config/README.md\n"
        f"# default_datasets: false runs this dataset alone, without the shipped ones.\n"
    )
    return header + config_yaml(name, block)


class PlainDumper(yaml.SafeDumper):
    """YAML a person edits: a repeated prior written out each time, never as an anchor
    (`&id001`) and its aliases (`*id001`)."""

    def ignore_aliases(self, data) -> bool:
        return True


def config_yaml(name: str, block: dict) -> str:
    """A config file's body holding one dataset, without the shipped ones."""
    return yaml.dump(
        {"default_datasets": False, "datasets": {name: block}},
        Dumper=PlainDumper,
        sort_keys=False,
        allow_unicode=True,
    )


def arguments() -> argparse.ArgumentParser:
    """ladder-new-dataset's command line."""
    parser = argparse.ArgumentParser(
        prog="ladder-new-dataset",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "example:\n"
            "  ladder-new-dataset data/pens.sav pens --outcome rating --treatment pen \\\n"
            "      --site lab --participant subject --original-effect 0.82\n"
            "  make run CONFIG=config/pens.yaml\n\n"
            "Columns are matched after renaming to formula names (lower case, underscores);\n"
            "the original header works too. Unset roles are guessed; check the header of\n"
            "the written file for what was guessed and how the priors were chosen."
        ),
    )
    parser.add_argument(
        "file",
        type=Path,
        help="the study's data: one row per rating, or one row per site (each arm's mean, "
        "SD and n; an effect with its SE, variance or interval; t and n; 2x2 counts: "
        "recognised by the header, or named with --arms, --effect, --se)",
    )
    parser.add_argument("name", help="the dataset's name in the config (lower case, _, digits)")
    parser.add_argument("--out", type=Path, help="where to write (default: config/NAME.yaml)")
    parser.add_argument("--outcome", help="the outcome's column (default: the last numeric one)")
    parser.add_argument(
        "--outcome-kind",
        choices=OUTCOME_KINDS,
        help="what the outcome is, which chooses the rungs' family (default: guessed from "
        "its values and said in the header)",
    )
    parser.add_argument("--treatment", help="the manipulated condition's column (two levels)")
    parser.add_argument("--site", help="the lab or site column (default: guessed from names)")
    parser.add_argument("--participant", help="the participant column when each has several rows")
    parser.add_argument(
        "--moderators", help="columns that may moderate the effect, comma-separated (centred)"
    )
    parser.add_argument(
        "--arms", help="a summary file's arm labels, treatment first: --arms teeth,lips"
    )
    parser.add_argument("--effect", help="a summary file's effect column, with --se")
    parser.add_argument("--se", help="a summary file's standard error column")
    parser.add_argument(
        "--original-effect",
        type=float,
        help="the original study's effect on the outcome's scale: adds a verdict block",
    )
    parser.add_argument(
        "--format", choices=FORMATS, help="the file's format (default: its extension)"
    )
    parser.add_argument("--sep", help="a text file's delimiter (default: sniffed)")
    parser.add_argument("--decimal", choices=[".", ","], help="a text file's decimal mark")
    parser.add_argument("--encoding", help="a text file's encoding (default: utf-8)")
    parser.add_argument("--sheet", help="an Excel file's sheet, by name or number")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    read = {
        "format": args.format,
        "sep": args.sep,
        "decimal": args.decimal,
        "encoding": args.encoding,
        "sheet": int(args.sheet) if args.sheet and args.sheet.isdigit() else args.sheet,
    }
    given = {
        "outcome": args.outcome,
        "outcome_kind": args.outcome_kind,
        "treatment": args.treatment,
        "site": args.site,
        "participant": args.participant,
        "moderators": args.moderators.split(",") if args.moderators else [],
        "arms": args.arms.split(",") if args.arms else None,
        "effect": args.effect,
        "se": args.se,
        "original_effect": args.original_effect,
    }
    try:
        with warnings.catch_warnings():  # a file's empty columns are said in the header
            warnings.simplefilter("ignore", RuntimeWarning)
            text = scaffold(args.file, args.name, read=read, **given)
    except LadderError as error:
        print(f"ladder-new-dataset: {error}", file=sys.stderr)
        return 1
    out = args.out or Path("config") / f"{args.name}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, text)
    print(f"wrote {out}; run it with: make run CONFIG={out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
