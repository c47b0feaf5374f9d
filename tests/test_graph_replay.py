"""Capture and replay of fit's training step on the CUDA backend (here its emulator, which records the step's
launches and array work and replays that list on the same buffers, never the Python step): replayed training
gives the eager losses, metrics and weights; a change of batch shape (the last partial batch) captures its own
graph; what a replay cannot repeat (Dropout's random draws) runs eagerly with the reason; a missed operation
cannot go unnoticed. Emulator-verified; the GPU path (CUDA graphs) has never run on a GPU."""
import numpy as np
import pytest

import gpuflow as tf
from gpuflow.backend import graph as graph_module
from gpuflow.device import probe_emulator

keras = tf.keras
ok, why = probe_emulator()
pytestmark = pytest.mark.skipif(not ok, reason=f"emulator unavailable: {why}")


def _images(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 6, 6, 1), dtype=np.float32), rng.integers(0, 3, n)


def _cnn(extra=(), optimizer="adam", **compile_kwargs):
    rng = np.random.default_rng(1)
    with tf.device("emulator"):
        model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                                  keras.layers.MaxPooling2D(2), *extra, keras.layers.Flatten(),
                                  keras.layers.Dense(3)])
        model.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5 for w in model.get_weights()])
        model.compile(optimizer=optimizer, metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), **compile_kwargs)
    return model


def _train(model, epochs=3, **fit_kwargs):
    x, y = _images()
    with tf.device("emulator"), tf.profiler.profile() as prof:
        history = model.fit(x, y, batch_size=3, epochs=epochs, verbose=0, shuffle=False, **fit_kwargs)
    return history.history, model.get_weights(), prof


def _assert_same_training(eager, replayed):
    for key in eager[0]:
        np.testing.assert_allclose(replayed[0][key], eager[0][key], rtol=1e-6, err_msg=key)
    for a, b in zip(eager[1], replayed[1]):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("extra, optimizer", [((), "adam"),
                                              ((keras.layers.BatchNormalization(),),
                                               keras.optimizers.SGD(0.1, momentum=0.9))],
                         ids=["cnn-adam", "batchnorm-sgd-momentum"])
def test_replayed_training_gives_the_eager_losses_metrics_and_weights(extra, optimizer):
    opt = lambda: optimizer if isinstance(optimizer, str) else optimizer.from_config(optimizer.get_config())  # noqa
    eager = _train(_cnn([type(l).from_config(l.get_config()) for l in extra], opt(), jit_compile=False))
    replayed = _train(_cnn([type(l).from_config(l.get_config()) for l in extra], opt()))
    _assert_same_training(eager, replayed)
    model_status = replayed[2]
    # 8 samples in batches of 3: two full batches and a partial one per epoch, each shape its own graph
    assert model_status.graph_launches >= 3
    assert eager[2].graph_launches == 0


def test_a_partial_batch_gets_its_own_graph_and_the_status_says_so():
    model = _cnn()
    _, _, prof = _train(model, epochs=4)
    status = model.graph_status()
    assert set(status) == {"float32[3, 6, 6, 1], int64[3]", "float32[2, 6, 6, 1], int64[2]"}, status
    # full batches: warm-up twice (the first step creates the optimizer slots and metrics), capture, then replays
    assert status["float32[3, 6, 6, 1], int64[3]"] == "replayed 5 times", status
    assert status["float32[2, 6, 6, 1], int64[2]"] == "replayed 2 times", status
    assert prof.graph_launches == 7 and prof.table().splitlines()[-1].split() == ["Graph", "launches", "7"]


def test_a_replayed_step_copies_only_the_batch_and_never_reads_the_device():
    model = _cnn()
    _train(model, epochs=2)  # captured
    x, y = _images()
    with tf.device("emulator"), tf.profiler.profile() as prof:
        model.fit(x[:6], y[:6], batch_size=3, epochs=1, verbose=0, shuffle=False)
    hc = prof.host_contacts()
    assert prof.graph_launches == 2
    assert hc["h2d"] == {"count": 4, "bytes": 2 * (x[:3].nbytes + y[:3].nbytes)}, hc  # x and y of each step
    assert hc["d2h"]["count"] == 1 and hc["sync"]["count"] == 0, hc  # the epoch's logs


def test_dropout_is_not_replayed_and_the_status_says_why():
    """Found in the warm-up step, so no capture is tried: the seeded draws are the eager run's."""
    runs = []
    for jit_compile in (False, "auto"):
        keras.utils.set_random_seed(3)
        model = _cnn([keras.layers.Dropout(0.5)], jit_compile=jit_compile)
        runs.append(_train(model))
    _assert_same_training(*runs)
    assert runs[1][2].graph_launches == 0
    assert all(s.startswith("eager: the step draws random numbers") for s in model.graph_status().values())


