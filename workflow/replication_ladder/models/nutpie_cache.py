"""A rung compiled for nutpie once per machine, not once per process.

nutpie's `compile_pymc_model` wraps the model's log density and its expansion in two
Numba C callbacks. PyTensor caches the functions they call, but the callbacks are
compiled again in every process (3 to 8 s a rung), because Numba keys its own cache on
their closures, which hold per-process objects (a dispatcher's uuid, nutpie's uuid names
of the data). nutpie's pull request 334, which would cache them, was closed unmerged;
Numba's `cache=True` on the callbacks saves an entry per process that no later process
finds (measured).

This builds the same model nutpie's `compile_pymc_model` builds, from nutpie's own
pieces, and gives each callback a Numba cache keyed by what its code is made of: PyTensor's
cache key of the function it calls (PyTensor's numba backend derives it from the graph's
operations and constants, and caches that function under it), the layout of the data it
reads, nutpie's source, the versions of the compilers, and the CPU (Numba's own magic
tuple). The data's values are not in the key: the callbacks read them at run time (as
`with_data` relies on). A graph PyTensor cannot key is compiled as nutpie does.
`tests/test_nutpie_cache.py` checks that a cached compile draws what nutpie's draws, bit for
bit, and that a changed prior misses the cache.
"""

import functools
import hashlib
import importlib.metadata
import inspect
import logging
import pickle
from pathlib import Path

from replication_ladder.base.atomic import write_bytes

log = logging.getLogger(__name__)

CACHE_FOLDER = "nutpie"
_VERSIONED = ("nutpie", "numba", "llvmlite", "numpy", "pytensor", "pymc")


def compile_pymc_model(model, var_names, folder: Path | None = None):
    """nutpie's `compile_pymc_model(model, var_names=var_names)` (Numba backend, its
    default initial points), with both callbacks cached across processes in `folder`
    (`cache_folder()` unless given)."""
    import numpy as np
    from nutpie import compile_pymc as nutpie_pymc
    from pymc.initial_point import make_initial_point_fn

    pymc_initial_point = nutpie_pymc._wrap_with_lock(
        make_initial_point_fn(
            model=model,
            default_strategy="support_point",
            jitter_rvs=set(model.free_RVs),
            return_transformed=True,
        )
    )
    n_dim, n_expanded, logp_fn, expand_fn, initial_point, shape_info, reparameterized = (
        nutpie_pymc._make_functions(
            model,
            mode="NUMBA",
            compute_grad=True,
            join_expanded=True,
            pymc_initial_point_fn=pymc_initial_point,
            var_names=var_names,
        )
    )
    # nutpie's layout of the data the callbacks read (keys are names in a record).
    shared_data, shared_keys = {}, {}
    for variable in [*logp_fn.get_shared(), *expand_fn.get_shared()]:
        if variable not in shared_keys:
            key = f"data{len(shared_keys)}"
            shared_data[key] = np.array(variable.get_value(), order="C", copy=True)
            shared_data[key].flags.writeable = False
            shared_keys[variable] = key
    user_data = nutpie_pymc.make_user_data(shared_keys, shared_data)
    logp_keys = [shared_keys[v] for v in logp_fn.get_shared()]
    expand_keys = [shared_keys[v] for v in expand_fn.get_shared()]
    layout = [(key, value.ndim, value.dtype.str) for key, value in shared_data.items()]
    folder = cache_folder() if folder is None else Path(folder)
    logp_callback = _callback(
        *nutpie_pymc._make_c_logp_func(n_dim, logp_fn.vm.jit_fn, user_data, logp_keys, shared_data),
        _key("logp", logp_fn, n_dim, n_expanded, logp_keys, layout),
        folder,
    )
    expand_callback = _callback(
        *nutpie_pymc._make_c_expand_func(
            n_dim, n_expanded, expand_fn.vm.jit_fn, user_data, expand_keys, shared_data
        ),
        _key("expand", expand_fn, n_dim, n_expanded, expand_keys, layout),
        folder,
    )
    dims, coords = nutpie_pymc._prepare_dims_and_coords(model, shape_info, reparameterized)
    return nutpie_pymc.CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_callback,
        compiled_expand_func=expand_callback,
        initial_point_func=initial_point,
        shared_data=shared_data,
        shared_var_keys=shared_keys,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_fn,
        expand_func=expand_fn,
        reparameterized_names=reparameterized,
    )


def _key(role, function, n_dim, n_expanded, keys, layout) -> str | None:
    """What the callback's code is made of, hashed; None when PyTensor has no key for
    the graph (then nothing is cached)."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    graph = CACHED_SRC_FUNCTIONS.get(function.vm.jit_fn.py_func)
    if graph is None:
        return None
    parts = [role, graph, n_dim, n_expanded, keys, layout, _toolchain()]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


@functools.cache
def _toolchain() -> tuple:
    """nutpie's wrapper source and the compilers' versions: the same for every callback
    of a process, so read once."""
    from nutpie import compile_pymc as nutpie_pymc

    source = hashlib.sha256(inspect.getsource(nutpie_pymc).encode()).hexdigest()
    return source, tuple(importlib.metadata.version(name) for name in _VERSIONED)


def _callback(function, signature, key, folder):
    """`numba.cfunc(signature)(function)`, read from and saved to `folder` under key."""
    from numba.core import sigutils
    from numba.core.ccallback import CFunc

    callback = CFunc(function, sigutils.normalize_signature(signature), {}, {})
    if key is not None:
        callback._cache = KeyedCache(key, folder)
    callback.compile()
    return callback


def cache_folder() -> Path:
    """Beside PyTensor's compiled code (the pipeline points it at its compile cache)."""
    from pytensor import config

    return Path(config.base_compiledir) / CACHE_FOLDER


class KeyedCache:
    """Numba's cache interface (`load_overload`, `save_overload`) over one file per key
    and CPU; the compiled result serialised as Numba's own cache serialises it."""

    def __init__(self, key: str, folder: Path):
        self.key = key
        self.folder = folder

    def _path(self, target_context) -> Path:
        machine = hashlib.sha256(repr(target_context.codegen().magic_tuple()).encode())
        return self.folder / f"{self.key}-{machine.hexdigest()[:16]}.nbc"

    def load_overload(self, sig, target_context):
        from numba.core.compiler import CompileResult

        target_context.refresh()
        path = self._path(target_context)
        if not path.exists():
            return None
        try:
            return CompileResult._rebuild(target_context, *pickle.loads(path.read_bytes()))
        except Exception as error:  # any unreadable entry is compiled again
            log.warning("%s: unreadable (%s); compiling again", path, error)
            return None

    def save_overload(self, sig, cres):
        if cres.library.has_dynamic_globals or any(not x.can_cache for x in cres.lifted):
            return  # addresses of this process in the code: Numba would not cache it either
        path = self._path(cres.target_context)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, pickle.dumps(cres._reduce(), protocol=pickle.HIGHEST_PROTOCOL))
