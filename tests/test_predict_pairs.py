"""``predict`` on the CPU may run two batches at once (``NumpyBackend.map_batches``, chosen by measured speed):
the same bytes in the same order as one batch after the other, errors at their batch's turn, and only for models
and calls that cannot tell the difference (``gpuflow.keras.models._pairable_backend``)."""
import os
import sys
import threading
import warnings

import numpy as np
import pytest

import gpuflow as tf
import gpuflow.backend.cpu_workers as cw
from gpuflow import device as gdevice
from gpuflow.backend import numpy_backend as nb
from gpuflow.keras import helper_predict, models

keras = tf.keras
layers = keras.layers


@pytest.fixture
def way(monkeypatch):
    """Forces map_batches' way (0: one batch after the other, 1: two at once; set ``way["way"]``) with two
    threads."""
    monkeypatch.setattr(nb, "_THREADS", 2)
    chosen = {"way": 1}
    monkeypatch.setattr(nb._batch_ways, "choose", lambda key: chosen["way"])
    return chosen


def _threads_seen(fn):
    seen = []

    def wrapped(item):
        seen.append((item, threading.current_thread().name, nb._num_threads()))
        return fn(item)
    return wrapped, seen


@pytest.mark.parametrize("count", [0, 1, 2, 3, 6, 7])
@pytest.mark.parametrize("forced", [0, 1])
def test_map_batches_yields_every_result_in_order(way, count, forced):
    way["way"] = forced
    fn, seen = _threads_seen(lambda i: i * 10)
    assert list(nb.NumpyBackend().map_batches(fn, iter(range(count)), "key")) == [i * 10 for i in range(count)]
    assert sorted(item for item, _, _ in seen) == list(range(count))
    on_other = {item for item, name, _ in seen if name.startswith("gpuflow-batch")}
    # the first batch alone, then pairs: the second of each pair on the other thread (two at once), with one
    # thread each; one after the other, all on the caller's thread with both threads
    pairs = [(1 + 2 * k, 2 + 2 * k) for k in range(max(0, count - 1) // 2)]
    assert on_other == ({b for _, b in pairs} if forced else set())
    paired = {i for pair in pairs for i in pair}
    assert all(threads == (1 if forced and item in paired else 2) for item, _, threads in seen), seen
    assert nb._num_threads() == 2  # restored on this thread


def test_map_batches_raises_an_error_at_its_batchs_turn(way):
    """Batch 2 (the second of the first pair, on the other thread) fails: batches 0 and 1 come first; batch 1
    failing (on this thread) waits for batch 2 and raises its own error."""
    def fn(i):
        if i == fail:
            raise ValueError(f"batch {i}")
        return i
    for fail in (2, 1):
        got = []
        with pytest.raises(ValueError, match=f"batch {fail}"):
            for r in nb.NumpyBackend().map_batches(fn, range(5), "errors"):
                got.append(r)
        assert got == list(range(fail))
        assert nb._num_threads() == 2


def test_map_batches_raises_an_error_reading_the_batches_after_the_results_before_it(way):
    def batches():
        yield from range(4)
        raise OSError("the file went away")
    got = []
    with pytest.raises(OSError, match="went away"):
        for r in nb.NumpyBackend().map_batches(lambda i: i, batches(), "reading"):
            got.append(r)
    assert got == [0, 1, 2, 3]


def test_map_batches_measures_both_ways_and_keeps_the_faster(monkeypatch):
    """Unforced: the first pairs try each way; the recorded times pick the way later pairs take."""
    monkeypatch.setattr(nb, "_THREADS", 2)
    monkeypatch.setattr(nb, "_batch_ways", nb._FasterOf(probe_every=1000, settle=0))
    import time

    def fn(i):  # a sleep releases the GIL: two at once take half the time
        time.sleep(0.01)
        return i
    assert list(nb.NumpyBackend().map_batches(fn, range(11), "sleep")) == list(range(11))
    st = nb._batch_ways._stats[("sleep", False)]  # (no helper process: no remote)
    assert st[0] is not None and st[1] is not None and st[1] < st[0]
    assert st[6] == 1  # the faster: two at once


def _model(extra=None):
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((10, 10, 1)), layers.Conv2D(8, 3, activation="relu"),
                             layers.MaxPooling2D(2), layers.Flatten(), *(extra or []), layers.Dense(4)])


