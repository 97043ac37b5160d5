"""The data stage: reading files, synthetic datasets, validation, summary-level files, per-
site estimates and effect sizes.
"""
