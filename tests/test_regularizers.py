"""keras.regularizers and the kernel/bias/activity regularizer arguments, against values Keras 3 computed.

``fixtures/regularized.keras`` and ``fixtures/regularized.npz`` were written by Keras 3.15.1 with
``fixtures/make_regularized.py``: the model file, and Keras's predictions, ``model.losses`` after a call and
``evaluate`` loss on the stored inputs.
"""
import os

import numpy as np
import pytest

import gpuflow as tf

keras = tf.keras
R = keras.regularizers
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def test_penalties_follow_keras_formulas():
    x = np.array([[1.0, -2.0], [3.0, 0.5]], np.float32)
    np.testing.assert_allclose(R.L1(0.5)(x).numpy(), 0.5 * 6.5, rtol=1e-6)
    np.testing.assert_allclose(R.L2(0.5)(x).numpy(), 0.5 * 14.25, rtol=1e-6)
    np.testing.assert_allclose(R.L1L2(l1=0.1, l2=0.2)(x).numpy(), 0.1 * 6.5 + 0.2 * 14.25, rtol=1e-6)
    assert float(R.L1L2()(x).numpy()) == 0.0
    assert R.L2()(x).dtype == tf.float32


@pytest.mark.parametrize("name, cls, config", [
    ("l1", R.L1, {"l1": 0.01}), ("l2", R.L2, {"l2": 0.01}), ("l1l2", R.L1L2, {"l1": 0.0, "l2": 0.0}),
    ("L2", R.L2, {"l2": 0.01}), ("L1L2", R.L1L2, {"l1": 0.0, "l2": 0.0}),
])
def test_get_by_name(name, cls, config):
    reg = R.get(name)
    assert type(reg) is cls and reg.get_config() == pytest.approx(config)


def test_get_passes_objects_and_callables_and_reads_configs():
    reg = R.L2(0.3)
    assert R.get(reg) is reg and R.get(None) is None
    fn = lambda w: tf.reduce_sum(w)  # noqa: E731
    assert R.get(fn) is fn
    assert R.get(R.serialize(reg)).get_config() == {"l2": 0.3}
    assert R.serialize(reg) == {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.3},
                                "registered_name": None}
    assert R.l1_l2 is R.L1L2 and R.l2 is R.L2


@pytest.mark.parametrize("make, message", [
    (lambda: R.L2(-1.0), "Invalid value for argument l2: expected a non-negative float.Received: l2=-1.0"),
    (lambda: R.L1("a"), "Invalid value for argument l1: expected a non-negative float.Received: l1=a"),
    (lambda: R.L1L2(l2=float("nan")), "Invalid value for argument l2"),
    (lambda: R.get("l3"), "Could not interpret regularizer identifier: l3"),
    (lambda: R.get(5), "Could not interpret regularizer identifier: 5"),
    (lambda: keras.layers.Dense(2, kernel_regularizer="foo"), "Could not interpret regularizer identifier: foo"),
])
def test_bad_arguments_raise_keras_errors(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        make()


def _dense_model():
    L = keras.layers
    return keras.Sequential([
        keras.Input((4,)),
        L.Dense(3, kernel_regularizer="l2", bias_regularizer=R.L1(0.5), activity_regularizer=R.L1L2(l1=0.1, l2=0.2),
                kernel_initializer="ones", bias_initializer="ones"),
        L.Dense(1, kernel_initializer="ones")])


def test_losses_and_the_training_loss_match_keras():
    # Keras 3.15 printed, for this model: losses [0.12, 1.5] before a call, [16.5, 0.12, 1.5] after one on
    # ones((2, 4)) (the activity penalty 33 divided by the batch size 2), and evaluate = 225 + 18.12 = 243.12.
    model = _dense_model()
    np.testing.assert_allclose([l.numpy() for l in model.losses], [0.12, 1.5], rtol=1e-6)
    x, y = np.ones((2, 4), np.float32), np.zeros((2, 1), np.float32)
    model(x)
    np.testing.assert_allclose([l.numpy() for l in model.losses], [16.5, 0.12, 1.5], rtol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), 243.12, rtol=1e-6)


