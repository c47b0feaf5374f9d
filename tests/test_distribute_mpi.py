"""tf.distribute across processes: ``mpiexec -n 2`` runs tests/distribute_worker.py (mpi4py and an MPI
launcher from the ``distributed``/``test`` extras; skipped without them); each launch has a hard timeout.
Two workers at a per-worker batch B must follow one process at batch 2B (float32 tolerance)."""
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("mpi4py")
from gpuflow.distribute.mpi import mpiexec_command, root_env  # noqa: E402

import distribute_worker as cases  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKER = pathlib.Path(cases.__file__)
MPIEXEC = mpiexec_command(2)
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install 'gpuflow[distributed]')")


def launch(mode, out, timeout=90):
    env = {**os.environ, **root_env(), "PYTHONPATH": str(ROOT), "GPUFLOW_DEVICE": "cpu", "GPUFLOW_NUM_THREADS": "1"}
    start = time.monotonic()
    r = subprocess.run([*MPIEXEC, sys.executable, str(WORKER), mode, str(out)], capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=ROOT)
    return r, time.monotonic() - start


def both(out, name):
    return [dict(np.load(out / f"{name}-{rank}.npz")) for rank in (0, 1)]


def assert_close(got, want, names=None):
    for k in names or want:
        np.testing.assert_allclose(got[k], want[k], rtol=2e-5, atol=2e-6, err_msg=k)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    r, _ = launch("train", out)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def test_mpi_collectives(trained):
    for got in both(trained, "collectives"):
        np.testing.assert_array_equal(got["sum"], [1.0, 3.0, 5.0])
        np.testing.assert_array_equal(got["mean"], [0.5, 0.5])
        np.testing.assert_array_equal(got["bcast"], [0, 2, 4])
        np.testing.assert_array_equal(got["gather0"], np.zeros((1, 2)))
        np.testing.assert_array_equal(got["gather1"], np.ones((2, 2)))
        np.testing.assert_array_equal(got["many0"], [1.5] * 3)
        assert got["many1"].dtype == np.float32 and got["many1"].shape == (2, 2)
        assert int(got["obj"]) == 1


@pytest.mark.parametrize("case", ["cnn", "sync_bn", "custom"])
def test_two_workers_follow_one_process_at_the_global_batch(trained, case):
    """fit/evaluate/predict (loss and metrics reduced over workers, predictions gathered), a synchronized
    BatchNormalization, and a custom loop with strategy.run + compute_average_loss."""
    rank0, rank1 = both(trained, case)
    want = {"cnn": cases.cnn_case, "sync_bn": cases.sync_bn_case, "custom": cases.custom_loop_case}[case](None)
    assert set(rank0) == set(want)
    assert_close(rank0, want)
    for k in rank0:  # the replicas stay identical
        np.testing.assert_array_equal(rank0[k], rank1[k], err_msg=k)


def test_a_hung_peer_is_named_within_the_timeout(tmp_path):
    r, elapsed = launch("hang", tmp_path)
    assert r.returncode != 0
    assert "CollectiveTimeoutError" in r.stderr and "rank 1 never reached it" in r.stderr, r.stderr
    assert elapsed < 30  # timeout 2 s + 1 s grace + start-up; never the 120 s the peer sleeps


def test_a_killed_worker_ends_the_job_and_the_rerun_resumes_to_the_same_weights(trained, tmp_path):
    r, elapsed = launch("kill", tmp_path)
    assert r.returncode != 0 and elapsed < 60
    assert "rank 1" in r.stdout + r.stderr and "signal 9" in r.stdout + r.stderr, r.stdout + r.stderr
    meta = (tmp_path / "backup" / "training_metadata.json").read_text()
    assert '"epoch": 1' in meta and '"steps_done": 2' in meta  # killed at epoch 1, batch 3: backed up after 2
    r, _ = launch("resume", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (tmp_path / "backup").exists()  # delete_checkpoint
    uninterrupted = both(trained, "uninterrupted")[0]
    for resumed in both(tmp_path, "resumed"):
        assert_close(resumed, uninterrupted)


def _have_fashion_mnist():
    from gpuflow.keras.datasets import fashion_mnist
    try:
        fashion_mnist.load_data()
        return True
    except (FileNotFoundError, OSError):
        return False


@pytest.mark.skipif(not _have_fashion_mnist(), reason="Fashion-MNIST not installed (apt-get install "
                                                      "dataset-fashion-mnist)")
def test_cli_trains_the_seed_cnn_on_two_workers_as_one_process(tmp_path, capsys):
    """`mpiexec -n 2 python -m gpuflow train --strategy multi_worker`: worker 0 alone prints and saves, and the
    weights are one process's at the same (global) batch."""
    from gpuflow import cli, keras
    args = ["train", "--subset", "256", "--epochs", "1", "--batch-size", "128", "--verbose", "2", "--seed", "0"]
    env = {**os.environ, **root_env(), "PYTHONPATH": str(ROOT), "GPUFLOW_DEVICE": "cpu", "GPUFLOW_NUM_THREADS": "1"}
    two = tmp_path / "two.weights.h5"
    r = subprocess.run([*MPIEXEC, sys.executable, "-m", "gpuflow", *args, "--strategy", "multi_worker",
                        "--save", str(two)], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("Test accuracy:") == 1 and "2 replica(s) (multi_worker)" in r.stdout, r.stdout
    one = tmp_path / "one.weights.h5"
    assert cli.main([*args, "--strategy", "mirrored", "--save", str(one)]) == 0
    assert "1 replica(s) (mirrored)" in capsys.readouterr().out
    from gpuflow.zoo import build_seed_cnn
    models = []
    for path in (one, two):
        models.append(build_seed_cnn(keras))
        models[-1].load_weights(path)
    for a, b in zip(*(m.get_weights() for m in models)):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
