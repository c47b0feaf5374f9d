"""The NumPy backend's helper processes (gpuflow/backend/cpu_workers.py): a convolution sweep shared with them
gives the same bytes as one thread, whatever share each process runs, and the parent carries on alone when a
helper dies, the shared pool is full, or it was forked."""
import os
import socket
import sys
import time
import warnings

import numpy as np
import pytest

import gpuflow.backend.cpu_workers as cw
import gpuflow.backend.numpy_backend as nb
from gpuflow.backend.geometry import ConvGeometry

pytestmark = pytest.mark.skipif(not hasattr(os, "memfd_create") or sys.platform != "linux",
                                reason="helper processes need Linux (memfd_create)")


@pytest.fixture
def helpers(monkeypatch):
    """Two CPU threads' worth of work split with one helper process (started now, closed after the test);
    every sweep is shared (no work threshold) in blocks of 3 samples. Yields the list of splits that ran."""
    monkeypatch.delenv("GPUFLOW_CPU_PROCESSES", raising=False)
    monkeypatch.setattr(cw, "_broken", False)
    monkeypatch.setattr(nb, "_SPLIT_WORK", 0)
    monkeypatch.setattr(nb, "_SPLIT_MIN_CHUNKS", 2)
    monkeypatch.setattr(nb, "_block", lambda sample_bytes: 3)
    monkeypatch.setattr(nb, "_balance", {})
    monkeypatch.setattr(nb._split_ways, "choose", lambda key: 1)  # always shared (not measured against threads)
    shared = []
    start = nb._Split.start

    def counted(self, bounds, work):
        mine = start(self, bounds, work)
        if mine is not None:
            shared.append((self.name, len(bounds) - 1, mine))
        return mine
    monkeypatch.setattr(nb._Split, "start", counted)
    cw.shutdown()
    monkeypatch.setattr(nb, "_THREADS", 2)
    assert cw.start(1), "the helper process did not start"
    yield shared
    cw.shutdown()


def _conv_case(n, hw, c, f, padding="VALID", strides=(1, 1), seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, hw, hw, c), dtype=np.float32) - 0.3)
    w = rng.standard_normal((3, 3, c, f), dtype=np.float32) * 0.2
    b = rng.standard_normal(f).astype(np.float32)
    g = ConvGeometry.of(x.shape, (3, 3), strides=strides, padding=padding)
    return rng, x, w, b, g


CASES = [  # (n, hw, C, F, padding, strides): im2col (few channels, stride 2) and Winograd (>= 32 channels)
    (13, 12, 1, 8, "VALID", (1, 1)),
    (11, 9, 3, 5, "SAME", (2, 2)),
    (10, 9, 32, 32, "SAME", (1, 1)),
    (7, 10, 32, 40, "VALID", (1, 1)),
]


def _run_all(backend, case):
    """Every split primitive on one case: outputs and gradients as a list of arrays."""
    n, hw, c, f, padding, strides = case
    rng, x, w, b, g = _conv_case(n, hw, c, f, padding, strides)
    out = []
    y, _ = backend.conv2d_fwd(x, w, g, b=b, relu=True)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    out += [y, *backend.conv2d_bwd(dy, w, g, x=x, y=y, relu=True, need_db=True)]
    out.append(backend.conv2d_bwd(dy, w, g, need_dw=False)[0])
    if strides == (1, 1):
        yp, saved = backend.conv2d_maxpool_fwd(x, w, g, (2, 2), b=b, relu=True)
        dyp = rng.standard_normal(yp.shape, dtype=np.float32)
        out += [yp, *backend.conv2d_maxpool_bwd(dyp, w, g, (2, 2), saved=saved, x=x, y=yp, relu=True, need_db=True)]
        out += list(backend.conv2d_maxpool_bwd(dyp, w, g, (2, 2), saved=saved, x=x, y=yp, need_dx=False))
        inferred, nothing = backend.conv2d_maxpool_fwd(x, w, g, (2, 2), b=b, relu=True, need_saved=False)
        assert nothing is None and inferred.tobytes() == yp.tobytes()  # inference: no winners, the same y
        out.append(inferred)
    return [a for a in out if a is not None]


def _assert_same_bytes(got, expected, what):
    assert len(got) == len(expected)
    for i, (a, b) in enumerate(zip(got, expected)):
        assert a.shape == b.shape and a.dtype == b.dtype, (what, i)
        assert a.tobytes() == b.tobytes(), f"{what}, result {i}: differs by up to {np.max(np.abs(a - b)):.3g}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c[2]}to{c[3]}-{c[4]}-s{c[5][0]}" for c in CASES])