def test_a_frozen_layer_adds_no_weight_penalty():
    model = _dense_model()
    model.layers[0].trainable = False
    assert model.losses == []


def test_weight_penalties_are_differentiated_in_training():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, kernel_regularizer=R.L2(0.5),
                                                                   kernel_initializer="ones", use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32), epochs=1, batch_size=4, verbose=0)
    # Only the penalty has a gradient (zero inputs): d(0.5 * sum(w^2))/dw = w, so w <- w - 0.1 * w.
    np.testing.assert_allclose(model.layers[0].kernel.numpy(), np.full((3, 2), 0.9), rtol=1e-6)


def test_configs_round_trip_and_match_keras_keys():
    dense = keras.layers.Dense(2, kernel_regularizer="l2", activity_regularizer=R.L1(0.3))
    c = dense.get_config()
    assert c["kernel_regularizer"] == {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.01},
                                       "registered_name": None}
    assert c["bias_regularizer"] is None and c["activity_regularizer"]["class_name"] == "L1"
    assert list(c)[:4] == ["name", "trainable", "dtype", "activity_regularizer"]  # Keras's base-config position
    assert "activity_regularizer" not in keras.layers.Dense(2).get_config()
    conv = keras.layers.Conv2D(2, 3, bias_regularizer=R.L1L2(l2=0.5))
    c = conv.get_config()
    assert c["activity_regularizer"] is None and c["bias_regularizer"]["config"] == {"l1": 0.0, "l2": 0.5}
    again = keras.layers.Conv2D.from_config(c)
    assert again.bias_regularizer.get_config() == {"l1": 0.0, "l2": 0.5}


