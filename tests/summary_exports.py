"""Summary-level files as meta-analysis software exports them, written from a table of
per-site summaries (sites.COLUMNS): the shape of Comprehensive Meta-Analysis's "export
data" sheet, with what makes such files hard to read (a header with trailing spaces and
"Std Err" three times, two empty columns to the right, numbers in E notation, lab names
with non-ASCII letters, a blank line and a footer of totals)."""

from pathlib import Path

import numpy as np
import pandas as pd

from replication_ladder.data.effect_sizes import from_arms

LABS = [
    "Zürich", "São Paulo", "Köln", "Łódź", "Besançon", "Tilburg", "Århus", "Graz",
    "Malmö", "Göttingen", "Reykjavík", "Nijmegen", "Poznań", "Genève", "Coimbra",
    "Brno", "Tromsø",
]  # fmt: skip

HEADER = [
    "Study name ",
    "Treated Mean",
    "Treated Std-Dev",
    "Treated Sample size",
    "Control Mean",
    "Control Std-Dev",
    "Control Sample size",
    "Std diff in means",
    "Std Err",
    "Hedges's g",
    "Std Err",
    "Difference in means",
    "Std Err",
    "",
    "",
]

# How the config names the columns of HEADER once read with `headers: tidy`.
SUMMARY = {
    "site": "Study name",
    "treatment": {"mean": "Treated Mean", "sd": "Treated Std-Dev", "n": "Treated Sample size"},
    "control": {"mean": "Control Mean", "sd": "Control Std-Dev", "n": "Control Sample size"},
}


def export_rows(sites: pd.DataFrame) -> list[list[str]]:
    """The export's body: one row per site, every number as the software prints it."""
    arms = [sites[f"{s}_treatment"] for s in ("mean", "sd", "n")]
    arms += [sites[f"{s}_control"] for s in ("mean", "sd", "n")]
    d, d_se = from_arms(*arms, "d")
    g, g_se = from_arms(*arms, "g")
    raw, raw_se = from_arms(*arms, "raw")
    rows = []
    for i in range(len(sites)):
        numbers = [arms[0][i], arms[1][i], arms[2][i], arms[3][i], arms[4][i], arms[5][i]]
        rows.append(
            [
                f"Lab {LABS[i % len(LABS)]}",
                *(repr(float(v)) if j % 3 != 2 else str(int(v)) for j, v in enumerate(numbers)),
                f"{d[i]:.6E}",
                f"{d_se[i]:.6E}",
                repr(float(g[i])),
                repr(float(g_se[i])),
                repr(float(raw[i])),
                f"{raw_se[i]:.4E}",
                "",
                "",
            ]
        )
    return rows


def write_export(sites: pd.DataFrame, path: Path) -> Path:
    """A CMA-like CSV of `sites` (one row per site, the arms' means, SDs and n)."""
    totals = ["Total", "", "", str(int(sites["n_treatment"].sum())), "", ""]
    totals += [str(int(sites["n_control"].sum())), *[""] * (len(HEADER) - 7)]
    lines = [HEADER, *export_rows(sites), [""] * len(HEADER), totals]
    text = "\n".join(",".join(f'"{c}"' if "," in c else c for c in line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def rrr_sites(rrr: pd.DataFrame) -> pd.DataFrame:
    """The RRR's per-lab summaries of participant means, as the trial-level route
    computes them (replication_ladder.data.sites)."""
    from replication_ladder.data.sites import participant_means, per_site_effects

    data = rrr.dropna(subset=["value", "condition", "study", "uid"]).copy()
    data["participant"] = data["study"].astype(str) + ":" + data["uid"].astype(str)
    means = participant_means(data, "study", "participant", "condition", "value")
    return per_site_effects(means).assign(site=lambda t: t["site"].astype(str))


def random_sites(k: int, seed: int) -> pd.DataFrame:
    """k sites' two-arm summaries of a 0-9 rating, for unit tests."""
    rng = np.random.default_rng(seed)
    n1, n0 = rng.integers(30, 70, k), rng.integers(30, 70, k)
    return pd.DataFrame(
        {
            "site": [f"site {i}" for i in range(k)],
            "n_control": n0,
            "n_treatment": n1,
            "mean_control": rng.normal(4.5, 0.4, k),
            "mean_treatment": rng.normal(4.7, 0.4, k),
            "sd_control": rng.uniform(1.2, 2.0, k),
            "sd_treatment": rng.uniform(1.2, 2.0, k),
        }
    )
