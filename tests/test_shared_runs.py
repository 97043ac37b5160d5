"""The tests' shared runs stay as they were built: a test's copy of the pipeline shares
only the outputs, which every job replaces, so what the test's own runs write in place
(Snakemake's records, a job's log) stays in the copy; the pipeline's compile cache is
not copied (a copy's runs compile into the tests' COMPILE_CACHE)."""

import os

from conftest import LINKED, PIPELINE_CACHE, linked_copy


def test_a_linked_copy_shares_outputs_and_nothing_written_in_place(tmp_path):
    run = tmp_path / "run"
    files = {
        "results/rrr/fixed/posterior.nc": "draws",
        "data/processed/rrr.parquet": "rows",
        "reports/rrr.html": "page",
        ".snakemake/metadata/cmVzdWx0cw==": '{"params": "before"}',
        "logs/fit/rrr/.fixed.log.attempts": "attempt 1",
        "workflow/notebooks/data/results/kept.txt": "a nested folder named like an output",
        f"{PIPELINE_CACHE}/numba/kernel.nbi": "compiled code",
    }
    for name, text in files.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(text)
    copy = linked_copy(run, tmp_path / "copy")
    assert not (copy / PIPELINE_CACHE.parts[0]).exists()
    for name in files:
        if name.startswith(str(PIPELINE_CACHE)):
            continue
        shared = os.path.samefile(run / name, copy / name)
        assert shared == (name.split("/")[0] in LINKED), name
    # What Snakemake and a job's first attempt do to them in the copy's own run.
    for name in (".snakemake/metadata/cmVzdWx0cw==", "logs/fit/rrr/.fixed.log.attempts"):
        with open(copy / name, "w") as handle:
            handle.write("rewritten by the copy's run")
        assert (run / name).read_text() == files[name], name