def test_jit_compile_true_warns_once_per_batch_shape_when_the_step_runs_eagerly():
    model = _cnn([keras.layers.Dropout(0.5)], jit_compile=True)
    with pytest.warns(RuntimeWarning, match=r"jit_compile=True\): the training step runs eagerly on this batch "
                                            r"shape: the step draws random numbers") as caught:
        _train(model, epochs=3)
    assert len([w for w in caught if "jit_compile=True" in str(w.message)]) == 2  # the full and the partial batch


@pytest.mark.parametrize("switch", [{"jit_compile": False}, {"run_eagerly": True}])
def test_the_switches_turn_replay_off(switch):
    model = _cnn(**switch)
    _, _, prof = _train(model, epochs=2)
    assert prof.graph_launches == 0 and model.graph_status() == {}


def test_jit_compile_is_checked_and_settable():
    with pytest.raises(ValueError, match="Expected `jit_compile` to be 'auto', True or False. Received: "
                                         "jit_compile='xla'"):
        _cnn(jit_compile="xla")
    model = _cnn()
    assert model.jit_compile == "auto"
    model.jit_compile = False  # as Keras's Model.jit_compile
    _, _, prof = _train(model, epochs=2)
    assert prof.graph_launches == 0 and model.graph_status() == {}
    with pytest.raises(ValueError, match="Received: jit_compile=1.5"):
        model.jit_compile = 1.5


@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_work_the_recorder_cannot_see_refuses_the_capture():
    class HostScale(keras.layers.Layer):  # array work on the host, behind the recorder's back
        def call(self, x):
            return tf.Tensor(np.multiply(x._data.view(np.ndarray), 2.0), x.device, x.backend)

    model = _cnn([HostScale()])
    _, _, prof = _train(model)
    assert prof.graph_launches == 0
    assert all("that the capture did not produce" in s for s in model.graph_status().values()), \
        model.graph_status()


def test_a_replay_missing_an_operation_fails_the_comparison(monkeypatch):
    """The comparison above is sensitive: replaying the list without its last kernel launch changes the
    weights."""
    eager = _train(_cnn(jit_compile=False))
    replay = graph_module._Recorder.replay

    def replay_but_one(self):
        ops, self.ops = self.ops, [op for op in self.ops if op is not _last_launch(self.ops)]
        try:
            replay(self)
        finally:
            self.ops = ops
    monkeypatch.setattr(graph_module._Recorder, "replay", replay_but_one)
    replayed = _train(_cnn())
    with pytest.raises(AssertionError):
        _assert_same_training(eager, replayed)


def _last_launch(ops):
    return [op for op in ops if isinstance(op[0], __import__("functools").partial)][-1]


def test_the_seed_cnn_replayed_trains_as_eagerly():
    from gpuflow.zoo import build_seed_cnn
    x, y = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32), np.array([0, 3, 9, 1])
    runs = []
    for jit_compile in (False, "auto"):
        with tf.device("emulator"):
            model = build_seed_cnn(keras)
            model.set_weights([np.random.default_rng(1).normal(size=w.shape).astype("float32") * 0.1
                               for w in model.get_weights()])
            model.compile(optimizer="adam", metrics=["accuracy"], jit_compile=jit_compile,
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            history = model.fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False)
        runs.append((history.history, model.get_weights()))
    _assert_same_training(*runs)
    assert model.graph_status() == {"float32[2, 28, 28, 1], int64[2]": "replayed 1 times"}


def test_bench_model_times_the_step_eager_and_replayed(tmp_path, monkeypatch, capsys):
    from gpuflow.bench import model as bench_model, peers
    # the workers in this process (the suite's own subprocesses are tested in test_bench.py)
    monkeypatch.setattr(peers, "run_worker", lambda fw, python, job, **kw: bench_model.run_model_job(
        dict(job, framework=fw)))
    f = tmp_path / "tiny.py"
    f.write_text("def build_model(keras):\n"
                 "    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])\n")
    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()  # the worker sets it (--tf32)
    try:
        with tf.device("emulator"):
            rows, _, _, _ = bench_model.run_model(str(f), device="emulator", batch_size=4, samples=8,
                                                  data="synthetic", warmup=1, repeat=3, graph="both")
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(tf32)
    assert [(r["framework"], r["status"], r["graph"]) for r in rows] == [("gpuflow", "ok", "off"),
                                                                       ("gpuflow", "ok", "on")], rows
    assert rows[0]["graph_status"] == {}
    # untimed: two eager steps and the capture; then the warm-up call and the 3 timed steps, replayed
    assert rows[1]["graph_status"] == {"float32[4, 6], int64[4]": "replayed 4 times"}, rows[1]


