"""Column names the models cannot take as they are: ArviZ's and xarray's dimensions.

A coefficient is named after its column, and a posterior variable called `chain` or
`draw` is that dimension's coordinate to xarray: the fit would read the wrong numbers.
Such a column is read under another name (`draw` as `draw_`), written into the dataset's
`rename` and every key that names it, so that a study's own names all work.
"""

import re

RESERVED = ("chain", "draw", "sample")


def model_name(column: str) -> str:
    return f"{column}_" if column in RESERVED else column


def rename_reserved(spec: dict) -> dict[str, str]:
    """Rename, in a dataset block (defaults filled), every declared column that is a
    reserved name; returns {old: new}. A summary-level block has none to rename."""
    renamed = {c: model_name(c) for c in spec["columns"] if c in RESERVED}
    if not renamed:
        return {}
    spec["columns"] = {renamed.get(c, c): kind for c, kind in spec["columns"].items()}
    files = {model: file for file, model in spec["rename"].items()}
    for old, new in renamed.items():
        spec["rename"][files.get(old, old)] = new
    if "dropna" in spec:
        spec["dropna"] = [renamed.get(c, c) for c in spec["dropna"]]
    for key in ("site", "participant"):
        spec[key] = renamed.get(spec[key], spec[key])
    for key in ("within", "between"):
        spec["design"][key] = [renamed.get(c, c) for c in spec["design"][key]]
    spec["moderators"] = [renamed.get(c, c) for c in spec["moderators"]]
    if spec["replication"]:
        treatment = spec["replication"]["treatment"]
        spec["replication"]["treatment"] = renamed.get(treatment, treatment)
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, renamed)) + r")\b")
    for entry in spec["models"].values():
        if entry.get("formula"):
            entry["formula"] = pattern.sub(lambda m: renamed[m[1]], entry["formula"])
        if isinstance(entry.get("priors"), dict):
            entry["priors"] = {
                pattern.sub(lambda m: renamed[m[1]], term): prior
                for term, prior in entry["priors"].items()
            }
    return renamed
