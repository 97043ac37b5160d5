"""Bambi's cumulative family with its logit link, its likelihood in two logistic CDFs a row.

Bambi's cumulative family gives PyMC, for every row, the logistic CDF at all K - 1
thresholds, the K category probabilities and a Categorical's normalised log; only the two
CDFs on either side of the observed category count. This family gives PyMC the same
likelihood from those two, log P(y = k) = log(F(c_k - eta) - F(c_(k-1) - eta)): the same
model and parameters, its log density equal to Bambi's (tested to 1e-10), and on the RRR
a fraction of the sampling time (docs/operations.md, "The ordinal rung"). PyMC's
`OrderedLogistic` builds all K probabilities too, so it does not serve.

Only the model PyMC samples changes. Bambi's predictions, outcome-scale effects and
moment matching still compute the K probabilities with the logistic and draw from a
Categorical (`OrderedLogit.dist`).
"""

from scipy.special import expit

# How far past the other threshold (and past zero) an open end is put: e^-100 is 3.7e-44.
OPEN_END = 100.0


def _draw(cut, rng=None, size=None):
    """Ratings drawn by inverting the CDF: the category is the number of thresholds whose
    CDF is below a uniform draw. (A symbolic `dist` would pin the number of rows, which
    the rungs' row containers leave free: PyMC specifies its parameters' static shapes.)"""
    cdf = expit(cut)
    size = cut.shape[:-1] if size is None else tuple(size)
    uniform = rng.uniform(size=size)
    return (uniform[..., None] > cdf).sum(axis=-1)


def _log_probability(value, cut):
    """log(F(hi) - F(lo)) with hi, lo the observed category's upper and lower threshold
    minus the linear predictor. The open ends are finite thresholds OPEN_END past the
    other one and past zero, where they change log P by under 1e-43: one formula for
    every row, so that no branch is computed for nothing."""
    import pytensor.tensor as pt

    last = cut.shape[-1]
    k = pt.cast(value, "int64")
    # The two thresholds picked by a mask, not an index: a mask vectorises over draws
    # (densities.py scores every draw at once), and costs no transcendental.
    position = pt.arange(last)
    upper = (cut * pt.eq(pt.minimum(k, last - 1)[..., None], position)).sum(axis=-1)
    lower = (cut * pt.eq(pt.maximum(k - 1, 0)[..., None], position)).sum(axis=-1)
    hi = pt.switch(pt.eq(k, last), pt.maximum(lower, 0) + OPEN_END, upper)
    lo = pt.switch(pt.eq(k, 0), pt.minimum(upper, 0) - OPEN_END, lower)
    return _log_cdf_difference(hi, lo)


def _log_cdf_difference(hi, lo):
    """log(F(hi) - F(lo)), hi > lo, for the logistic F, in two exponentials and a log (a
    third of what log F(hi) + log F(-lo) + log(1 - e^(lo - hi)) costs with its gradient,
    which dominates the ordinal rung's sampling): with F(x) - F(y) = F(-y) - F(-x) taken
    so that the lower argument b is at most 0, and m = min(a, 0) factored out,

        log(F(a) - F(b)) = m + log(1 / (1 + e^-|a|) - e^(b - m) / (1 + e^b)),

    where no exponential overflows and the magnitude is carried by m: finite, and within
    1e-12 of SciPy's log_expit form, however far the linear predictor goes
    (tests/test_rungs.py)."""
    import pytensor.tensor as pt

    swap = lo > 0
    a = pt.switch(swap, -lo, hi)
    b = pt.switch(swap, -hi, lo)
    m = pt.minimum(a, 0)
    exp_abs_a = pt.exp(-pt.abs(a))
    exp_b_m = pt.exp(b - m)
    exp_b = exp_b_m * pt.switch(a > 0, 1.0, exp_abs_a)  # e^b = e^(b - m) e^m
    return m + pt.log(1 / (1 + exp_abs_a) - exp_b_m / (1 + exp_b))


class OrderedLogit:
    """The likelihood's `dist`. Building the model, Bambi calls it with `p` the thresholds
    minus the linear predictor, (rows, K - 1) (the family's link is the identity in the
    model, so the logistic is applied here); predicting, it calls `dist` with `p` the K
    category probabilities Bambi computed with the logistic itself."""

    def __new__(cls, name, p, observed=None, dims=None):
        import pymc as pm

        return pm.CustomDist(
            name,
            p,
            random=_draw,
            logp=_log_probability,
            signature="(k)->()",
            dtype="int64",
            observed=observed,
            dims=dims,
        )

    @staticmethod
    def dist(p, **kwargs):
        import pymc as pm

        return pm.Categorical.dist(p=p, **kwargs)


def _identity(x):
    return x


def _without_thresholds(kwargs):
    kwargs.pop("threshold", None)  # in `p` already, as in Bambi's own
    return kwargs


def use_two_cdfs(family) -> None:
    """Give a Bambi model's cumulative family, logit link, the likelihood above (in place,
    before the model is built; Bambi's public names only)."""
    import bambi as bmb

    logit = family.link["p"]
    if logit.name != "logit":
        return
    # A name Bambi's backend does not know, so that it takes `linkinv_backend`.
    family.link = {
        **family.link,
        "p": bmb.Link(
            "logit (in the likelihood)",
            link=logit.link,
            linkinv=logit.linkinv,
            linkinv_backend=_identity,
        ),
    }
    family.likelihood.dist = OrderedLogit
    family.transform_backend_kwargs = _without_thresholds
