"""The report's HTML fragments: plain functions from figures to escaped markup."""

import html

from replication_ladder.models.prior_spec import prior_text
from replication_ladder.verdict import bayes_factors as bf
from replication_ladder.verdict.replication import reliability_note

STYLE = """<style>
.ladder-warning {border: 2px solid #d62728; background: #fdecea; padding: 0.6em 1em;
  margin: 0.5em 0; border-radius: 4px;}
.ladder-ok {border: 1px solid #2ca02c; background: #eef8ee; padding: 0.4em 1em;
  margin: 0.5em 0; border-radius: 4px;}
.ladder-note {border-left: 4px solid #999; padding: 0.3em 1em; color: #333;}
.ladder-verdict {font-size: 1.15em; border-left: 4px solid #1f77b4; padding: 0.4em 1em;}
</style>"""


def escape(text) -> str:
    return html.escape(str(text))


def fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def items(lines: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"


def box(kind: str, body: str, title: str | None = None) -> str:
    head = f"<strong>{escape(title)}</strong>" if title else ""
    return f'<div class="ladder-{kind}">{head}{body}</div>'


def _kept(d: dict) -> str:
    thin = d.get("thin", 1)
    return f" (1 in {thin} kept)" if thin > 1 else ""


def diagnostics_box(d: dict) -> str:
    """A fit's convergence figures, with any warning shown prominently."""
    figures = (
        f"{d['sampler']}, {d['chains']} chains x {d['draws']} draws{_kept(d)} after "
        f"{d['tune']} tuning steps, target_accept {d['target_accept']}, seed "
        f"{d['seed']}: {d['divergences']} divergences, max r_hat "
        f"{fmt(d['max_r_hat'], '.3f')}, min ESS bulk "
        f"{fmt(d['min_ess_bulk'], '.0f')} and tail {fmt(d['min_ess_tail'], '.0f')}"
    )
    flags = []
    if d.get("prior_data_conflict"):
        flags.append(f"potential prior-data conflict: {', '.join(d['prior_data_conflict'])}")
    if d.get("weak_likelihood"):
        flags.append(f"strong prior or weak likelihood: {', '.join(d['weak_likelihood'])}")
    if not d["warnings"] and not flags:
        return box("ok", f"Converged: {escape(figures)}.")
    lines = [escape(w) for w in d["warnings"]] + [escape(f) for f in flags]
    title = "Convergence warnings" if d["warnings"] else "Prior sensitivity"
    return box("warning", items(lines) + escape(figures) + ".", title)


def loo_warnings(loo) -> str:
    compared = loo[loo["comparable"]]
    high = compared[compared["n_high_pareto_k"] > 0]
    notes = "".join(
        f'<p class="ladder-note">{escape(model)} is not in the comparison: '
        f"{escape(row['not_comparable_because'])}.</p>"
        for model, row in loo[~loo["comparable"]].iterrows()
    )
    if high.empty:
        threshold = compared["pareto_k_threshold"].iloc[0]
        return notes + box(
            "ok", f"No observation has a Pareto k above {threshold:.2f}: PSIS-LOO is reliable."
        )
    lines = [
        f"{escape(model)}: {row['n_high_pareto_k']} observations "
        f"({100 * row['share_high_pareto_k']:.2f}%) with Pareto k above "
        f"{row['pareto_k_threshold']:.2f} or none; remedy {escape(row['remedy'])} leaves "
        f"{row['n_high_pareto_k_after']}"
        for model, row in high.iterrows()
    ]
    return notes + box("warning", items(lines), "High Pareto k")


def verdict_numbers(report: dict) -> str:
    """The estimates and tests the verdict weighs, in words."""
    original, published = report["original"], report["published"]
    model = report["verdict_model"]
    effect = report["models"][model]
    unit = report["outcome"]["unit"] or ""
    ci = f"{100 * report['ci_prob']:.0f}%"
    cited = f" ({escape(original['citation'])})" if original.get("citation") else ""
    lines = [f"original study{cited}: {original['effect']:.3g} {escape(unit)}"]
    conversion = report.get("original_conversion")
    if conversion:
        lines[0] += (
            f" (given as {conversion['effect_given']:g} in {conversion['from']} units; "
            f"converted to {conversion['to']} with {escape(conversion['sd_from'])}, "
            f"{conversion['sd']:.3g})"
        )
    if published:
        cite = f" ({escape(published['citation'])})" if published.get("citation") else ""
        lines.append(
            f"published meta-analysis{cite}: {published['estimate']:g} (95% CI "
            f"{published['ci_low']:g} to {published['ci_high']:g})"
        )
    reference = report.get("random_effects")
    if reference:
        lines.append(
            f"frequentist reference on the same site estimates (REML random effects, as "
            f"metafor's rma): {reference['estimate']:.3f} ({ci} CI {reference['ci_low']:.3f} "
            f"to {reference['ci_high']:.3f}), tau² = {reference['tau2']:.3g}, I² = "
            f"{reference['i2']:.0f}%, prediction interval {reference['pi_low']:.3f} to "
            f"{reference['pi_high']:.3f}"
        )
    lines.append(
        f"pooled effect here ({escape(model)}, {escape(report['verdict_model_because'])}): "
        f"{effect['mean']:.3f} ({ci} CI {effect['ci_low']:.3f} to {effect['ci_high']:.3f}), "
        f"P(effect &gt; 0) = {effect['p_positive']:.3f}, P(effect reaches the original) = "
        f"{effect['p_at_least_original']:.3g}"
    )
    test = report.get("test_prior", {})
    if "bf01" in test:
        lines.append(
            f"against the test prior {escape(prior_text(test['prior']))} (on the outcome's "
            f"scale{', ' + escape(unit) if unit else ''}): {bf.stated(test)}; against the prior "
            f"the rung was fitted with, {escape(prior_text(effect['prior']))}: "
            f"{bf.stated(effect['savage_dickey'])}" + escape(reliability_note(test))
        )
    one_sided = report.get("test_prior_one_sided") or {}
    if "bf01" in one_sided:
        lines.append(
            f"one-sided, against {escape(prior_text(one_sided['prior']))}: "
            f"{bf.stated(one_sided)}" + escape(reliability_note(one_sided))
        )
    rbf = report.get("replication_bf", {})
    if "bf0r" in rbf:
        one = rbf.get("one_sided")
        lines.append(
            f"replication Bayes factor (alternative: the original's posterior "
            f"{escape(prior_text(rbf['original_posterior']))}): BF0r = {rbf['bf0r']:.3g}"
            + (f"; in the original's direction, {one['bf01']:.3g}" if one else "")
        )
    elif "unavailable" in rbf:
        lines.append(f"replication Bayes factor: not computed ({escape(rbf['unavailable'])})")
    telescopes = report.get("small_telescopes")
    if telescopes:
        lines.append(
            f"small telescopes: the original ({telescopes['n1']} and {telescopes['n2']} per "
            f"group) had 33% power for d = {telescopes['d33']:.3f}, "
            f"{telescopes['effect_d33']:.3f} on this scale; the replication's one-sided 95% "
            f"bound is {telescopes['upper_bound_95']:.3f}: d33 "
            + ("is ruled out" if telescopes["ruled_out"] else "is not ruled out")
        )
    equivalent = report.get("equivalence") or {}
    if "p_inside" in equivalent:
        lines.append(
            f"equivalence: P(|effect| &lt; {equivalent['sesoi']:.3g}) = "
            f"{equivalent['p_inside']:.3f} (the SESOI is {escape(equivalent['sesoi_from'])})"
        )
    return items(lines)


def recovery_sentence(recovery, ci_prob: float) -> str:
    """One line: how many true values each rung's intervals cover."""
    if recovery is None or recovery.empty:
        return "No rung of the ladder estimates every parameter of the generator."
    parts = [
        f"{model} covers {part['covered'].sum()} of {len(part)}"
        for model, part in recovery.groupby("model", sort=False)
    ]
    return f"Recovery: {'; '.join(parts)} true values within its {100 * ci_prob:.0f}% intervals."


def index_page(rows: list[dict]) -> str:
    body = "\n".join(
        f'<tr><td><a href="{escape(row["dataset"])}.html">{escape(row["dataset"])}'
        f"</a></td><td>{escape(row['headline'])}</td>"
        f'<td class="{"ok" if row["ok"] else "warn"}">{escape(row["status"])}</td></tr>'
        for row in rows
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Replication Ladder: reports</title>
<style>
body {{font-family: sans-serif; margin: 2em; max-width: 70em;}}
table {{border-collapse: collapse;}}
td, th {{border-bottom: 1px solid #ccc; padding: 0.5em; text-align: left; vertical-align: top;}}
td.ok {{color: #2ca02c;}}
td.warn {{color: #d62728; font-weight: bold;}}
</style>
</head>
<body>
<h1>Replication Ladder</h1>
<p>One report per dataset: the data, each rung of the ladder, their comparison, and the
replication verdict or the recovery of the true parameters.</p>
<table>
<thead><tr><th>dataset</th><th>verdict or recovery</th><th>diagnostics</th></tr></thead>
<tbody>
{body}
</tbody>
</table>
</body>
</html>
"""


def prior_predictive_warnings(checks, label: str) -> str:
    """A warning naming each rung whose priors put too many outcomes off the scale."""
    flagged = checks[checks["warning"]]
    if checks["share_outside"].isna().all():
        return box(
            "ok",
            f"No range of {escape(label)} is declared (outcome.range): the simulations are "
            "shown without one to hold them against.",
        )
    if flagged.empty:
        return box(
            "ok",
            f"Every rung's priors keep at least {100 * (1 - checks['max_outside'].max()):.0f}% "
            f"of simulated {escape(label)} values inside the range.",
        )
    lines = [
        f"{escape(model)}: {100 * row['share_outside']:.1f}% of simulated values outside "
        f"{row['low']:g} to {row['high']:g} ({row['source']}); they run from {row['min']:.3g} "
        f"to {row['max']:.3g}"
        for model, row in flagged.iterrows()
    ]
    return box("warning", items(lines), "Priors that allow outcomes off the scale")


def bayes_factor_calibration(calibration: dict | None) -> str:
    """The Bayes factors' calibration in a sentence: the mean P(H1 | y) against H1's share
    of the replicates, within its Monte Carlo error or not."""
    if not calibration:
        return ""
    given = calibration["mean_p_h1_given"]
    text = (
        f"Over {calibration['replicates']} replicates ({100 * calibration['share_from_h1']:.0f}% "
        f"from H1), the mean posterior probability of H1 is {calibration['mean_p_h1']:.3f} "
        f"(Monte Carlo error {calibration['mean_p_h1_mcse']:.3f}, z = {calibration['z']:.2f}); "
        f"{given['H1']:.2f} on data from H1 and {given['H0']:.2f} on data from H0."
    )
    if calibration["calibrated"]:
        return box("ok", text + " The Bayes factors are calibrated (Schad et al. 2022).")
    return box("warning", text, "Bayes factors not calibrated")


def design_analysis(design: dict) -> str:
    """The operating characteristics in words: how often each verdict comes out, and how
    they were simulated."""
    parts = [
        f"with the true effect at {escape(name)} ({scenario['true_effect']:.3g}), "
        + ", ".join(
            f"{100 * share:.0f}% {escape(group)}" for group, share in scenario["grouped"].items()
        )
        for name, scenario in design["scenarios"].items()
    ]
    return (
        f"<p>Of {design['simulations']} replications simulated at this design ({design['sites']} "
        f"sites at their standard errors, tau {design['tau']:.3g} from "
        f"{escape(design['tau_from'])}), each judged as the verdict is but by its "
        f"{escape(design['method'])}: " + "; ".join(parts) + ".</p>"
    )