def test_shared_sweeps_give_the_bytes_of_one_thread(helpers, monkeypatch, case):
    backend = nb.NumpyBackend()
    monkeypatch.setattr(nb, "_THREADS", 1)
    expected = _run_all(backend, case)
    assert not helpers  # one thread: nothing shared
    monkeypatch.setattr(nb, "_THREADS", 2)
    got = _run_all(backend, case)
    _assert_same_bytes(got, expected, "with a helper")
    names = {name for name, _, _ in helpers}
    assert {"conv2d_fwd", "_conv2d_bwd"} <= names, helpers
    if case[5] == (1, 1):
        assert {"conv2d_maxpool_fwd", "conv2d_maxpool_bwd"} <= names, helpers
    assert all(1 <= mine < chunks for _, chunks, mine in helpers)


def test_any_share_gives_the_same_bytes(helpers, monkeypatch):
    """The share each process runs follows measured speeds; the bytes must not depend on it."""
    backend = nb.NumpyBackend()
    case = CASES[2]
    monkeypatch.setattr(nb, "_THREADS", 1)
    expected = _run_all(backend, case)
    monkeypatch.setattr(nb, "_THREADS", 2)
    for here, there in ((1.0, 50.0), (50.0, 1.0), (1.0, 1.0)):  # this process much slower, much faster, equal
        keys = {}
        monkeypatch.setattr(nb, "_balance", keys)
        _run_all(backend, case)  # learns the keys
        for key in keys:
            keys[key] = [here, there]
        monkeypatch.setattr(nb, "_balance", _Frozen(keys))
        _assert_same_bytes(_run_all(backend, case), expected, f"speeds here/there {here}/{there}")
    assert {mine for _, _, mine in helpers} >= {1}  # the smallest share here was used


class _Frozen(dict):
    """A balance table that keeps its values (the splits do not update it)."""

    def __setitem__(self, key, value):
        if key not in self:
            super().__setitem__(key, value)


def test_training_is_byte_identical_with_helpers(helpers, monkeypatch):
    import gpuflow as tf
    keras = tf.keras

    def train():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Conv2D(32, 3, activation="relu"),
                                  keras.layers.MaxPooling2D(2), keras.layers.Conv2D(32, 3, activation="relu"),
                                  keras.layers.MaxPooling2D(2), keras.layers.Flatten(), keras.layers.Dense(3)])
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((17, 12, 12, 1)).astype("float32"), rng.integers(0, 3, 17)
        model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        for _ in range(3):
            model.train_on_batch(x, y)
        return model.get_weights()
    monkeypatch.setattr(nb, "_THREADS", 1)
    expected = train()
    monkeypatch.setattr(nb, "_THREADS", 2)
    got = train()
    assert {"conv2d_maxpool_fwd", "conv2d_maxpool_bwd"} <= {name for name, _, _ in helpers}
    _assert_same_bytes(got, expected, "trained weights")


def test_two_helpers_give_the_same_bytes(helpers, monkeypatch):
    backend = nb.NumpyBackend()
    monkeypatch.setattr(nb, "_THREADS", 1)
    expected = _run_all(backend, CASES[0])
    monkeypatch.setattr(nb, "_THREADS", 3)
    assert cw.start(2)
    got = _run_all(backend, CASES[0])
    _assert_same_bytes(got, expected, "with two helpers")
    assert len(cw._helpers) == 2


def test_a_full_pool_copies_the_rows_instead(helpers, monkeypatch):
    backend = nb.NumpyBackend()
    monkeypatch.setattr(nb, "_THREADS", 1)
    expected = _run_all(backend, CASES[2])
    monkeypatch.setattr(nb, "_THREADS", 2)
    monkeypatch.setattr(cw, "_pool", cw.Pool(limit=0))
    assert cw.pool().empty((4, 4), np.float32) is None
    got = _run_all(backend, CASES[2])
    _assert_same_bytes(got, expected, "pool full")
    assert helpers


def test_a_dead_helper_is_replaced_by_this_process(helpers, monkeypatch):
    backend = nb.NumpyBackend()
    monkeypatch.setattr(nb, "_THREADS", 1)
    expected = _run_all(backend, CASES[2])
    monkeypatch.setattr(nb, "_THREADS", 2)
    for h in cw._helpers:
        h.process.kill()
        h.process.wait()
    with pytest.warns(RuntimeWarning, match="helper processes failed"):
        got = _run_all(backend, CASES[2])
    _assert_same_bytes(got, expected, "after the helper died")
    assert not cw.enabled() and not cw._helpers  # threads only from then on


