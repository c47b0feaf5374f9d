"""``keras.mixed_precision`` (dtype policies, autocast, LossScaleOptimizer), 16-bit primitives, the TF32 switch.

The behaviour under ``mixed_float16`` and ``mixed_bfloat16`` (dtypes of variables, layer outputs, losses and
gradients; the optimizer compile picks; the loss scale and step counter through a finite step, an inf step
and the growth steps) is compared with what Keras 3.15 / TensorFlow 2.21 recorded on the same model in
tests/fixtures/mixed_precision.json (written by tests/fixtures/make_mixed_precision.py, whose ``run`` this
test runs with gpuflow), and a ``.keras`` file Keras wrote under ``mixed_float16`` loads.
"""
import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import gpuflow as tf
from gpuflow.backend.geometry import ConvGeometry
from gpuflow.backend.numpy_backend import NumpyBackend
from gpuflow.backend.reference import ReferenceBackend
from gpuflow.zoo import build_seed_cnn

keras = tf.keras
mp = keras.mixed_precision
FIXTURES = Path(__file__).resolve().parent / "fixtures"
_spec = importlib.util.spec_from_file_location("make_mixed_precision", FIXTURES / "make_mixed_precision.py")
maker = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(maker)
TF_RECORD = json.loads((FIXTURES / "mixed_precision.json").read_text())
HAVE_BF16 = "bfloat16" in tf.dtypes.__all__  # the optional ml-dtypes package (in the test extra)
POLICIES = ("mixed_float16", pytest.param("mixed_bfloat16", marks=pytest.mark.skipif(
    not HAVE_BF16, reason=tf.dtypes.BFLOAT16_MISSING)))


@pytest.fixture
def policy_reset():
    yield
    mp.set_global_policy("float32")


def test_policies_as_keras(policy_reset):
    assert mp.global_policy().name == "float32"
    for name, compute, variable in [("mixed_float16", "float16", "float32"), ("mixed_bfloat16", "bfloat16", "float32"),
                                    ("float16", "float16", "float16"), ("bfloat16", "bfloat16", "bfloat16"),
                                    ("float64", "float64", "float64")]:
        p = mp.Policy(name)
        assert (p.name, p.compute_dtype, p.variable_dtype) == (name, compute, variable)
    assert repr(mp.Policy("mixed_float16")) == '<DTypePolicy "mixed_float16">'
    assert mp.Policy("mixed_float16") == keras.DTypePolicy("mixed_float16") != mp.Policy("float32")
    with pytest.raises(ValueError, match="Cannot convert 'mixed_float32' to a mixed precision DTypePolicy"):
        mp.Policy("mixed_float32")
    with pytest.raises(TypeError, match="'name' must be a string"):
        mp.Policy(16)
    with pytest.raises(ValueError, match="Invalid `policy` argument"):
        mp.set_global_policy(3)
    mp.set_global_policy("mixed_float16")
    dense = keras.layers.Dense(2)
    own = keras.layers.Dense(2, dtype="float32")
    given = keras.layers.Dense(2, dtype=mp.Policy("mixed_bfloat16"))
    assert (dense.dtype_policy.name, dense.dtype, dense.compute_dtype, dense.variable_dtype) == \
        ("mixed_float16", "float32", "float16", "float32")
    assert own.dtype_policy.name == "float32" and given.compute_dtype == "bfloat16"
    assert dense.get_config()["dtype"] == {"module": "keras", "class_name": "DTypePolicy",
                                           "config": {"name": "mixed_float16"}, "registered_name": None}


