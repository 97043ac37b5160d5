"""Bambi's families, known without importing Bambi (a Snakemake parse stays quick)."""

# Bambi's families and their auxiliary parameters (those a prior may name besides the
# formula's terms). tests/test_config.py keeps this in step with bambi's BUILTIN_FAMILIES,
# so that a config is checked at start without importing Bambi into every Snakemake parse.
FAMILY_PARAMETERS: dict[str, tuple[str, ...]] = {
    "asymmetriclaplace": ("b", "kappa"),
    "bernoulli": (),
    "beta": ("kappa",),
    "beta_binomial": ("kappa",),
    "binomial": (),
    "categorical": (),
    "cumulative": ("threshold",),
    "dirichlet_multinomial": (),
    "exgaussian": ("sigma", "nu"),
    "exponential": (),
    "gamma": ("alpha",),
    "gaussian": ("sigma",),
    "hurdle_gamma": ("alpha", "psi"),
    "hurdle_lognormal": ("sigma", "psi"),
    "hurdle_negativebinomial": ("alpha", "psi"),
    "hurdle_poisson": ("psi",),
    "laplace": ("b",),
    "lognormal": ("sigma",),
    "multinomial": (),
    "negativebinomial": ("alpha",),
    "poisson": (),
    "sratio": ("threshold",),
    "t": ("sigma", "nu"),
    "vonmises": ("kappa",),
    "wald": ("lam",),
    "weibull": ("alpha",),
    "zero_inflated_binomial": ("psi",),
    "zero_inflated_negativebinomial": ("alpha", "psi"),
    "zero_inflated_poisson": ("psi",),
}
# Families whose likelihood is a probability of discrete values: their LOO is not on the
# scale of a continuous density, so the two are never compared.
DISCRETE_FAMILIES = frozenset(
    {
        "bernoulli",
        "beta_binomial",
        "binomial",
        "categorical",
        "cumulative",
        "dirichlet_multinomial",
        "hurdle_negativebinomial",
        "hurdle_poisson",
        "multinomial",
        "negativebinomial",
        "poisson",
        "sratio",
        "zero_inflated_binomial",
        "zero_inflated_negativebinomial",
        "zero_inflated_poisson",
    }
)
