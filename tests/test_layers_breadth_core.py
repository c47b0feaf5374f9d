"""Keras layers added for breadth: the regularization layers (GaussianNoise, GaussianDropout, AlphaDropout,
SpatialDropout1D/2D/3D, ActivityRegularization), PReLU, Identity, UnitNormalization, GroupNormalization, Dot and
AdditiveAttention. Each goes through run_layer_test (shapes, weights, config round trip, values on every device)
with NumPy reference values written here from Keras 3.15's formulas, and the layers with weights through
finite-difference gradient checks in float64."""
import numpy as np
import pytest

import gpuflow as tf
from gradcheck import check_gradients
from layer_test_utils import run_layer_test, rnd

keras = tf.keras
layers = keras.layers


def check_layer_gradients(layer, *inputs, **call_kwargs):
    """Finite differences of ``layer(*inputs)`` (a float64 layer) with respect to its inputs and trainable
    weights: the weights are passed in as Tensors in place of the layer's Variables for the check."""
    names = [next(k for k, v in vars(layer).items() if v is w) for w in layer.trainable_weights]
    n = len(inputs)

    def fn(*args):
        saved = {k: getattr(layer, k) for k in names}
        for k, w in zip(names, args[n:]):
            object.__setattr__(layer, k, w)
        try:
            xs = list(args[:n])
            return layer(xs if n > 1 else xs[0], **call_kwargs)
        finally:
            for k, w in saved.items():
                object.__setattr__(layer, k, w)
    check_gradients(fn, *[np.asarray(x, np.float64) for x in inputs],
                    *[w.numpy().astype(np.float64) for w in layer.trainable_weights])


# -- regularization layers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kwargs", [
    (layers.GaussianNoise, {"stddev": 0.5, "seed": 1}), (layers.GaussianDropout, {"rate": 0.3, "seed": 1}),
    (layers.AlphaDropout, {"rate": 0.3, "noise_shape": (None, 1, 4), "seed": 1})])
def test_noise_layers_are_the_identity_outside_training(device, cls, kwargs):
    x = rnd(2, 3, 4)
    layer = run_layer_test(cls, kwargs, (2, 3, 4), (2, 3, 4), input_data=x, expected_output=x,
                           deterministic=False)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    assert not np.allclose(layer(x, training=True).numpy(), x)


def test_gaussian_noise_and_dropout_statistics():
    x = np.full((400, 500), 2.0, np.float32)
    y = layers.GaussianNoise(0.5)(x, training=True).numpy()
    assert abs(y.mean() - 2.0) < 0.01 and abs(y.std() - 0.5) < 0.01
    y = layers.GaussianDropout(0.2)(x, training=True).numpy()  # x * N(1, sqrt(rate / (1 - rate)))
    assert abs(y.mean() - 2.0) < 0.01 and abs(y.std() - 2.0 * np.sqrt(0.2 / 0.8)) < 0.01


def test_noise_layer_seed_gives_a_reproducible_sequence():
    x = rnd(3, 4)
    a, b = layers.GaussianNoise(0.3, seed=7), layers.GaussianNoise(0.3, seed=7)
    first = a(x, training=True).numpy()
    np.testing.assert_array_equal(first, b(x, training=True).numpy())
    assert not np.array_equal(first, a(x, training=True).numpy())  # a new draw each call


def test_alpha_dropout_values_and_moments():
    rate = 0.3
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    x = rnd(300, 400, seed=3)
    y = layers.AlphaDropout(rate)(x, training=True).numpy()
    dropped = np.isclose(y, a * alpha_p + b)
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] + b, rtol=1e-5, atol=1e-6)
    assert abs(dropped.mean() - rate) < 0.01
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02  # SELU's fixed point kept (Keras's purpose)
    shared = np.isclose(layers.AlphaDropout(rate, noise_shape=(None, 1))(x[:50], training=True).numpy(),
                        a * alpha_p + b)
    assert (shared == shared[:, :1]).all() and 0 < shared[:, 0].sum() < 50  # one draw per row


@pytest.mark.parametrize("cls,shape", [(layers.SpatialDropout1D, (2, 5, 6)), (layers.SpatialDropout2D, (2, 3, 4, 6)),
                                       (layers.SpatialDropout3D, (2, 2, 3, 2, 6))])