def test_autocast_casts_floats_and_weights_and_gradients_reach_float32_variables(policy_reset):
    mp.set_global_policy("mixed_float16")
    layer = keras.layers.Dense(3, activation="relu")
    x = np.ones((2, 4), np.float64)
    with tf.GradientTape() as tape:
        y = layer(x)
        loss = tf.reduce_sum(tf.cast(y, "float32"))
    assert y.dtype == tf.float16 and layer.kernel.dtype == tf.float32 and layer.bias.dtype == tf.float32
    assert isinstance(layer.kernel, tf.Variable)  # the cast is undone after the call
    grads = tape.gradient(loss, layer.trainable_weights)
    assert [g.dtype for g in grads] == [tf.float32, tf.float32]
    want = np.ones((2, 4), np.float16).T @ (np.asarray(y) > 0).astype(np.float16)
    np.testing.assert_array_equal(grads[0].numpy(), want.astype(np.float32))
    ints = keras.layers.Embedding(5, 2)  # index inputs stay integers
    assert ints(np.array([[1, 2]])).dtype == tf.float16
    symbolic = keras.layers.Dense(2)(keras.Input((3,)))
    assert symbolic.dtype == "float16"
    # a model does not cast its inputs to float16 (as Keras): ids above 2048 reach the Embedding exactly
    model = keras.Sequential([keras.Input((2,), dtype="int32"), keras.layers.Embedding(5000, 2)])
    table = model.layers[0].embeddings.numpy()
    np.testing.assert_array_equal(model(np.array([[4097, 4098]])).numpy()[0], table[[4097, 4098]].astype(np.float16))


@pytest.mark.parametrize("make, shape", [
    (lambda L: L.BatchNormalization(), (4, 3, 3, 2)), (lambda L: L.LSTM(3, dropout=0.5), (2, 4, 5)),
    (lambda L: L.GRU(3), (2, 4, 5)), (lambda L: L.MultiHeadAttention(2, 4, dropout=0.5), (2, 3, 6)),
    (lambda L: L.LayerNormalization(), (2, 6)), (lambda L: L.Conv1D(2, 2), (2, 5, 3))],
    ids=["BatchNormalization", "LSTM", "GRU", "MultiHeadAttention", "LayerNormalization", "Conv1D"])
@pytest.mark.parametrize("policy", POLICIES)
def test_layers_under_mixed_policies(make, shape, policy, policy_reset):
    """16-bit outputs, float32 weights and gradients, as Keras (an RNN reads its cell's weights and makes its
    states in 16 bits; BatchNormalization normalizes in float32 and keeps its statistics float32)."""
    mp.set_global_policy(policy)
    layer = make(keras.layers)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with tf.GradientTape() as tape:
        y = layer(x, x, training=True) if isinstance(layer, keras.layers.MultiHeadAttention) else layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, "float32"))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert y.dtype.name == mp.Policy(policy).compute_dtype and np.all(np.isfinite(y.numpy().astype(np.float32)))
    assert {w.dtype.name for w in layer.weights} == {"float32"}
    assert grads and all(g is not None and g.dtype == tf.float32 for g in grads)