def _x(n=37):
    return np.random.default_rng(0).standard_normal((n, 10, 10, 1)).astype(np.float32)


def _functional():
    keras.utils.set_random_seed(4)
    inputs = keras.Input((10, 10, 1))
    a = layers.Conv2D(6, 3, padding="same", activation="relu")(inputs)
    b = layers.Conv2D(6, 1)(inputs)
    x = layers.BatchNormalization()(layers.Add()([a, b]))
    x = layers.GlobalAveragePooling2D()(layers.MaxPooling2D(2)(x))
    return keras.Model(inputs, [layers.Dense(3)(x), layers.Dense(2, activation="softmax")(x)])


@pytest.mark.parametrize("build", [_model, _functional])
def test_predict_in_pairs_gives_the_bytes_of_one_batch_after_the_other(way, monkeypatch, build):
    model = build()
    used = []
    original = nb.NumpyBackend.map_batches
    monkeypatch.setattr(nb.NumpyBackend, "map_batches", lambda self, *a: used.append(a[2]) or original(self, *a))
    def predict():
        out = model.predict(_x(), batch_size=4, verbose=0)
        return b"".join(o.tobytes() for o in (out if isinstance(out, list) else [out]))
    way["way"] = 0
    alone = predict()
    way["way"] = 1
    paired = predict()
    assert len(used) == 2 and len(alone) == 37 * (4 if build is _model else 5) * 4
    assert paired == alone
    monkeypatch.setattr(nb, "_THREADS", 1)  # one thread: nothing to pair, the same bytes
    assert predict() == alone


def test_predict_in_pairs_keeps_the_callers_device_scope(way, monkeypatch):
    """The device scope is per thread: the other thread runs its batches in the caller's, not the default."""
    monkeypatch.setattr(gdevice, "_default", gdevice.Device("reference"))
    with tf.device("cpu"):
        model = _model()
        want = model.predict(_x(9), batch_size=2, verbose=0)  # pairs (forced)
        assert models._pairable_backend(model, None) is not None
    with tf.device("reference"):
        ref = _model()
        ref.set_weights(model.get_weights())
        np.testing.assert_allclose(ref.predict(_x(9), batch_size=2, verbose=0), want, rtol=1e-5, atol=1e-6)


class _Subclassed(keras.Sequential):
    pass


class _MyDense(layers.Dense):
    pass


@pytest.mark.parametrize("case", ["plain", "lambda", "user layer", "subclassed model", "callbacks",
                                  "activity regularizer", "mixed policy", "call hook"])
def test_only_models_and_calls_that_cannot_tell_run_in_pairs(case):
    callbacks = [keras.callbacks.Callback()] if case == "callbacks" else None
    if case == "mixed policy":
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        extra = {"lambda": [layers.Lambda(lambda t: t * 2.0)], "user layer": [_MyDense(5)],
                 "activity regularizer": [layers.Dense(5, activity_regularizer="l2")]}.get(case)
        model = _model(extra)
        if case == "subclassed model":
            model = _Subclassed(model.layers)
            model.build((None, 10, 10, 1))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if case == "call hook":
        from gpuflow.keras.layers.base import call_hook
        with call_hook(lambda *a: None):
            assert models._pairable_backend(model, callbacks) is None
        return
    assert (models._pairable_backend(model, callbacks) is not None) == (case == "plain")


@pytest.mark.parametrize("bad", [2, 3])  # the second of a pair (the other thread) or the first (this one)
def test_predict_in_pairs_reports_a_bad_batch_as_one_after_the_other(way, bad):
    model = _model()

    def batches():
        for i in range(5):
            yield _x(4)[:, :9 if i == bad else 10]  # 9 rows instead of 10 at batch `bad`
    errors = []
    for forced in (0, 1):
        way["way"] = forced
        with pytest.raises(ValueError) as error:
            model.predict(batches(), verbose=0)
        errors.append(str(error.value))
    assert errors[0] == errors[1] and "10" in errors[0] and "9" in errors[0]


