"""tf.distribute across processes: ``mpiexec -n 2`` runs tests/distribute_worker.py (mpi4py and an MPI
launcher from the ``distributed``/``test`` extras; skipped without them). Every launch has a hard timeout."""
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("mpi4py")
from gpuflow.distribute.mpi import mpiexec_command, root_env  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKER = pathlib.Path(__file__).with_name("distribute_worker.py")
MPIEXEC = mpiexec_command(2)
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install 'gpuflow[distributed]')")


def launch(mode, out, timeout=60):
    env = {**os.environ, **root_env(), "PYTHONPATH": str(ROOT), "GPUFLOW_DEVICE": "cpu"}
    start = time.monotonic()
    r = subprocess.run([*MPIEXEC, sys.executable, str(WORKER), mode, str(out)], capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=ROOT)
    return r, time.monotonic() - start


def load(out, mode, rank):
    return np.load(out / f"{mode}-{rank}.npz")


def test_mpi_collectives(tmp_path):
    r, _ = launch("collectives", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    for rank in (0, 1):
        got = load(tmp_path, "collectives", rank)
        np.testing.assert_array_equal(got["sum"], [1.0, 3.0, 5.0])
        np.testing.assert_array_equal(got["mean"], [0.5, 0.5])
        np.testing.assert_array_equal(got["bcast"], [0, 2, 4])
        np.testing.assert_array_equal(got["gather0"], np.zeros((1, 2)))
        np.testing.assert_array_equal(got["gather1"], np.ones((2, 2)))
        np.testing.assert_array_equal(got["many0"], [1.5] * 3)
        assert got["many1"].dtype == np.float32 and got["many1"].shape == (2, 2)
        assert int(got["obj"]) == 1


def test_a_hung_peer_is_named_within_the_timeout(tmp_path):
    r, elapsed = launch("hang", tmp_path, timeout=60)
    assert r.returncode != 0
    assert "CollectiveTimeoutError" in r.stderr and "rank 1 never reached it" in r.stderr, r.stderr
    assert elapsed < 30  # timeout 2 s + 1 s grace + start-up; never the 120 s the peer sleeps