@pytest.mark.parametrize("policy", POLICIES)
def test_training_behaviour_matches_tensorflow(device, policy):
    """Variable, output, loss and gradient dtypes, the optimizer compile picks, and the loss scale and step
    counter through a finite step, an inf step (skipped: weights unchanged, scale halved) and the growth steps,
    against TF 2.21's record of the same model (cpu and the emulator)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the inf batch: NumPy's invalid-value warnings
        got = maker.run(keras, tf, policy)
    want = {k: v for k, v in TF_RECORD[policy].items() if k != "pred"}
    assert got == want


def _seed_data():
    rng = np.random.default_rng(0)
    return rng.random((8, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 8)


def _fit_seed(policy, weights, x, y):
    mp.set_global_policy(policy)
    try:
        model = build_seed_cnn(keras)
    finally:
        mp.set_global_policy("float32")
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    return model, history.history["loss"][0]


@pytest.mark.parametrize("policy", POLICIES)
def test_seed_cnn_fits(policy):
    x, y = _seed_data()
    weights = build_seed_cnn(keras).get_weights()
    with tf.device("cpu"):
        model, loss = _fit_seed(policy, weights, x, y)
        ref, ref_loss = _fit_seed("float32", weights, x, y)
    assert all(w.dtype == tf.float32 for w in model.weights)
    assert model(x[:2]).dtype.name == mp.Policy(policy).compute_dtype
    assert np.isfinite(loss) and abs(loss - ref_loss) < 0.05 * ref_loss
    assert not np.array_equal(model.get_weights()[0], weights[0])
    opt = model.optimizer
    if policy == "mixed_float16":
        assert isinstance(opt, keras.optimizers.LossScaleOptimizer) and int(opt.iterations.numpy()) == 2
        assert float(opt.dynamic_scale.numpy()) == 2.0 ** 15 and int(opt.step_counter.numpy()) == 2
    else:
        assert type(opt) is keras.optimizers.Adam


@pytest.mark.gpu
@pytest.mark.parametrize("policy", POLICIES)
def test_seed_cnn_on_the_emulator_follows_the_cpu(policy):
    from gpuflow.device import probe_emulator
    ok, why = probe_emulator()
    if not ok:
        pytest.skip(f"emulator unavailable: {why}")
    x, y = _seed_data()
    weights = build_seed_cnn(keras).get_weights()
    with tf.device("cpu"):
        cpu, cpu_loss = _fit_seed(policy, weights, x, y)
    with tf.profiler.profile() as prof, tf.device("emulator"):
        emu, emu_loss = _fit_seed(policy, weights, x, y)
    # until the tensor-core kernels are wired in, 16-bit tensors run the FP32 kernels (converted at the boundary)
    assert {"conv2d_fwd_f32", "dense_bias_relu_fwd_f32", "max_pool2d_fwd_f32"} <= prof.kernel_names()
    # the primitives round their float32 results to 16 bits once; sums in another order may round apart
    eps = float(np.finfo(mp.Policy(policy).compute_dtype).eps) if policy == "mixed_float16" else 2.0 ** -7
    assert abs(emu_loss - cpu_loss) <= 4 * eps * cpu_loss
    for a, b in zip(emu.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-3 + 4 * eps * np.abs(b).max())


@pytest.mark.gpu
@pytest.mark.parametrize("policy", POLICIES)
def test_seed_cnn_on_the_emulator_tensor_cores_follows_the_cpu(policy, monkeypatch):
    """The same fit with the emulator's CUDA backend on its tensor cores (FP16/BF16 convolutions, both their
    gradients and the dense forward, FP32 accumulation), and a loss scale that halves on overflow and doubles
    after every finite step (mixed_float16), so that it moves both ways in four steps."""
    from gpuflow.backend import kernels
    from gpuflow.backend.tensor_cores import TensorCoreKernels
    from gpuflow.device import Device, backend_for, probe_emulator
    ok, why = probe_emulator()
    if not ok:
        pytest.skip(f"emulator unavailable: {why}")
    be = backend_for(Device("emulator"))
    monkeypatch.setattr(be, "tensor_cores", TensorCoreKernels(np, loader=kernels.emulator_loader, sm_count=be.sm_count))
    x, y = _seed_data()
    keras.utils.set_random_seed(0)  # the same initial weights whichever tests ran before (they draw from the RNG)
    weights = build_seed_cnn(keras).get_weights()

    def fit():
        opt = keras.optimizers.Adam(1e-3)
        if policy == "mixed_float16":  # 2^17 * the logits' gradient overflows float16 at first
            opt = keras.optimizers.LossScaleOptimizer(opt, initial_scale=2.0 ** 17, dynamic_growth_steps=1)
        mp.set_global_policy(policy)
        try:
            model = build_seed_cnn(keras)
        finally:
            mp.set_global_policy("float32")
        model.set_weights(weights)
        model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the overflow steps: NumPy's invalid-value warnings
            loss = model.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False).history["loss"][0]
        scale = (float(opt.dynamic_scale.numpy()), int(opt.step_counter.numpy()), int(opt.iterations.numpy())) \
            if policy == "mixed_float16" else None
        return model, loss, scale

    with tf.device("cpu"):
        cpu, cpu_loss, cpu_scale = fit()
    with tf.profiler.profile() as prof, tf.device("emulator"):
        emu, emu_loss, emu_scale = fit()
    p = "f16" if policy == "mixed_float16" else "bf16"
    assert {f"conv2d_fwd_{p}", f"conv2d_bwd_filter_{p}", f"conv2d_bwd_data_{p}", f"dense_bias_relu_fwd_{p}"} \
        <= prof.kernel_names()
    # Both sides multiply the same 16-bit operands, accumulate in float32 and round each primitive's result to
    # 16 bits once; only the summation order differs, so a result may round one 16-bit ulp apart: the loss
    # within a few ulps, as in the FP32-kernel test above. A weight whose gradient is near zero may get it with
    # the other sign, and Adam moves every weight by up to about lr per step whatever the gradient's size
    # (|m_hat| / sqrt(v_hat) <= 1.02 over the first 4 steps, by Cauchy-Schwarz), so such a weight may end up
    # to 2 * 1.02 * lr per applied step apart; almost all others within the rounding tolerance (1 %, or one
    # weight of a small array: with another initialisation one of the 64 biases of the second convolution did).
    eps = float(np.finfo(np.float16).eps) if policy == "mixed_float16" else 2.0 ** -7
    assert abs(emu_loss - cpu_loss) <= 4 * eps * cpu_loss
    steps = int(cpu.optimizer.iterations.numpy())
    for a, b in zip(emu.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=2.04e-3 * steps)
        assert np.count_nonzero(np.abs(a - b) > 1e-3 + 4 * eps * np.abs(b).max()) <= max(1, 0.01 * a.size)
    assert emu_scale == cpu_scale
    if policy == "mixed_float16":  # it moved both ways: steps skipped on overflow (halved), steps applied (doubled)
        assert 0 < cpu_scale[2] < 4, cpu_scale


def test_loss_scale_halves_on_inf_skips_the_step_and_grows():
    var = tf.Variable([1.0, 2.0])
    opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.5), initial_scale=8.0, dynamic_growth_steps=2)
    assert float(opt.scale_loss(tf.constant(3.0)).numpy()) == 24.0
    opt.apply_gradients([(tf.constant([np.inf, 1.0]), var)])
    np.testing.assert_array_equal(var.numpy(), [1.0, 2.0])
    assert (float(opt.dynamic_scale.numpy()), int(opt.step_counter.numpy()), int(opt.iterations.numpy())) == (4, 0, 0)
    opt.apply_gradients([(tf.constant([4.0, np.nan]), var)])
    assert float(opt.dynamic_scale.numpy()) == 2.0
    opt.apply_gradients([(tf.constant([4.0, 8.0]), var)])  # unscaled: [2, 4]; SGD(0.5) moves [-1, -2]
    np.testing.assert_array_equal(var.numpy(), [0.0, 0.0])
    assert (float(opt.dynamic_scale.numpy()), int(opt.step_counter.numpy()), int(opt.iterations.numpy())) == (2, 1, 1)
    opt.apply_gradients([(tf.constant([0.0, 0.0]), var)])
    assert (float(opt.dynamic_scale.numpy()), int(opt.step_counter.numpy())) == (4, 0)
    again = keras.optimizers.LossScaleOptimizer.from_config(opt.get_config())
    assert (again.initial_scale, again.dynamic_growth_steps, type(again.inner_optimizer)) == (8.0, 2, keras.optimizers.SGD)
    assert mp.LossScaleOptimizer is keras.optimizers.LossScaleOptimizer and opt.name == "loss_scale_optimizer"
    with pytest.raises(ValueError, match="does not support `clipnorm`"):
        keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(), clipnorm=1.0)


def test_keras_file_written_by_keras_under_mixed_float16_loads(tmp_path, policy_reset):
    # As Keras 3.15: a Sequential takes the global policy when loaded (its layers keep theirs), so under
    # float32 compile keeps the plain SGD and the saved loss-scale state does not fit it (a warning)
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer 'sgd'"):
        model = keras.models.load_model(FIXTURES / "mixed_float16.keras")
    assert [l.dtype_policy.name for l in model.layers] == TF_RECORD["mixed_float16"]["policies"]
    assert model.dtype_policy.name == "float32" and type(model.optimizer) is keras.optimizers.SGD
    mp.set_global_policy("mixed_float16")
    model = keras.models.load_model(FIXTURES / "mixed_float16.keras")
    opt = model.optimizer
    assert isinstance(opt, keras.optimizers.LossScaleOptimizer) and type(opt.inner_optimizer) is keras.optimizers.SGD
    trace = TF_RECORD["mixed_float16"]["scale_trace"][-1]  # the state Keras saved
    assert [float(opt.dynamic_scale.numpy()), int(opt.step_counter.numpy()), int(opt.iterations.numpy())] == trace[1:]
    x, _ = maker.data()
    pred = model.predict(x, verbose=0)
    assert pred.dtype == np.float32
    np.testing.assert_allclose(pred, TF_RECORD["mixed_float16"]["pred"], atol=5e-3)  # float16 compute
    # gpuflow writes it back as Keras 3 does: policies in the config, the scale with the optimizer
    opt.dynamic_scale.assign(1024.0)
    opt.step_counter.assign(7)
    path = tmp_path / "again.keras"
    model.save(path)
    import zipfile
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert config["config"]["dtype"]["config"] == {"name": "mixed_float16"}
    assert config["config"]["layers"][-1]["config"]["dtype"] == {
        "module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}
    assert config["compile_config"]["optimizer"]["class_name"] == "SGD"  # compile's argument, as Keras
    back = keras.models.load_model(path)
    assert [l.dtype_policy.name for l in back.layers] == [l.dtype_policy.name for l in model.layers]
    assert (float(back.optimizer.dynamic_scale.numpy()), int(back.optimizer.step_counter.numpy())) == (1024.0, 7)
    np.testing.assert_array_equal(back.predict(x, verbose=0), pred)


def test_sequential_without_input_saves_keras_input_dtype(policy_reset):
    """Keras 3 puts an InputLayer of the first layer's compute dtype before a Sequential built without one (a
    policy name there would not load in Keras)."""
    mp.set_global_policy("mixed_float16")
    model = keras.Sequential([keras.layers.Dense(2)])
    model.build((None, 3))
    config = keras.saving.serialize_keras_object(model)["config"]
    assert config["layers"][0]["class_name"] == "InputLayer" and config["layers"][0]["config"]["dtype"] == "float16"
    assert config["dtype"]["config"] == {"name": "mixed_float16"}


@pytest.mark.parametrize("dtype", POLICIES)
def test_numpy_backend_takes_16bit_arrays_through_float32(dtype):
    """Each primitive rounds its float32 result to the input dtype once: the float64 reference, rounded once
    to 16 bits, is at most one 16-bit rounding away (half an ulp of each side)."""
    dt = tf.as_dtype(mp.Policy(dtype).compute_dtype).as_numpy_dtype
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 5, 6, 3)).astype(dt), rng.standard_normal((3, 3, 3, 4)).astype(dt)
    b = rng.standard_normal(4).astype(dt)
    g = ConvGeometry.of(x.shape, (3, 3), (1, 1), (1, 1), "same")
    cpu, ref = NumpyBackend(), ReferenceBackend()
    eps = float(np.finfo(dt).eps)

    def close(got, want):
        assert got.dtype == want.dtype == dt
        got, want = got.astype(np.float64), want.astype(np.float64)
        assert np.all(np.abs(got - want) <= eps * np.abs(want) + 1e-6)
    y, saved = cpu.conv2d_fwd(x, w, g, b=b, relu=True)
    close(y, ref.conv2d_fwd(x, w, g, b=b, relu=True)[0])
    for got, want in zip(cpu.conv2d_bwd(y, w, g, x=x, y=y, saved=saved, relu=True, need_db=True),
                         ref.conv2d_bwd(y, w, g, x=x, y=y, relu=True, need_db=True)):
        close(got, want)
    close(cpu.dense_fwd(x[0, 0], w[0, 0], b=None), ref.dense_fwd(x[0, 0], w[0, 0], b=None))
    out = np.zeros((2, 4), dt)
    assert cpu.bias_act_fwd(out, b=b) is out  # in place, as the contract says
    np.testing.assert_array_equal(out, np.broadcast_to(b, (2, 4)))


def test_bfloat16_without_ml_dtypes_says_how_to_install_it(monkeypatch):
    monkeypatch.delitem(tf.dtypes._SUPPORTED, "bfloat16", raising=False)
    with pytest.raises(TypeError, match=r"ml-dtypes.*pip install 'gpuflow\[bfloat16\]'.*Received: dtype='bfloat16'"):
        mp.Policy("mixed_bfloat16")
    with pytest.raises(ValueError, match="Cannot convert 'bfloat32'"):
        mp.Policy("bfloat32")


def test_tensor_float_32_switch():
    exp = tf.config.experimental
    assert exp.tensor_float_32_execution_enabled() is True  # TensorFlow's default
    try:
        exp.enable_tensor_float_32_execution(False)
        assert exp.tensor_float_32_execution_enabled() is False
    finally:
        exp.enable_tensor_float_32_execution(True)
