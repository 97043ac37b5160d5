"""Deterministic per-job seeds derived from the global seed and the job's names.

A SHA-256 of the names (not Python's salted `hash`) gives the same seed on every machine
and run, and different seeds for different jobs, as in R's targets.
"""

import hashlib


def derive_seed(global_seed: int, *names: str) -> int:
    """A seed in [0, 2**31) for the job named by `names` (dataset, model, fold...)."""
    key = "/".join([str(global_seed), *names]).encode("utf-8")
    # 31 bits: every sampler (nutpie's u64, PyMC's, JAX's uint32 keys) accepts it.
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % 2**31