def test_spatial_dropout_drops_whole_feature_maps(device, cls, shape):
    run_layer_test(cls, {"rate": 0.5, "seed": 2}, shape, shape, deterministic=False)
    x = np.ones((64,) + shape[1:], np.float32)
    y = cls(0.5)(x, training=True).numpy()
    maps = y.reshape(64, -1, shape[-1])
    assert (maps == maps[:, :1]).all()  # one value per (sample, channel)
    assert set(np.unique(y)) == {0.0, 2.0} and 0.4 < (y == 0).mean() < 0.6
    config = cls(0.25).get_config()  # Keras's own short config
    assert set(config) == {"rate", "seed", "name", "dtype"} | ({"data_format"} if len(shape) > 3 else set())


def test_spatial_dropout_rank_error():
    with pytest.raises(ValueError, match="expected ndim=3"):
        layers.SpatialDropout1D(0.5)(rnd(2, 3))
    with pytest.raises(ValueError, match="Expected a float value between 0 and 1"):
        layers.GaussianNoise(1.5)


def test_activity_regularization_adds_the_penalty(device):
    x = rnd(4, 3)
    layer = run_layer_test(layers.ActivityRegularization, {"l1": 0.1, "l2": 0.01}, (4, 3), (4, 3), input_data=x,
                           expected_output=x)
    assert "activity_regularizer" not in layer.get_config()
    layer(x)
    expected = (0.1 * np.abs(x).sum() + 0.01 * (x ** 2).sum()) / 4
    np.testing.assert_allclose(float(layer.losses[0].numpy()), expected, rtol=1e-5)


# -- PReLU, Identity ------------------------------------------------------------------------------------------
def test_prelu(device):
    x = rnd(2, 3, 4, 5)
    layer = run_layer_test(layers.PReLU, {"shared_axes": [1, 2]}, (2, 3, 4, 5), (2, 3, 4, 5), input_data=x,
                           expected_output=np.maximum(x, 0), expected_num_trainable_weights=1,
                           expected_weight_shapes=[(1, 1, 5)])
    alpha = layer.get_weights()[0]
    np.testing.assert_allclose(layer(x).numpy(), np.where(x > 0, x, alpha * x), rtol=1e-6, atol=1e-7)
    assert layers.PReLU(shared_axes=1).get_config()["shared_axes"] == [1]


def test_prelu_gradients():
    layer = layers.PReLU(alpha_initializer="glorot_uniform", dtype="float64")
    layer.build((2, 3))
    check_layer_gradients(layer, rnd(2, 3, seed=1))


def test_identity(device):
    x = rnd(2, 3)
    run_layer_test(layers.Identity, {}, (2, 3), (2, 3), input_data=x, expected_output=x)
    emb = layers.Embedding(5, 2, mask_zero=True)(keras.Input((3,), dtype="int32"))
    assert layers.Identity()(emb)._keras_mask is not None


# -- normalization --------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:divide by zero")
def test_unit_normalization(device):
    x = rnd(2, 3, 4)
    norm = np.sqrt((x.astype(np.float64) ** 2).sum(axis=(1, 2), keepdims=True))
    run_layer_test(layers.UnitNormalization, {"axis": [1, 2]}, (2, 3, 4), (2, 3, 4), input_data=x,
                   expected_output=x / norm)
    np.testing.assert_array_equal(layers.UnitNormalization()(np.zeros((1, 3), np.float32)).numpy(), 0)
    with pytest.raises(TypeError, match="Invalid value for `axis`"):
        layers.UnitNormalization(axis="a")