def test_an_eager_step_copies_no_python_scalar_to_the_device():
    """A Python number made a tensor on the CUDA backend (the loss's ``total / n``) is filled in on the device;
    what an eager step copies up is the batch (x, and y for the loss and again for the accuracy)."""
    x, y = _images(12)
    model = _cnn(jit_compile=False)
    with tf.device("emulator"):
        model.fit(x, y, batch_size=3, epochs=1, verbose=0)  # the optimizer's slots and the metrics made
        with tf.profiler.profile() as prof:
            model.fit(x, y, batch_size=3, epochs=1, verbose=0)
        be = model.weights[0].backend
        with tf.profiler.profile() as one:
            three = be.asarray(3.0, dtype=np.float32)
    assert prof.host_contacts()["h2d"] == {"count": 4 * 3, "bytes": x.nbytes + 2 * y.nbytes}
    assert one.host_contacts()["h2d"]["count"] == 0 and three.shape == () and float(three) == 3.0


def test_state_replaced_between_fits_is_picked_up():
    """set_weights writes in place (the graph reads the new values); a hyperparameter given a new value (SGD's
    momentum, baked into the capture) makes the step be captured again."""
    runs = []
    for jit_compile in (False, "auto"):
        model = _cnn(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), jit_compile=jit_compile)
        start = model.get_weights()
        _train(model, epochs=2)
        model.set_weights(start)
        model.optimizer.momentum = 0.5
        model.optimizer.learning_rate = 0.2
        runs.append(_train(model, epochs=2))
    _assert_same_training(*runs)
    # per signature one step of the second fit was a capture again (the momentum changed), not a replay
    assert set(model.graph_status().values()) == {"replayed 4 times", "replayed 1 times"}, model.graph_status()


def test_a_host_value_that_changes_between_steps_refuses_the_capture():
    class StepScale(keras.layers.Layer):  # a Python number the step makes a tensor, different every step
        steps = 0

        def call(self, x):
            StepScale.steps += 1
            return x * (1.0 + 0.01 * StepScale.steps)

    eager = _train(_cnn([StepScale()], jit_compile=False))
    StepScale.steps = 0
    model = _cnn([StepScale()])
    replayed = _train(model)
    _assert_same_training(eager, replayed)
    assert all(s.startswith("eager: the step uploads a host value that changes between steps")
               for s in model.graph_status().values()), model.graph_status()


class _FakeCupy:
    """Just enough of CuPy's stream, graph and memory-pool API to follow capture_cuda's calls (no GPU here: what
    a CUDA graph does is not emulated, only the order of the calls is checked)."""

    def __init__(self):
        import contextlib
        import types
        self.log, fake = [], self

        class Stream:
            current = None

            def __init__(self, non_blocking=False):
                self.non_blocking = non_blocking

            def __enter__(self):
                self.outer, Stream.current = Stream.current, self
                return self

            def __exit__(self, *exc):
                Stream.current = self.outer

            def record(self):
                return ("event on", self)

            def wait_event(self, event):
                fake.log.append(("wait", event[1] is fake.default, self.non_blocking))

            def begin_capture(self):
                fake.log.append(("begin", fake.pool_active))

            def end_capture(self):
                fake.log.append(("end",))
                return types.SimpleNamespace(launch=lambda stream=None: fake.log.append(
                    ("launch on the current stream", stream is fake.default)))

        class Buffer(np.ndarray):
            def set(self, host, stream=None):
                self[...] = host

        @contextlib.contextmanager
        def using_allocator(malloc):
            fake.pool_active = True
            try:
                yield
            finally:
                fake.pool_active = False
        self.pool_active, self.default = False, Stream()
        def pool():
            return types.SimpleNamespace(malloc=None, free_all_blocks=lambda: fake.log.append(("free pool",)))
        self.cuda = types.SimpleNamespace(Stream=Stream, MemoryPool=pool, using_allocator=using_allocator,
                                          get_current_stream=lambda: fake.default)
        self.ndarray, self.asarray = np.ndarray, np.asarray
        self.empty = lambda shape, dtype: np.empty(shape, dtype).view(Buffer)


