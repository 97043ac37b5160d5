"""The replication verdict: Bayes factors (the effect's density at zero), equivalence, the
verdict's sentence, the model-averaged meta-analysis, the frequentist reference, the
design analysis.
"""