def _group_norm_reference(x, groups, gamma, beta, eps):
    n, *spatial, c = x.shape
    g = x.astype(np.float64).reshape(n, -1, groups, c // groups)
    mean = g.mean(axis=(1, 3), keepdims=True)
    var = g.var(axis=(1, 3), keepdims=True)
    return ((g - mean) / np.sqrt(var + eps)).reshape(x.shape) * gamma + beta


@pytest.mark.parametrize("groups", [2, -1])
def test_group_normalization(device, groups):
    x = rnd(2, 3, 4, 6)
    layer = run_layer_test(layers.GroupNormalization, {"groups": groups, "epsilon": 1e-3}, (2, 3, 4, 6),
                           (2, 3, 4, 6), input_data=x, expected_num_trainable_weights=2,
                           expected_weight_shapes=[(6,), (6,)], rtol=1e-4, atol=1e-4,
                           expected_output=_group_norm_reference(x, 6 if groups == -1 else groups, 1, 0, 1e-3))
    gamma, beta = layer.get_weights()
    np.testing.assert_allclose(layer(x).numpy(), _group_norm_reference(x, layer.groups, gamma, beta, 1e-3),
                               rtol=1e-4, atol=1e-4)


def test_group_normalization_channel_axis_1_and_gradients():
    x = rnd(2, 4, 5, seed=4)
    layer = layers.GroupNormalization(groups=2, axis=1, gamma_initializer="glorot_uniform", dtype="float64")
    layer.build(x.shape)
    gamma, beta = layer.get_weights()
    moved = np.moveaxis(x, 1, -1)
    expected = np.moveaxis(_group_norm_reference(moved, 2, gamma, beta, 1e-3), -1, 1)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-6, atol=1e-6)
    check_layer_gradients(layer, x)


def test_group_normalization_errors():
    with pytest.raises(ValueError, match="expected a positive integer"):
        layers.GroupNormalization(groups=0)
    with pytest.raises(ValueError, match=r"Number of groups \(4\) must be a multiple"):
        layers.GroupNormalization(groups=4)(rnd(2, 6))
    with pytest.raises(ValueError, match=r"cannot be more than the number of channels \(6\)"):
        layers.GroupNormalization()(rnd(2, 6))


# -- Dot ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes,axes,expected_shape,subscripts", [
    (((2, 3, 5), (2, 4, 5)), (2, 2), (2, 3, 4), "bik,bjk->bij"),
    (((2, 3, 5), (2, 3, 4)), 1, (2, 5, 4), "bki,bkj->bij"),
    (((2, 5), (2, 5)), -1, (2, 1), "bk,bk->b"),
    (((2, 5), (2, 5, 3)), (1, 1), (2, 3), "bk,bkj->bj"),
    (((2, 3, 4, 5), (2, 3, 6)), (1, 1), (2, 4, 5, 6), "bkij,bkl->bijl")])
def test_dot(device, shapes, axes, expected_shape, subscripts):
    a, b = rnd(*shapes[0], seed=1), rnd(*shapes[1], seed=2)
    layer = layers.Dot(axes=axes)
    out = layer([a, b])
    expected = np.einsum(subscripts, a.astype(np.float64), b).reshape(expected_shape)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)
    sym = layers.Dot(axes=axes)([keras.Input(shapes[0][1:]), keras.Input(shapes[1][1:])])
    assert tuple(sym.shape) == (None,) + expected_shape[1:]
    assert layers.Dot.from_config(layer.get_config()).get_config() == layer.get_config()
    check_gradients(lambda x, y: layers.Dot(axes=axes, dtype="float64")([x, y]), a.astype(np.float64),
                    b.astype(np.float64))


def test_dot_normalize_is_the_cosine():
    a, b = rnd(3, 4, seed=1), rnd(3, 4, seed=2)
    out = layers.dot([a, b], axes=1, normalize=True).numpy()
    expected = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-5)


def test_dot_errors():
    with pytest.raises(ValueError, match=r"Incompatible input shapes: axis values 3 \(at axis 1\) != 4"):
        layers.Dot(axes=1)([keras.Input((3,)), keras.Input((4,))])
    with pytest.raises(ValueError, match="should contain two elements"):
        layers.Dot(axes=(1, 2, 3))
    with pytest.raises(TypeError, match="should be a list or an int"):
        layers.Dot(axes="x")


