"""Scoring the rungs: PSIS-LOO and its remedies, the comparison, leave one site out, power-
scaling sensitivity, the fits' diagnostics table.
"""
