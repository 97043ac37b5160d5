"""The models: rung kinds (each owning its rung), the families registry, priors, hand-
written builders, samplers, densities, and fitting and predicting a rung.
"""
