"""Write a config file for a study of one's own: `make new-dataset FILE=... NAME=...` (or
the `ladder-new-dataset` command).

The file is read with the workflow's own readers (any format it reads), each column's
type is inferred, the site and participant columns are guessed (or given), and a
commented dataset block is written with the standard ladder for the outcome, treatment
and site: fixed effects, a random intercept per site, a random intercept and slope per
site, and a random intercept per participant when ratings repeat, each with its priors
stated on the outcome's scale (replication_ladder.priors), the outcome's range taken from
the file. The result runs as it is (`make run CONFIG=config/NAME.yaml`) and is meant to be
edited.
"""

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from replication_ladder import scaffold_summary
from replication_ladder.errors import DataError, LadderError
from replication_ladder.priors import outcome_scale_priors, rung_priors
from replication_ladder.readers import FORMATS, read_table
from replication_ladder.summary import site_rows, summary_form
from replication_ladder.validation import MISSING

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


def rung(formula: str, priors: dict, terms: set[str]) -> dict:
    return {"formula": formula, "priors": rung_priors(priors, terms)}


def scaffold(
    path: Path,
    name: str,
    *,
    outcome: str | None = None,
    treatment: str | None = None,
    site: str | None = None,
    participant: str | None = None,
    read: dict | None = None,
    original_effect: float | None = None,
) -> str:
    """The text of a config file with one commented dataset block for `path`."""
    if not NAME.match(name):
        raise LadderError(f"NAME {name!r}: use lower case letters, digits and underscores")
    read = {k: v for k, v in (read or {}).items() if v is not None}
    fmt = read.pop("format", None) or path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise LadderError(f"{path}: cannot tell the format from the extension; pass --format")
    raw = read_tolerant(path, fmt, read)
    summary = scaffold_summary.recognise(raw.header)
    if summary is not None:
        return summary_config(path, fmt, name, raw, read, *summary, original_effect)
    renamed = {column: model_name(column) for column in raw.header}
    original_name = {new: old for old, new in renamed.items()}
    # Labelled codes (SPSS, Stata) read as their labels, as the validation reads them.
    table = pd.DataFrame(
        {
            renamed[c]: [raw.value_labels.get(c, {}).get(v, v) for v in raw.cells[c]]
            for c in raw.header
        }
    )
    types = {}
    for column in raw.header:
        kind = (
            "category"
            if column in raw.value_labels
            else infer_type(raw.cells[column], read.get("decimal", "."))
        )
        types[renamed[column]] = kind
    names = list(types)

    def pick(given: str | None, role: str) -> str | None:
        if given is None:
            return None
        chosen = renamed.get(given, given)
        if chosen not in names:
            raise LadderError(
                f"{path}: no column {given!r} for the {role} (columns: {', '.join(raw.header)})"
            )
        return chosen

    outcome = pick(outcome, "outcome") or next(
        (c for c in reversed(names) if types[c] in ("number", "integer")), None
    )
    if outcome is None:
        raise LadderError(f"{path}: no numeric column to take as the outcome; pass --outcome")
    treatment = pick(treatment, "treatment")
    site = pick(site, "site") or guess_site(
        {c: k for c, k in types.items() if c not in (outcome, treatment)}, table
    )
    participant = pick(participant, "participant") or guess_participant(
        types, table, {outcome, treatment, site}
    )
    for column in (site, participant):
        if column is not None:
            types[column] = "category"
    if treatment is not None and types[treatment] not in ("binary", "category"):
        types[treatment] = "category"
    predictors = [treatment] if treatment else []
    for column in names:
        if column not in (outcome, treatment, site, participant) and types[column] in (
            "number",
            "binary",
        ):
            predictors.append(column)
    predictors = predictors[:4]
    right = " + ".join(predictors) or "1"
    numbers = {c: numeric(table[c], read.get("decimal", ".")) for c in [outcome, *predictors]}
    bounds = (float(np.nanmin(numbers[outcome])), float(np.nanmax(numbers[outcome])))
    priors = outcome_scale_priors(
        bounds,
        {c: None if types[c] == "binary" else float(np.nanstd(numbers[c])) for c in predictors},
        treatment=treatment,
        site=site,
        participant=participant,
    )
    common = {"Intercept", *predictors}
    models = {"fixed": rung(f"{outcome} ~ {right}", priors, common)}
    if site is not None:
        slope = treatment or "1"
        slopes = {f"{treatment}|{site}"} if treatment else set()
        models["random_intercept"] = rung(
            f"{outcome} ~ {right} + (1|{site})", priors, common | {f"1|{site}"}
        )
        models["random_slope"] = rung(
            f"{outcome} ~ {right} + ({slope}|{site})", priors, common | {f"1|{site}"} | slopes
        )
        if participant is not None:
            # The data stage labels participants within sites (site:participant).
            models["participant"] = rung(
                f"{outcome} ~ {right} + ({slope}|{site}) + (1|{participant})",
                priors,
                common | {f"1|{site}", f"1|{participant}"} | slopes,
            )
    used = {outcome, treatment, site, participant, *predictors}
    source = _source(path, fmt, read)
    block = {
        "description": f"{name}: scaffolded from {path.name}; edit me",
        "source": source,
        "columns": {c: types[c] for c in names if c in used},
        "outcome": {"range": list(bounds)},
        # Only the declared columns are read: rename those alone.
        "rename": {
            original: new for original, new in renamed.items() if original != new and new in used
        },
        "site": site,
        "participant": participant,
        "models": models,
    }
    if not block["rename"]:
        del block["rename"]
    if treatment is not None and original_effect is not None:
        present = set(table[treatment][table[treatment].str.strip() != ""])
        labelled = raw.value_labels.get(original_name[treatment], {}).values()
        # Labels in the order of their codes (the levels' order), else sorted.
        levels = [v for v in labelled if v in present] or sorted(present)
        block["replication"] = {
            "treatment": treatment,
            "contrast": [int(float(v)) for v in levels[:2]]
            if types[treatment] == "binary"
            else levels[:2],
            "original": {"effect": float(original_effect)},
        }
    header = (
        f"# A config for {name}, scaffolded from {path} by `make new-dataset`.\n"
        f"# Run it: make run CONFIG=<this file>. Check every guess below:\n"
        f"#   columns   the types inferred from the file (number, integer, binary, category)\n"
        f"#   site      {site!r} (guessed unless given)\n"
        f"#   participant {participant!r}: a rung with its random intercept is added when set\n"
        f"#   outcome.range {list(bounds)}: the smallest and largest {outcome} in the file;\n"
        f"#             set it to the scale's true ends. Every prior below is stated on it\n"
        f"#             (span s): Intercept Normal(midpoint, s/4), the treatment Normal(0,\n"
        f"#             s/8), another predictor Normal(0, s/8 / (2 SD)), SDs of site\n"
        f"#             intercepts HalfNormal(s/8) (summing to zero: ZeroSumNormal) and\n"
        f"#             slopes HalfNormal(s/16), of participants HalfNormal(s/6), sigma\n"
        f"#             HalfNormal(s/4)\n"
        f"#             (replication_ladder/priors.py says why). The report's prior\n"
        f"#             predictive check shows the outcomes they imply.\n"
        f"#   replication  add one (treatment, contrast, original) for a verdict; see\n"
        f"#             config/README.md\n"
        f"# default_datasets: false runs this dataset alone, without the shipped ones.\n"
    )
    return header + config_yaml(name, block)


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
    header = (
        f"# A config for {name}, scaffolded from {path} by `make new-dataset`: a file of\n"
        f"# per-site summaries ({len(rows)} sites). Run it: make run CONFIG=<this file>.\n"
        f"# Check every guess below:\n"
        f"#   summary      the columns read for each site ({summary_form(summary)} form)\n"
        f"#   effect_size  {unit}: raw (mean difference), d or g; the rungs fit this unit\n"
        f"#   priors       the pooled effect Normal(0, s), the SD of the sites' effects\n"
        f"#                HalfNormal(s/2), with {why}\n"
        f"#   replication  add one (original: effect) for a verdict; see config/README.md\n"
        f"# default_datasets: false runs this dataset alone, without the shipped ones.\n"
    )
    return header + config_yaml(name, block)