# -- the second batch of a pair in a helper process (gpuflow.keras.helper_predict) ---------------------------
needs_helpers = pytest.mark.skipif(not hasattr(os, "memfd_create") or sys.platform != "linux",
                                   reason="helper processes need Linux (memfd_create)")


@pytest.fixture
def helper(way, monkeypatch):
    """One helper process started now (closed after the test), pairs forced; yields the configs checked."""
    monkeypatch.delenv("GPUFLOW_CPU_PROCESSES", raising=False)
    monkeypatch.setattr(cw, "_broken", False)
    monkeypatch.setattr(helper_predict, "_checked", {})
    cw.shutdown()
    assert cw.start(1), "the helper process did not start"
    yield helper_predict._checked
    cw.shutdown()


def _served(monkeypatch):
    """Counts the batches helpers answered."""
    served = []
    receive = helper_predict.RemoteForward.receive

    def counted(self, h, batch, like):
        out = receive(self, h, batch, like)
        served.append(len(batch[0]))
        return out
    monkeypatch.setattr(helper_predict.RemoteForward, "receive", counted)
    return served


@needs_helpers
@pytest.mark.parametrize("build", [_model, _functional])
def test_predict_with_a_helper_gives_the_bytes_of_one_batch_after_the_other(helper, way, monkeypatch, build):
    model = build()
    served = _served(monkeypatch)

    def predict():
        out = model.predict(_x(), batch_size=4, verbose=0)
        return b"".join(o.tobytes() for o in (out if isinstance(out, list) else [out]))
    way["way"] = 0
    alone = predict()
    assert not served
    way["way"] = 1
    assert predict() == alone and predict() == alone  # the second call ships its weights again
    assert len(served) == 2 * 4 and served[-1] == 4  # batches 2, 4, 6, 8 of 0..9 (the last, 1 row, alone)
    assert list(helper.values()) == [True]  # the first batch a helper answered was checked here: the same bytes
    model.layers[-1].kernel.assign(model.layers[-1].kernel.numpy() * 2.0)  # new weights: shipped with the call
    way["way"] = 0
    changed = predict()
    way["way"] = 1
    assert predict() == changed != alone


@needs_helpers
def test_a_helper_that_dies_leaves_the_batches_to_this_process(helper, way, monkeypatch):
    model = _model()
    way["way"] = 0
    alone = model.predict(_x(), batch_size=4, verbose=0)
    way["way"] = 1
    for h in cw._helpers:
        h.process.kill()
        h.process.wait()
    with pytest.warns(RuntimeWarning, match="helper processes failed"):
        got = model.predict(_x(), batch_size=4, verbose=0)
    assert got.tobytes() == alone.tobytes()
    assert not cw.enabled()


@needs_helpers
@pytest.mark.parametrize("bad", [2, 3])  # the helper's batch of a pair, or this process's
def test_a_bad_batch_sent_to_a_helper_reports_the_error_of_one_after_the_other(helper, way, bad):
    model = _model()

    def batches():
        for i in range(5):
            yield _x(4)[:, :9 if i == bad else 10]
    errors = []
    for forced in (0, 1):
        way["way"] = forced
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the helper refused the batch: not a failed helper
            with pytest.raises(ValueError) as error:
                model.predict(batches(), verbose=0)
        errors.append(str(error.value))
    assert errors[0] == errors[1] and cw.enabled()
    assert model.predict(_x(), batch_size=4, verbose=0).shape == (37, 4)  # the helper still answers


class _FakeHelper:
    """A helper whose reply is given: for RemoteForward.receive alone."""

    def __init__(self, arrays):
        self.arena = cw.Arena(os.memfd_create("test-arena"))
        self.arena.reset()
        self.refs = [self.arena.put(a) for a in arrays]

    def receive(self):
        return "done", self.arena.size, self.refs, False