# -- AdditiveAttention ----------------------------------------------------------------------------------------
def _additive_attention_reference(q, v, k, scale):
    scores = (scale * np.tanh(q[:, :, None, :] + k[:, None, :, :])).sum(-1)
    w = np.exp(scores - scores.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return w @ v


def test_additive_attention(device):
    q, v, k = rnd(2, 3, 5, seed=1), rnd(2, 4, 5, seed=2), rnd(2, 4, 5, seed=3)
    layer = layers.AdditiveAttention()
    out = layer([q, v, k])
    assert [w.path for w in layer.weights] == [f"{layer.name}/scale"]
    (scale,) = layer.get_weights()
    assert scale.shape == (5,)
    np.testing.assert_allclose(out.numpy(), _additive_attention_reference(q, v, k, scale), rtol=1e-5, atol=1e-5)
    config = layer.get_config()
    assert "score_mode" not in config and config["use_scale"] is True
    plain = layers.AdditiveAttention(use_scale=False)
    np.testing.assert_allclose(plain([q, v]).numpy(), _additive_attention_reference(q, v, v, 1.0), rtol=1e-5,
                               atol=1e-5)
    assert plain.weights == []
    sym = layers.AdditiveAttention()([keras.Input((3, 5)), keras.Input((4, 5))])
    assert tuple(sym.shape) == (None, 3, 5)


def test_additive_attention_gradients():
    layer = layers.AdditiveAttention(dtype="float64")
    q, v = rnd(1, 2, 3, seed=5), rnd(1, 3, 3, seed=6)
    layer([q.astype(np.float64), v.astype(np.float64)])
    check_layer_gradients(layer, q, v)


# -- StackedRNNCells --------------------------------------------------------------------------------------------
def test_stacked_rnn_cells_equal_numpy_recurrence(device):
    x = rnd(2, 4, 3, seed=1)
    rnn = layers.RNN([layers.SimpleRNNCell(5), layers.SimpleRNNCell(2)], return_sequences=True)
    out = rnn(x)
    k1, r1, b1, k2, r2, b2 = rnn.get_weights()
    assert rnn.weights[0].path == f"{rnn.name}/{rnn.cell.name}/{rnn.cell.cells[0].name}/kernel"  # Keras's path
    h1, h2, expected = np.zeros((2, 5)), np.zeros((2, 2)), []
    for t in range(4):
        h1 = np.tanh(x[:, t] @ k1 + h1 @ r1 + b1)
        h2 = np.tanh(h1 @ k2 + h2 @ r2 + b2)
        expected.append(h2)
    np.testing.assert_allclose(out.numpy(), np.stack(expected, 1), rtol=1e-5, atol=1e-5)
    assert rnn.cell.state_size == [5, 2] and rnn.cell.output_size == 2


def test_stacked_rnn_cells_equal_stacked_layers_and_round_trip():
    x = rnd(2, 4, 3, seed=2)
    stacked = layers.RNN([layers.LSTMCell(4), layers.GRUCell(3)], return_state=True)
    out, *states = stacked(x)
    assert [tuple(s.shape) for s in states] == [(2, 4), (2, 4), (2, 3)]
    lstm, gru = layers.LSTM(4, return_sequences=True), layers.GRU(3, return_state=True)
    ref, ref_h = gru(lstm(x))
    lstm.set_weights(stacked.get_weights()[:3])
    gru.set_weights(stacked.get_weights()[3:])
    ref, ref_h = gru(lstm(x))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(states[2].numpy(), ref_h.numpy(), rtol=1e-5, atol=1e-6)
    config = stacked.get_config()
    assert config["cell"]["class_name"] == "StackedRNNCells"
    assert [c["class_name"] for c in config["cell"]["config"]["cells"]] == ["LSTMCell", "GRUCell"]
    clone = layers.RNN.from_config(config)
    clone(x)
    clone.set_weights(stacked.get_weights())
    np.testing.assert_allclose(clone(x)[0].numpy(), out.numpy(), rtol=1e-6)
    cells = layers.StackedRNNCells([layers.LSTMCell(2), layers.SimpleRNNCell(3)])
    assert cells.state_size == [[2, 2], 3] and cells.output_size == 3
    with pytest.raises(ValueError, match="All cells must have a `state_size` attribute"):
        layers.StackedRNNCells([layers.Dense(2)])


def test_stacked_rnn_cells_gradients():
    x = rnd(1, 3, 2, seed=3).astype(np.float64)
    ks = [rnd(2, 3, seed=4), rnd(3, 3, seed=5), rnd(3, seed=6), rnd(3, 2, seed=7), rnd(2, 2, seed=8), rnd(2, seed=9)]

    def f(x, *ws):
        rnn = layers.RNN([layers.SimpleRNNCell(3, dtype="float64"), layers.SimpleRNNCell(2, dtype="float64")],
                         dtype="float64")
        rnn.build(x.shape)
        for cell, (k, r, b) in zip(rnn.cell.cells, (ws[:3], ws[3:])):
            for attr, v in (("kernel", k), ("recurrent_kernel", r), ("bias", b)):
                object.__setattr__(cell, attr, v)
        return rnn(x)
    check_gradients(f, x, *[k.astype(np.float64) for k in ks])


# -- initializers.Identity, regularizers.OrthogonalRegularizer ---------------------------------------------------
def test_identity_initializer():
    np.testing.assert_array_equal(keras.initializers.Identity(gain=2.0)((2, 3)).numpy(), 2 * np.eye(2, 3))
    assert type(keras.initializers.get("identity")) is keras.initializers.Identity
    assert keras.initializers.IdentityInitializer is keras.initializers.Identity
    dense = layers.Dense(3, kernel_initializer="identity")
    dense.build((None, 3))
    np.testing.assert_array_equal(dense.kernel.numpy(), np.eye(3))
    assert dense.get_config()["kernel_initializer"] == {"module": "keras.initializers", "class_name": "Identity",
                                                        "config": {}, "registered_name": None}  # Keras's config
    with pytest.raises(ValueError, match="can only be used for 2D matrices"):
        keras.initializers.Identity()((2, 2, 2))


@pytest.mark.parametrize("mode", ["rows", "columns"])
def test_orthogonal_regularizer(mode):
    w = rnd(4, 3, seed=1).astype(np.float64)
    r = keras.regularizers.OrthogonalRegularizer(0.25, mode)
    v = w if mode == "rows" else w.T
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    gram = np.abs(v @ v.T)
    n = len(v)
    expected = 0.25 * 0.5 * (gram.sum() - np.trace(gram)) / (n * (n - 1) / 2)
    np.testing.assert_allclose(float(r(tf.constant(w)).numpy()), expected, rtol=1e-6)
    assert r.get_config() == {"factor": float(np.float32(0.25)), "mode": mode}
    check_gradients(lambda t: r(t), w)
    dense = layers.Dense(3, kernel_regularizer="orthogonal_regularizer")
    dense.build((None, 4))
    assert dense.get_config()["kernel_regularizer"]["class_name"] == "OrthogonalRegularizer"
    assert len(dense.losses) == 1
    with pytest.raises(ValueError, match="Invalid value for argument `mode`"):
        keras.regularizers.OrthogonalRegularizer(mode="diag")
    with pytest.raises(ValueError, match="must have rank 2"):
        r(tf.constant(np.ones((2, 2, 2))))


# -- Wrapper --------------------------------------------------------------------------------------------------
def test_wrapper_subclass_builds_serializes_and_reloads(tmp_path):
    class Twice(layers.Wrapper):
        def call(self, x):
            return self.layer(x) * 2.0

        def compute_output_shape(self, input_shape):
            return self.layer.compute_output_shape(input_shape)

    inp = keras.Input((3,))
    wrapper = Twice(layers.Dense(2))
    model = keras.Model(inp, wrapper(inp))
    inner = f"{wrapper.name}/{wrapper.layer.name}"
    assert [w.path for w in model.weights] == [f"{inner}/kernel", f"{inner}/bias"]  # Keras's name scopes
    x = rnd(2, 3)
    k, b = wrapper.layer.get_weights()
    np.testing.assert_allclose(model(x).numpy(), 2 * (x @ k + b), rtol=1e-5, atol=1e-6)
    config = wrapper.get_config()
    assert config["layer"]["class_name"] == "Dense"
    assert Twice.from_config(config).layer.units == 2
    model.save(tmp_path / "w.keras")
    again = keras.models.load_model(tmp_path / "w.keras", custom_objects={"Twice": Twice})
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="supplied to Wrapper isn't a supported layer type"):
        layers.Wrapper(3)


def test_fit_trains_through_the_new_layers_and_predict_is_deterministic(tmp_path):
    """The noise layers act in fit (training) only: predict gives the same output twice, and after a save."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 6, 3)).astype("float32"), rng.integers(0, 2, 16)
    model = keras.Sequential([keras.Input((6, 3)), layers.GaussianNoise(0.3), layers.SeparableConv1D(4, 3),
                              layers.PReLU(), layers.GroupNormalization(2), layers.SpatialDropout1D(0.3),
                              layers.GaussianDropout(0.2), layers.AlphaDropout(0.2),
                              layers.RNN([layers.GRUCell(4), layers.SimpleRNNCell(3)]), layers.UnitNormalization(),
                              layers.ActivityRegularization(0.01), layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # every weight trained
    out = model.predict(x, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), out)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0), out, atol=1e-6)