def test_pool_blocks_are_reused_only_once_every_view_is_gone():
    pool = cw.Pool(limit=1 << 26)
    a = pool.empty((1000,), np.float32)
    view = a[10:20]
    a[:] = 1.0
    del a
    b = pool.empty((1000,), np.float32)  # a's block is still held by the view
    b[:] = 2.0
    assert np.all(view == 1.0)
    ref = pool.ref(view)
    assert ref is not None and np.array_equal(pool.view(ref), view)
    assert pool.ref(np.zeros(3)) is None  # not in the pool
    del view
    c = pool.empty((1000,), np.float32)  # now reused
    assert pool.ref(c).offset == 0 and pool.ref(c).segment == 0


@pytest.mark.parametrize("value, threads, expected", [("", 2, 2), ("", 16, 4), ("", 1, 1), ("0", 8, 0), ("1", 8, 1),
                                                      ("3", 8, 3), ("8", 2, 2), (" 2 ", 4, 2)])
def test_the_processes_sharing_a_sweep(monkeypatch, value, threads, expected):
    monkeypatch.setenv("GPUFLOW_CPU_PROCESSES", value)
    assert cw.processes(threads) == expected
    if expected <= 1:
        assert cw.acquire(threads) == []  # no helper asked for, none started


@pytest.mark.parametrize("value", ["-1", "two", "1.5", "٣"])
def test_a_bad_process_count_is_refused_when_the_backend_starts(monkeypatch, value):
    monkeypatch.setenv("GPUFLOW_CPU_PROCESSES", value)
    with pytest.raises(ValueError) as e:
        nb.NumpyBackend()
    assert "Expected GPUFLOW_CPU_PROCESSES to be a non-negative integer" in str(e.value)
    assert f"Received: GPUFLOW_CPU_PROCESSES={value!r}" in str(e.value)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_afresh(helpers):
    pool = cw.pool()
    pid = os.fork()
    if pid == 0:  # the child: the parent's helpers and pool are not its own
        ok = not cw._helpers and cw._pool is None and cw.pool() is not pool
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert cw._helpers and cw._pool is pool


def test_a_helper_writes_its_rows_in_place_and_sends_back_only_partials(monkeypatch):
    """The helper's side (run here): given the parent's pool rows for every output, it writes them and returns
    no outputs, skipping the method's work after the sweep; its chunk results are the partials."""
    monkeypatch.setattr(nb, "_THREADS", 1)
    monkeypatch.setattr(nb, "_block", lambda sample_bytes: 2)  # the chunks sent below: the same GEMM shapes
    backend = nb.NumpyBackend()
    rng, x, w, b, g = _conv_case(8, 9, 3, 5)
    y_ref, _ = backend.conv2d_fwd(x, w, g, b=b, relu=True)
    dy = rng.standard_normal(y_ref.shape, dtype=np.float32)
    pool = cw.Pool(limit=1 << 26)
    arena = cw.Arena(os.memfd_create("arena"))
    xs, dys = pool.empty(x.shape, x.dtype), pool.empty(dy.shape, dy.dtype)
    xs[...], dys[...] = x, dy
    y = pool.empty((8, 49, 5), np.float32)  # conv2d_fwd's output as it allocates it
    request = ("conv2d_fwd", dict(x=pool.ref(xs[4:]), w=w, geometry=g, b=b, relu=True), [0, 2, 4],
               [pool.ref(y[4:])], arena.size, 0, True)
    status, _, chunks, outputs, _ = nb.serve_helper_request(backend, arena, pool, request)
    assert status == "done" and chunks == [None, None] and outputs is None
    assert y[4:].tobytes() == y_ref.reshape(8, 49, 5)[4:].tobytes()
    dxp = pool.empty((8, 9, 9, 3), np.float32)  # the data gradient's buffer (no padding: VALID)
    request = ("_conv2d_bwd", dict(dy=pool.ref(dys[4:]), w=w, geometry=g, x=pool.ref(xs[4:]), y=None, relu=False,
                                   need_dx=True, need_dw=True, need_db=True, extent=(7, 7)),
               [0, 2, 4], [pool.ref(dxp[4:])], arena.size, 0, True)
    status, _, chunks, outputs, _ = nb.serve_helper_request(backend, arena, pool, request)
    assert status == "done" and outputs is None and len(chunks) == 2  # a (dW^T, db) partial per chunk
    dw_t, db = (arena.view(r) for r in chunks[0])
    expected_dx, _, _ = backend.conv2d_bwd(dy, w, g, x=x, need_db=True)
    assert dxp[4:].tobytes() == np.ascontiguousarray(expected_dx[4:]).tobytes()
    np.testing.assert_allclose(db, dy[4:6].sum(axis=(0, 1, 2)), rtol=1e-5)
    assert dw_t.shape == (5, 27)