@needs_helpers
def test_a_config_whose_helper_outputs_differ_stays_on_threads(monkeypatch):
    monkeypatch.setattr(helper_predict, "_checked", {})
    model = _model()
    x = _x(4)
    here = model(x, training=False).numpy()
    remote = helper_predict.RemoteForward(model, lambda batch: model(batch[0], training=False))
    got = remote.receive(_FakeHelper([here + 1e-6]), (x,), here)
    assert np.asarray(got).tobytes() == here.tobytes()  # this process's outputs, not the helper's
    assert not remote.usable and helper_predict._checked == {remote.spec: False}
    again = helper_predict.RemoteForward(model, None)
    assert not again.usable  # later calls with this config too


@needs_helpers
@pytest.mark.parametrize("forced", [0, 1])
def test_predict_starts_the_helpers_only_after_a_while_of_pairs(way, monkeypatch, forced):
    """A short predict never pays a helper's start (~1 s of a core): its sweeps and pairs neither start the
    helpers nor count toward starting them until its batches have taken ``_HELPERS_AFTER_S`` in this process."""
    monkeypatch.delenv("GPUFLOW_CPU_PROCESSES", raising=False)
    monkeypatch.setattr(cw, "_broken", False)
    monkeypatch.setattr(cw, "_START_AFTER", 1)
    monkeypatch.setattr(nb._split_ways, "choose", lambda key: 1)  # every sweep asks for helpers
    cw.shutdown()
    way["way"] = forced
    model = _model()
    try:
        monkeypatch.setattr(nb, "_HELPERS_AFTER_S", 1e9)
        model.predict(_x(), batch_size=4, verbose=0)
        assert not cw._helpers and cw._asked == 0
        monkeypatch.setattr(nb, "_HELPERS_AFTER_S", 0.0)
        model.predict(_x(), batch_size=4, verbose=0)
        assert cw._helpers  # started (in the background)
    finally:
        cw.shutdown()


def _doubled_relu(t):  # a function of this test module: a helper cannot import it
    return tf.nn.relu(t) * 2.0


@needs_helpers
def test_a_model_a_helper_cannot_rebuild_stays_on_threads(helper, way, monkeypatch):
    model = _model([layers.Dense(6, activation=_doubled_relu)])
    served = _served(monkeypatch)
    way["way"] = 0
    alone = model.predict(_x(), batch_size=4, verbose=0)
    way["way"] = 1
    sent = []
    send = helper_predict.RemoteForward.send
    monkeypatch.setattr(helper_predict.RemoteForward, "send", lambda self, h, b: sent.append(1) or send(self, h, b))
    for _ in range(2):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # not a failed helper
            assert model.predict(_x(), batch_size=4, verbose=0).tobytes() == alone.tobytes()
    assert len(sent) == 1 and not served  # refused once (it cannot import the activation), then threads
    assert list(helper.values()) == [False] and cw.enabled()


@needs_helpers
@pytest.mark.parametrize("where", ["here", "receive"])
def test_an_interrupt_in_a_helper_pair_closes_that_helper_and_the_next_predict_is_right(helper, way, monkeypatch,
                                                                                       where):
    """Ctrl+C may cut a helper's reply in half: that helper is closed (never read out of step), and the next
    predict gives the same bytes."""
    model = _model()
    way["way"] = 0
    alone = model.predict(_x(), batch_size=4, verbose=0)
    way["way"] = 1
    armed = [True]
    if where == "here":  # this process's batch of the first pair (the helper has the other)
        original, calls = model.predict_step, []

        def step(batch):
            calls.append(1)
            if armed[0] and len(calls) == 2:
                raise KeyboardInterrupt
            return original(batch)
        monkeypatch.setattr(model, "predict_step", step)
    else:
        receive = helper_predict.RemoteForward.receive

        def receive_or_interrupt(self, h, batch, like):
            if armed[0]:
                raise KeyboardInterrupt
            return receive(self, h, batch, like)
        monkeypatch.setattr(helper_predict.RemoteForward, "receive", receive_or_interrupt)
    with pytest.raises(KeyboardInterrupt):
        model.predict(_x(), batch_size=4, verbose=0)
    assert not cw._helpers  # closed
    armed[0] = False
    assert model.predict(_x(), batch_size=4, verbose=0).tobytes() == alone.tobytes()
