"""The scaffold (`ladder-new-dataset`): a config for a study's file, trial-level or per-
site summaries.
"""