def test_a_signature_that_cannot_be_shared_stays_on_threads(helpers, monkeypatch):
    """One chunk (a single image) cannot be shared: after the first tries its signature is left on threads,
    so later calls neither ask for the helpers nor allocate in the pool."""
    ways = nb._FasterOf(probe_every=64, settle=2, margin=0.05, alpha=0.1)
    monkeypatch.setattr(nb, "_split_ways", ways)
    backend = nb.NumpyBackend()
    _, x, w, b, g = _conv_case(1, 12, 1, 8)
    for _ in range(8):  # sharing tried (2 calls to settle, 1 timed), then threads (likewise), then the choice
        backend.conv2d_fwd(x, w, g, b=b)
    (stats,) = ways._stats.values()
    assert stats[1] == float("inf") and stats[6] == 0  # sharing: cannot; the chosen way: threads
    asked = []
    monkeypatch.setattr(cw, "acquire", lambda threads: asked.append(threads) or [])
    for _ in range(10):
        backend.conv2d_fwd(x, w, g, b=b)
    assert not asked and not helpers


def test_a_sweep_of_few_chunks_is_not_shared():
    """Shares are whole chunks: below _SPLIT_MIN_CHUNKS they balance badly, so the sweep stays here."""
    split = nb._Split("conv2d_fwd", {}, (), helpers=[object()])
    few = nb._SPLIT_MIN_CHUNKS - 1
    assert split.start([i * 4 for i in range(few + 1)], work=1 << 40) is None and not split.parts


def test_helpers_that_cannot_start_leave_the_work_on_threads(monkeypatch):
    cw.shutdown()
    monkeypatch.delenv("GPUFLOW_CPU_PROCESSES", raising=False)
    monkeypatch.setattr(cw, "_broken", False)
    monkeypatch.setattr(cw, "_asked", cw._START_AFTER)
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    with pytest.warns(RuntimeWarning, match="helper processes failed"):
        assert cw.acquire(2) == []
    assert not cw.enabled() and not cw._helpers
    backend = nb.NumpyBackend()
    _, x, w, b, g = _conv_case(13, 12, 1, 8)
    monkeypatch.setattr(nb, "_THREADS", 2)
    y2, _ = backend.conv2d_fwd(x, w, g, b=b)
    monkeypatch.setattr(nb, "_THREADS", 1)
    y1, _ = backend.conv2d_fwd(x, w, g, b=b)
    assert y2.tobytes() == y1.tobytes()


def test_poll_readable_reports_pending_data_and_gives_up_when_there_is_none():
    a, b = socket.socketpair()
    try:
        assert cw._poll_readable(a, 0.001) is False  # nothing sent: polls its budget, then says so
        b.sendall(b"x")
        assert cw._poll_readable(a, 10.0) is True  # returns as soon as the byte is there, not after 10 s
        assert a.recv(1) == b"x"
        b.close()
        assert cw._poll_readable(a, 10.0) is True  # the other end closed: readable (the read then gets EOF)
    finally:
        a.close(), b.close()


def test_poll_readable_takes_descriptors_past_1024():
    """A process with many files open may give a helper's socket a descriptor >= 1024, which select() refuses."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1100:
        pytest.skip(f"no descriptor past 1024 can exist here (RLIMIT_NOFILE hard limit {hard})")
    if soft != resource.RLIM_INFINITY and soft <= 1100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1101, hard))  # restored below
    a, b = socket.socketpair()
    high = socket.socket(fileno=os.dup2(a.fileno(), 1100))
    try:
        b.sendall(b"x")
        assert cw._poll_readable(high, 10.0) is True
    finally:
        for s in (high, a, b):
            s.close()
        if soft != resource.RLIM_INFINITY and soft <= 1100:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_helper_woken_without_a_request_still_answers_the_next(helpers, monkeypatch):
    """acquire() wakes the helpers it returns (a _WAKE header: a request follows); one woken for nothing polls
    for a while, then sleeps, and must still read the next request intact. The filters of these cases
    (>= 4 KiB) travel through the arena, not the pickled message."""
    backend = nb.NumpyBackend()
    case = CASES[3]
    monkeypatch.setattr(nb, "_THREADS", 1)
    expected = _run_all(backend, case)
    monkeypatch.setattr(nb, "_THREADS", 2)
    for _ in range(3):  # woken three times, no request: three _WAKE headers in a row
        cw.release(cw.acquire(2))
    time.sleep(4 * cw._WAKE_POLL_S)  # past its polling: it sleeps in recv again
    puts = []
    put = cw.Arena.put
    monkeypatch.setattr(cw.Arena, "put", lambda self, a: puts.append(a.shape) or put(self, a))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a helper that failed (and was replaced by this process) warns
        _assert_same_bytes(_run_all(backend, case), expected, "after wakes with no request")
    assert helpers and (3, 3, 32, 40) in puts  # shared, with the filter in the arena
    assert cw.enabled() and all(h.process.poll() is None for h in cw._helpers)  # the helper still runs