class _FakeBackend:
    xp = np

    def __init__(self):
        import contextlib
        self.graph = None

        @contextlib.contextmanager
        def capturing(graph):
            self.graph = graph
            try:
                yield
            finally:
                self.graph = None
        self.capturing = capturing

    def defer_check(self, *args):
        pass


def test_the_cuda_capture_calls_in_order(monkeypatch):
    """capture_cuda (never run on a GPU): a non-blocking side stream that waits for the current one, the private
    pool active through the capture, the capture always ended, the graph launched on the current stream, the
    pool's free blocks released when the graph is gone; a refused capture runs the step eagerly."""
    fake = _FakeCupy()
    monkeypatch.setitem(__import__("sys").modules, "cupy", fake)
    runs = []

    def step(batch):
        runs.append(graph_module.capturing_cuda())
        if refuse:
            be.graph.refuse("the step draws random numbers")
        return {"loss": batch[0].sum()}

    for refuse in (False, True):
        be, fake.log[:] = _FakeBackend(), []
        runs.clear()
        g = graph_module.StepGraph(be, step, gpu=True)
        if refuse:
            g.phase = "capture"  # past the warm-up (which would have noted it)
        for _ in range(3):
            g([np.ones((2, 3), np.float32)])
        if not refuse:
            assert runs == [False, True] and g.phase == "replay" and g.replays == 1
            del g
            __import__("gc").collect()
            assert fake.log == [("wait", True, True), ("begin", True), ("end",),
                                ("launch on the current stream", True), ("launch on the current stream", True),
                                ("free pool",)]
        else:
            assert runs == [True, False, False, False] and g.phase == "eager", runs
            assert g.reason == "the step draws random numbers"
            assert fake.log == [("wait", True, True), ("begin", True), ("end",)]


def test_several_inputs_outputs_and_sample_weights_are_replayed_as_eagerly():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(10, 4)).astype("float32"), rng.normal(size=(10, 2)).astype("float32")
    y, y2, sw = rng.integers(0, 3, 10), rng.normal(size=(10, 1)).astype("float32"), np.linspace(0.5, 1.5, 10)
    runs = []
    for jit_compile in (False, "auto"):
        with tf.device("emulator"):
            i1, i2 = keras.Input((4,)), keras.Input((2,))
            h = keras.layers.Concatenate()([i1, i2])
            model = keras.Model([i1, i2], [keras.layers.Dense(3, name="cls")(h), keras.layers.Dense(1, name="reg")(h)])
            model.set_weights([np.full(w.shape, 0.1, "float32") for w in model.get_weights()])
            model.compile(optimizer="adam", metrics=[["accuracy"], ["mae"]], jit_compile=jit_compile,
                          loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True), "mse"])
            history = model.fit([a, b], [y, y2], sample_weight=sw, batch_size=4, epochs=3, verbose=0, shuffle=False)
        runs.append((history.history, model.get_weights()))
    _assert_same_training(*runs)
    assert set(runs[1][0]) == {"loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"}
    assert list(model.graph_status().values()) == ["replayed 3 times", "replayed 1 times"], model.graph_status()


def test_a_capture_that_fails_warns_and_the_step_runs_eagerly(monkeypatch):
    def broken(graph):
        raise RuntimeError("cudaErrorStreamCaptureUnsupported (a stand-in)")
    monkeypatch.setattr(graph_module._EmulatorDevice, "capture", staticmethod(broken))
    eager = _train(_cnn(jit_compile=False))
    model = _cnn()
    with pytest.warns(RuntimeWarning, match="The training step could not be captured for replay and runs eagerly: "
                                            "the capture failed: RuntimeError: cudaErrorStreamCaptureUnsupported"):
        replayed = _train(model)
    _assert_same_training(eager, replayed)
    assert replayed[2].graph_launches == 0


def test_confusion_metrics_with_cached_thresholds_are_replayed_as_eagerly():
    """Precision/AUC keep their thresholds on the device in a cache made in the warm-up: read as they are."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(8, 4)).astype("float32"), rng.integers(0, 2, (8, 1)).astype("float32")
    runs = []
    for jit_compile in (False, "auto"):
        with tf.device("emulator"):
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
            model.set_weights([np.full((4, 1), 0.3, "float32"), np.zeros(1, "float32")])
            model.compile(optimizer="sgd", loss="binary_crossentropy", jit_compile=jit_compile,
                          metrics=[keras.metrics.Precision(), keras.metrics.AUC(num_thresholds=20)])
            history = model.fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False)
        runs.append((history.history, model.get_weights()))
    _assert_same_training(*runs)
    assert list(model.graph_status().values()) == ["replayed 5 times"], model.graph_status()