def config_yaml(name: str, block: dict) -> str:
    """A config file's body holding one dataset, without the shipped ones."""
    return yaml.safe_dump(
        {"default_datasets": False, "datasets": {name: block}}, sort_keys=False, allow_unicode=True
    )


def main(argv: list[str] | None = None) -> int:
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
        help="the study's data: one row per rating, or one row per site (means, SDs and n "
        "of both arms, an effect and its standard error, or t and n; recognised by the header)",
    )
    parser.add_argument("name", help="the dataset's name in the config (lower case, _, digits)")
    parser.add_argument("--out", type=Path, help="where to write (default: config/NAME.yaml)")
    parser.add_argument("--outcome", help="the rating's column (default: the last numeric one)")
    parser.add_argument("--treatment", help="the manipulated condition's column (two levels)")
    parser.add_argument("--site", help="the lab or site column (default: guessed from names)")
    parser.add_argument(
        "--participant", help="the participant column when each rates several stimuli"
    )
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
    args = parser.parse_args(argv)
    read = {
        "format": args.format,
        "sep": args.sep,
        "decimal": args.decimal,
        "encoding": args.encoding,
        "sheet": int(args.sheet) if args.sheet and args.sheet.isdigit() else args.sheet,
    }
    try:
        text = scaffold(
            args.file,
            args.name,
            outcome=args.outcome,
            treatment=args.treatment,
            site=args.site,
            participant=args.participant,
            read=read,
            original_effect=args.original_effect,
        )
    except LadderError as error:
        print(f"ladder-new-dataset: {error}", file=sys.stderr)
        return 1
    out = args.out or Path("config") / f"{args.name}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}; run it with: make run CONFIG={out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