def test_a_model_file_keras_wrote_loads_with_its_regularizers():
    with np.load(os.path.join(FIXTURES, "regularized.npz")) as d:
        ref = {k: d[k] for k in d.files}
    model = keras.models.load_model(os.path.join(FIXTURES, "regularized.keras"))
    pred = model(ref["x"]).numpy()
    np.testing.assert_allclose(pred, ref["pred"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([l.numpy() for l in model.losses], ref["losses"], rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(ref["x"], ref["y"], batch_size=5, verbose=0), ref["evaluate"],
                               rtol=1e-5)


def test_saving_keeps_regularizers(tmp_path):
    model = _dense_model()
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    layer = loaded.layers[0]
    assert layer.kernel_regularizer.get_config() == {"l2": 0.01}
    assert layer.activity_regularizer.get_config() == {"l1": 0.1, "l2": 0.2}
    np.testing.assert_allclose([l.numpy() for l in loaded.losses], [0.12, 1.5], rtol=1e-6)


def test_an_activity_regularized_conv_is_not_fused(monkeypatch):
    from gpuflow.ops import nn_ops
    calls = []
    original = nn_ops.fused_conv2d_maxpool
    monkeypatch.setattr(nn_ops, "fused_conv2d_maxpool", lambda *a, **k: calls.append(1) or original(*a, **k))
    L = keras.layers
    x = np.ones((2, 6, 6, 1), np.float32)
    act = keras.Sequential([keras.Input((6, 6, 1)), L.Conv2D(2, 3, activity_regularizer="l1"), L.MaxPooling2D(2)])
    act(x)
    assert not calls and len(act.losses) == 1
    weight = keras.Sequential([keras.Input((6, 6, 1)), L.Conv2D(2, 3, kernel_regularizer="l1"), L.MaxPooling2D(2)])
    weight(x)
    assert calls and len(weight.losses) == 1


L = keras.layers
WEIGHTED = [  # (layer factory taking {weight: regularizer/constraint kwargs}, input shape, weight attribute names)
    (lambda **k: L.Dense(3, **k), (2, 4), ("kernel", "bias")),
    (lambda **k: L.Conv2D(2, 3, **k), (2, 5, 5, 2), ("kernel", "bias")),
    (lambda **k: L.Conv2DTranspose(2, 3, strides=2, **k), (2, 3, 3, 2), ("kernel", "bias")),
    (lambda **k: L.DepthwiseConv2D(3, **k), (2, 5, 5, 2), ("depthwise", "bias")),
    (lambda **k: L.SeparableConv2D(2, 3, **k), (2, 5, 5, 2), ("depthwise", "pointwise", "bias")),
    (lambda **k: L.Embedding(7, 3, **k), (2, 4), ("embeddings",)),
    (lambda **k: L.BatchNormalization(**k), (4, 3), ("gamma", "beta")),
    (lambda **k: L.LayerNormalization(**k), (4, 3), ("gamma", "beta")),
]
_ATTR = {"kernel": "kernel", "bias": "bias", "depthwise": None, "pointwise": "pointwise_kernel",
         "embeddings": "embeddings", "gamma": "gamma", "beta": "beta"}


def _weight(layer, name):
    if name == "depthwise":
        return layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel
    return getattr(layer, _ATTR[name])


@pytest.mark.parametrize("make, shape, names", WEIGHTED, ids=[f"{i}" for i in range(len(WEIGHTED))])
def test_every_weighted_layer_takes_regularizers_and_constraints(make, shape, names):
    regs = {n: R.L1L2(l1=0.1 * (i + 1), l2=0.05) for i, n in enumerate(names)}
    kwargs = {f"{n}_regularizer": r for n, r in regs.items()}
    kwargs.update({f"{n}_constraint": keras.constraints.NonNeg() for n in names})
    layer = make(**kwargs)
    x = np.abs(np.random.default_rng(0).standard_normal(shape)).astype(np.float32)
    x = x.astype(np.int64) if isinstance(layer, L.Embedding) else x
    layer(x)
    expected = sum(float(regs[n](_weight(layer, n)).numpy()) for n in names)
    np.testing.assert_allclose(sum(float(l.numpy()) for l in layer.losses), expected, rtol=1e-5)
    config = layer.get_config()
    again = type(layer).from_config(config)
    for n in names:
        assert config[f"{n}_regularizer"]["class_name"] == "L1L2"
        assert getattr(again, f"{n}_regularizer").get_config() == regs[n].get_config()
        assert type(getattr(again, f"{n}_constraint")) is keras.constraints.NonNeg
    opt = keras.optimizers.SGD(1.0)
    weights = [_weight(layer, n) for n in names]
    opt.apply_gradients([(tf.ones_like(w) * 100.0, w) for w in weights])  # drives every weight negative
    for n, w in zip(names, weights):
        assert w.numpy().min() >= 0.0, n  # the NonNeg constraint projected it back


@pytest.mark.parametrize("rnn", [L.SimpleRNN, L.LSTM, L.GRU])
def test_recurrent_layers_take_regularizers_constraints_and_an_activity_regularizer(rnn):
    layer = rnn(3, kernel_regularizer=R.L2(0.1), recurrent_regularizer=R.L1(0.05), bias_regularizer=R.L2(0.2),
                activity_regularizer=R.L1(0.01), recurrent_constraint="unit_norm", bias_initializer="ones")
    x = np.random.default_rng(1).standard_normal((2, 5, 4)).astype(np.float32)
    out = layer(x)
    cell = layer.cell
    expected = [0.01 * np.abs(out.numpy()).sum() / 2, 0.1 * (cell.kernel.numpy() ** 2).sum(),
                0.05 * np.abs(cell.recurrent_kernel.numpy()).sum(), 0.2 * (cell.bias.numpy() ** 2).sum()]
    np.testing.assert_allclose([l.numpy() for l in layer.losses], expected, rtol=1e-5)
    config = layer.get_config()
    assert config["activity_regularizer"]["config"] == {"l1": 0.01}
    assert config["recurrent_constraint"]["class_name"] == "UnitNorm"
    again = rnn.from_config(config)
    assert again.cell.recurrent_regularizer.get_config() == {"l1": 0.05}
