"""The NumPy backend's process settings: BLAS on one thread inside chunks, freed memory kept for reuse."""
import platform
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
    arithmetic with 1 thread as with many); one chunk keeps BLAS's own threads."""
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
