"""nutpie_cache: a model compiled for nutpie in one process is read from the cache by the
next, and every compile, cached or not, draws what nutpie's own `compile_pymc_model`
draws, bit for bit (the reference: nutpie itself)."""

import hashlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from replication_ladder.models import nutpie_cache

SIGMA = 2.0
# A regression with its rows in a shared container, as a rung's are.
MODEL = """
import numpy as np, pymc as pm

def regression(x, y, sigma={sigma}):
    with pm.Model() as model:
        x, rating = pm.Data("x", x), pm.Data("rating", y)
        slope = pm.Normal("slope", 0, sigma)
        noise = pm.HalfNormal("noise", 1)
        pm.Normal("y", slope * x, noise, observed=rating, shape=x.shape)
    return model

def rows(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return x, 1.5 * x + rng.normal(size=n)
"""


def _namespace(sigma=SIGMA) -> dict:
    namespace: dict = {}
    exec(MODEL.format(sigma=sigma), namespace)
    return namespace


def _draws_digest(compiled) -> str:
    import nutpie

    idata = nutpie.sample(
        compiled, draws=100, tune=100, chains=2, cores=1, seed=5, progress_bar=False
    )
    posterior = idata["posterior"]
    return hashlib.sha256(
        b"".join(posterior[name].values.tobytes() for name in sorted(posterior.data_vars))
    ).hexdigest()


# A separate process: what a pipeline job does; prints its cache hits and draws' digest.
CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from replication_ladder.models import nutpie_cache
from test_nutpie_cache import _draws_digest, _namespace
ns = _namespace()
model = ns["regression"](*ns["rows"](50, 1))
compiled = nutpie_cache.compile_pymc_model(model, None, folder={folder!r})
print(json.dumps([compiled.compiled_logp_func.cache_hits,
                  compiled.compiled_expand_func.cache_hits, _draws_digest(compiled)]))
"""


def test_a_later_process_reads_the_compile_and_draws_what_nutpie_draws(tmp_path):
    """Two processes compile the same model into one cache folder: the first compiles
    both callbacks and saves them, the second reads them (Numba's cache-hit counters).
    Each draws, from the same seed, exactly what nutpie's own compile draws here."""
    import nutpie

    ns = _namespace()
    model = ns["regression"](*ns["rows"](50, 1))
    reference = _draws_digest(nutpie.compile_pymc_model(model))
    script = CHILD.format(tests=str(nutpie_cache.Path(__file__).parent), folder=str(tmp_path))
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", textwrap.dedent(script)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()[-1]
        )
        for _ in range(2)
    ]
    assert [run[:2] for run in runs] == [[0, 0], [1, 1]]
    assert len(list(tmp_path.glob("*.nbc"))) == 2
    assert [run[2] for run in runs] == [reference, reference]


def test_other_rows_reuse_the_compile_and_are_the_ones_sampled(tmp_path):
    """The data's values are not in the cache key, nor in the code: a model of other rows
    (another length) reads the callbacks compiled for the first rows and its log density
    and draws are those nutpie's own compile gives for its rows."""
    import nutpie

    ns = _namespace()
    first = nutpie_cache.compile_pymc_model(ns["regression"](*ns["rows"](50, 1)), None, tmp_path)
    other = ns["regression"](*ns["rows"](80, 2))
    cached = nutpie_cache.compile_pymc_model(other, None, tmp_path)
    assert first.compiled_logp_func.cache_hits == 0
    assert cached.compiled_logp_func.cache_hits == 1
    reference = nutpie.compile_pymc_model(other)
    point = np.array([0.3, 1.2])
    assert _callback_logp(cached, point) == _callback_logp(reference, point)
    assert _draws_digest(cached) == _draws_digest(reference)


def _callback_logp(compiled, point) -> tuple[float, list[float]]:
    """The log density and gradient as nutpie's sampler computes them: by calling the
    compiled C callback on the model's data (not PyTensor's function)."""
    import ctypes

    gradient, logp = np.zeros_like(point), np.zeros(())
    pointer = ctypes.POINTER(ctypes.c_double)
    status = compiled.compiled_logp_func.ctypes(
        len(point),
        point.ctypes.data_as(pointer),
        gradient.ctypes.data_as(pointer),
        logp.ctypes.data_as(pointer),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    assert status == 0
    return float(logp), gradient.tolist()


@pytest.mark.parametrize("sigma", [SIGMA * 2, SIGMA + 1e-9])
def test_a_changed_prior_compiles_anew(tmp_path, sigma):
    """A prior's scale is a constant of the graph, so it is in PyTensor's key of the
    function and so in the cache's: a model that differs only there (even by 1e-9) is
    compiled, not read, and its draws are nutpie's for that model."""
    import nutpie

    rows = _namespace()["rows"](50, 1)
    nutpie_cache.compile_pymc_model(_namespace()["regression"](*rows), None, tmp_path)
    changed = _namespace(sigma)["regression"](*rows)
    compiled = nutpie_cache.compile_pymc_model(changed, None, tmp_path)
    assert compiled.compiled_logp_func.cache_hits == 0
    assert len(list(tmp_path.glob("*.nbc"))) == 3  # the expand callback is the same
    assert _draws_digest(compiled) == _draws_digest(nutpie.compile_pymc_model(changed))
