"""The NumPy backend's process settings: BLAS on one thread inside chunks, freed memory kept for reuse."""
import os
import platform
import subprocess
import sys
import threading

import pytest

from gpuflow.backend import cpu_runtime
import gpuflow.backend.numpy_backend as nb

needs_openblas = pytest.mark.skipif(not cpu_runtime.available(), reason="NumPy's BLAS is not an OpenBLAS")


@needs_openblas
def test_single_threaded_sets_one_blas_thread_and_restores_the_count():
    before = cpu_runtime.get_num_threads()
    with cpu_runtime.single_threaded():
        assert cpu_runtime.get_num_threads() == 1
        with cpu_runtime.single_threaded():  # re-entrant
            assert cpu_runtime.get_num_threads() == 1
        assert cpu_runtime.get_num_threads() == 1
    assert cpu_runtime.get_num_threads() == before


@needs_openblas
def test_single_threaded_restores_after_an_exception():
    before = cpu_runtime.get_num_threads()
    with pytest.raises(RuntimeError):
        with cpu_runtime.single_threaded():
            raise RuntimeError("boom")
    assert cpu_runtime.get_num_threads() == before


@needs_openblas
@pytest.mark.parametrize("threads", [1, 2])
def test_chunks_run_their_gemms_with_one_blas_thread(monkeypatch, threads):
    """With more than one chunk BLAS is single-threaded inside each, whatever the thread count (the same
    arithmetic with 1 thread as with many); so is one chunk of little work (BLAS's threads would busy-wait
    after it); one chunk of much work keeps BLAS's own threads."""
    seen = []
    lock = threading.Lock()

    def chunk(b0, b1):
        with lock:
            seen.append(cpu_runtime.get_num_threads())
        return b1 - b0
    monkeypatch.setattr(nb, "_THREADS", threads)
    before = cpu_runtime.get_num_threads()
    assert nb._batch_parallel(chunk, 10, 0, 5) == [5, 5]
    assert seen == [1, 1] and cpu_runtime.get_num_threads() == before
    seen.clear()
    assert nb._batch_parallel(chunk, 10, 0, 10) == [10]
    assert seen == [1] and cpu_runtime.get_num_threads() == before
    seen.clear()
    assert nb._batch_parallel(chunk, 1, nb._BLAS_THREADS_WORK) == [1]
    assert seen == [before]


def test_a_failing_chunk_raises_after_every_chunk_has_stopped(monkeypatch):
    done = []

    def chunk(b0, b1):
        if b0 == 0:
            raise RuntimeError("chunk 0")
        done.append(b0)
    monkeypatch.setattr(nb, "_THREADS", 2)
    with pytest.raises(RuntimeError, match="chunk 0"):
        nb._batch_parallel(chunk, 4, 0, 1)
    assert sorted(done) == [1, 2, 3]


@pytest.mark.skipif(platform.system() != "Linux" or not platform.libc_ver()[0] == "glibc", reason="glibc only")
def test_keep_freed_memory_tunes_glibc():
    assert cpu_runtime.keep_freed_memory() is True
    assert cpu_runtime.keep_freed_memory() is True  # idempotent


@pytest.mark.parametrize("value,threads", [("3", 3), (" 2 ", 2), ("1", 1)])
def test_num_threads_reads_gpuflow_num_threads(monkeypatch, value, threads):
    monkeypatch.setenv("GPUFLOW_NUM_THREADS", value)
    assert cpu_runtime.num_threads() == threads


@pytest.mark.parametrize("value", [None, ""])
def test_num_threads_defaults_to_the_available_cpus(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("GPUFLOW_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("GPUFLOW_NUM_THREADS", value)
    assert cpu_runtime.num_threads() == cpu_runtime.available_cpus() >= 1


@pytest.mark.parametrize("value", ["abc", "-4", "0", "2.5", "1e3", "+2", "four"])
def test_num_threads_rejects_what_is_not_a_positive_integer(monkeypatch, value):
    monkeypatch.setenv("GPUFLOW_NUM_THREADS", value)
    with pytest.raises(ValueError) as e:
        cpu_runtime.num_threads()
    assert "Expected GPUFLOW_NUM_THREADS to be a positive integer" in str(e.value)
    assert f"Received: GPUFLOW_NUM_THREADS={value!r}" in str(e.value)


def test_a_bad_gpuflow_num_threads_is_one_clear_error_at_the_first_cpu_op():
    env = dict(os.environ, GPUFLOW_NUM_THREADS="abc", GPUFLOW_DEVICE="cpu")
    code = "import gpuflow as tf; print('imported', flush=True); tf.constant([1.0]) + 1"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert run.returncode == 1 and run.stdout == "imported\n"  # importing never reads it
    last = run.stderr.strip().splitlines()[-1]
    assert last == ("ValueError: Expected GPUFLOW_NUM_THREADS to be a positive integer (the NumPy backend's CPU "
                    "threads; unset: one per available CPU). Received: GPUFLOW_NUM_THREADS='abc'"), run.stderr
    assert "invalid literal" not in run.stderr


@pytest.mark.skipif(not os.environ.get("OPENBLAS_CORETYPE") or platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="checks the OPENBLAS_CORETYPE pass of .ci/run (x86-64)")
def test_numpys_openblas_runs_the_kernels_openblas_coretype_names():
    """.ci/run runs the backend tests once more with OPENBLAS_CORETYPE=Prescott (SSE-only kernels, on any
    x86-64) so that a test assuming one BLAS kernel fails there too; that pass proves nothing unless NumPy's
    OpenBLAS honours the variable. Its DYNAMIC_ARCH builds alias Prescott as Katmai in the name they report."""
    from gpuflow.bench.env import blas_info
    config = blas_info()["config"] or ""
    wanted = os.environ["OPENBLAS_CORETYPE"].lower()
    assert {wanted, "katmai" if wanted == "prescott" else wanted} & set(config.lower().split()), config


@pytest.mark.parametrize("text,size", [("1024K\n", 1 << 20), ("2M", 2 << 20), ("512", 512), ("", None), ("12Q", None),
                                       ("0K", None)])
def test_cache_sizes_read_as_sysfs_writes_them(text, size):
    assert cpu_runtime._cache_size(text) == size


def test_blocks_are_sized_by_the_l2_cache_the_os_reports(monkeypatch):
    monkeypatch.setattr(cpu_runtime, "_l2_bytes", None)
    assert isinstance(cpu_runtime.l2_cache_bytes(), int) and cpu_runtime.l2_cache_bytes() > 0
    monkeypatch.setattr(cpu_runtime, "_l2_bytes", 1 << 20)
    assert nb._block(100_000) == 20  # about twice the L2: 2 MiB of 100 kB samples
    monkeypatch.setattr(cpu_runtime, "_l2_bytes", 256 << 10)
    assert nb._block(100_000) == 5 and nb._block(10 << 20) == 1  # at least one sample


def test_l2_cache_bytes_falls_back_to_one_mib_where_the_os_does_not_say(monkeypatch):
    def no_sysconf(name):
        raise ValueError(name)
    monkeypatch.setattr(cpu_runtime, "_l2_bytes", None)
    monkeypatch.setattr(cpu_runtime.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(cpu_runtime.os, "sysconf", no_sysconf)
    assert cpu_runtime.l2_cache_bytes() == 1 << 20
