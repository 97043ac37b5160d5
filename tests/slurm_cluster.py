"""A real one-node SLURM cluster on loopback, for the tests that submit through it.

Debian's slurmctld, slurmd and munge (installed by `make test`, see
workflow/bin/setup-test-system) are started as child processes with a slurm.conf
written for this machine: no cgroups (proctrack/linuxproc, task/none), no accounting
database. The daemons are stopped by their process ids when the block ends.

The config goes to SLURM's default path, /etc/slurm/slurm.conf: the executor plugin's
job step drops SLURM_CONF (with every other SLURM_* variable) before its nested srun.
An existing slurm.conf that is not ours is never touched: the cluster refuses to start.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SLURM_CONF = """\
ClusterName=ladder
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/d
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
# squeue must still see finished jobs when Snakemake asks (it polls every few seconds).
MinJobAge=600
# The node offers more CPUs than the machine has, so that jobs overlap their start-up
# and Snakemake's status polling; the work itself still shares the real cores.
SlurmdParameters=config_overrides
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


DEFAULT_CONF = Path("/etc/slurm/slurm.conf")
MARK = "# Written by Replication Ladder's tests (tests/slurm_cluster.py); removed after."


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024 - 1024  # leave some for the head node
    raise RuntimeError("no MemTotal in /proc/meminfo")


def _wait(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise TimeoutError(f"timed out waiting for {what}")


@contextlib.contextmanager
def local_slurm(state: Path):
    """Start munged, slurmctld and slurmd; yield the environment that points at them."""
    for command in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo"):
        if shutil.which(command) is None:
            raise RuntimeError(f"{command} is not installed: run workflow/bin/setup-test-system")
    state.mkdir(parents=True, exist_ok=True)
    (state / "ctld").mkdir(exist_ok=True)
    (state / "d").mkdir(exist_ok=True)
    # munged runs as user munge: its directory must be reachable, unlike pytest's 0700
    # temporary directories.
    munge_dir = Path(tempfile.mkdtemp(prefix="ladder-munge-"))
    munge_dir.chmod(0o755)
    shutil.chown(munge_dir, "munge", "munge")
    munge_socket = munge_dir / "munge.socket"
    host = socket.gethostname().split(".")[0]
    conf = DEFAULT_CONF
    if conf.exists() and MARK not in conf.read_text():
        raise RuntimeError(f"{conf} exists and was not written by the tests; not replacing it")
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        MARK
        + "\n"
        + SLURM_CONF.format(
            host=host,
            ctld_port=_free_port(),
            slurmd_port=_free_port(),
            state=state,
            munge_socket=munge_socket,
            cpus=4 * os.cpu_count(),
            memory=_memory_mb(),
        )
    )
    env = dict(os.environ)
    processes: list[subprocess.Popen] = []
    try:
        processes.append(
            subprocess.Popen(
                [
                    "runuser",
                    "-u",
                    "munge",
                    "--",
                    "munged",
                    "--foreground",
                    f"--socket={munge_socket}",
                    f"--pid-file={munge_dir / 'munged.pid'}",
                    f"--log-file={munge_dir / 'munged.log'}",
                    f"--seed-file={munge_dir / 'seed'}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _wait(munge_socket.exists, "munged's socket")
        processes.append(
            subprocess.Popen(
                ["slurmctld", "-D", "-i"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        processes.append(
            subprocess.Popen(
                ["slurmd", "-D"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )

        def idle() -> bool:
            state_of = subprocess.run(
                ["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True
            )
            return state_of.stdout.strip() == "idle"

        _wait(idle, "the node to be idle")
        yield env
    finally:
        # Jobs a killed run left behind, then the daemons, by their process ids.
        subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True)
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        conf.unlink(missing_ok=True)
        shutil.rmtree(munge_dir, ignore_errors=True)
