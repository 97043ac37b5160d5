"""Build the tests' shared smoke pipeline before the test workers start (`make test`).

Built alone, its fits have both cores and fill the compile cache (the pipeline's own, new
and empty: its first two fits race to fill it, which test_hardening checks) that every
later fit in the suite loads from. Built inside the suite, they compiled the same code at
the same time as the other workers' fits, each process paying the cold compile itself.
The `pipeline` fixture finds the run through LADDER_TEST_PIPELINE and reruns only what is
out of date (nothing, when the code has not changed in between).

Usage: LADDER_TEST_PIPELINE=DIR python tests/build_pipeline.py
"""

import sys
import time
from pathlib import Path

from conftest import KEPT_PIPELINE, build_pipeline, mirror_dir, missing_mirror

if __name__ == "__main__":
    if problem := missing_mirror():
        sys.exit(problem)
    if not KEPT_PIPELINE:
        sys.exit("set LADDER_TEST_PIPELINE to the directory to build the pipeline in")
    workdir = Path(KEPT_PIPELINE).resolve()
    started = time.perf_counter()
    build_pipeline(workdir, mirror_dir())
    print(f"shared smoke pipeline built in {workdir}: {time.perf_counter() - started:.0f} s")
