"""Keras layers: output shapes, weight layouts, numbers against independent NumPy
computations, default initializers, and the errors bad arguments and bad inputs raise.

Every layer goes through ``run_layer_test`` (tests/layer_test_utils.py) for shapes,
weights, config and set_weights; the numeric tests below compare with NumPy
written from the definitions, and convolution and pooling with the reference backend's
primitives (gpuflow/backend/reference.py) over the padding TensorFlow's SAME rule gives,
worked out here.

Every test that computes a layer's values or gradients takes the ``device`` fixture
(tests/conftest.py): its body runs on cpu, emulator and gpu, where ``run_layer_test`` also compares
the layer's values and gradients with the reference backend. Symbolic-shape, config, naming and
error tests stay CPU-only: they do not reach a backend's array work.
"""
import math

import numpy as np
import pytest

import gpuflow as tf
from gpuflow.backend.geometry import ConvGeometry
from gpuflow.backend.reference import ReferenceBackend
from layer_test_utils import rnd, run_layer_test, same_pads

keras = tf.keras
layers = keras.layers


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    yield


# -- references: the reference backend, with TensorFlow's SAME padding worked out here ------------------------
REF = ReferenceBackend()


def window_geometry(x_shape, window, strides, padding, dilation=(1, 1)):
    """The geometry of a window over an input, its SAME pads computed by the test (``same_pads``), not the
    library's ``ConvGeometry.of`` that the layers use."""
    pads = (0, 0, 0, 0)
    if padding == "same":
        _, top, bottom = same_pads(x_shape[1], window[0], strides[0], dilation[0])
        _, left, right = same_pads(x_shape[2], window[1], strides[1], dilation[1])
        pads = (top, bottom, left, right)
    return ConvGeometry(x_shape, window, strides, dilation, pads)


def conv2d_ref(x, w, b=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Cross-correlation, NHWC / (kh, kw, in, out), by the reference backend (float64 sums)."""
    return REF.conv2d_fwd(x, w, window_geometry(x.shape, w.shape[:2], strides, padding, dilation), b=b)[0]


def pool2d_ref(x, pool, strides, padding, kind):
    """Max or average pooling by the reference backend (padding excluded from every window)."""
    geometry = window_geometry(x.shape, pool, strides, padding)
    return REF.max_pool2d_fwd(x, geometry)[0] if kind == "max" else REF.avg_pool2d_fwd(x, geometry)


# -- Dense ---------------------------------------------------------------------------------
def test_dense_layer_test(device):
    run_layer_test(layers.Dense, {"units": 5, "activation": "relu"}, (3, 4), (3, 5),
                   expected_num_trainable_weights=2, expected_weight_shapes=[(4, 5), (5,)])


def test_dense_no_bias_and_rank3_input(device):
    run_layer_test(layers.Dense, {"units": 3, "use_bias": False}, (2, 6, 4), (2, 6, 3),
                   expected_num_trainable_weights=1, expected_weight_shapes=[(4, 3)])


@pytest.mark.parametrize("activation,fn", [
    (None, lambda z: z),
    ("relu", lambda z: np.maximum(z, 0)),
    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
    ("tanh", np.tanh),
    ("softmax", lambda z: np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)),
])
def test_dense_numbers(activation, fn, device):
    x = rnd(5, 7)
    layer = layers.Dense(4, activation=activation)
    y = layer(x).numpy()
    kernel, bias = layer.get_weights()
    assert kernel.shape == (7, 4) and bias.shape == (4,)  # Keras layout: (input_dim, units)
    np.testing.assert_array_equal(bias, 0)  # bias_initializer="zeros"
    layer.set_weights([kernel, rnd(4, seed=3)])
    ref = fn(x.astype(np.float64) @ kernel + rnd(4, seed=3))
    np.testing.assert_allclose(layer(x).numpy(), ref, rtol=1e-5, atol=1e-6)
    assert y.dtype == np.float32


def test_dense_rank3_matches_per_position_matmul(device):
    x = rnd(2, 3, 4)
    layer = layers.Dense(5)
    layer(x)
    layer.set_weights([rnd(4, 5, seed=1), rnd(5, seed=2)])
    ref = np.einsum("bti,io->bto", x, rnd(4, 5, seed=1)) + rnd(5, seed=2)
    np.testing.assert_allclose(layer(x).numpy(), ref, rtol=1e-5, atol=1e-6)


def test_dense_casts_integer_and_float64_input_to_float32(device):
    layer = layers.Dense(2)
    assert layer(np.array([[1, 2, 3]])).dtype.name == "float32"
    assert layer(np.array([[1.0, 2.0, 3.0]])).dtype.name == "float32"


def test_dense_kernel_initializer_and_bias_initializer_args(device):
    layer = layers.Dense(3, kernel_initializer="ones", bias_initializer=keras.initializers.Constant(0.5))
    np.testing.assert_allclose(layer(np.ones((1, 2), "float32")).numpy(), [[2.5, 2.5, 2.5]])


# -- Conv2D --------------------------------------------------------------------------------
CONV_CASES = [
    # kwargs, input shape, output shape
    (dict(filters=3, kernel_size=3), (2, 7, 6, 2), (2, 5, 4, 3)),
    (dict(filters=3, kernel_size=3, padding="same"), (2, 7, 6, 2), (2, 7, 6, 3)),
    (dict(filters=4, kernel_size=(3, 2), strides=2), (1, 9, 8, 3), (1, 4, 4, 4)),
    (dict(filters=4, kernel_size=3, strides=(2, 3), padding="same"), (1, 9, 8, 3), (1, 5, 3, 4)),
    (dict(filters=2, kernel_size=3, dilation_rate=2), (1, 9, 8, 1), (1, 5, 4, 2)),
    (dict(filters=2, kernel_size=3, dilation_rate=(2, 1), padding="same"), (1, 7, 6, 2), (1, 7, 6, 2)),
    (dict(filters=2, kernel_size=1, use_bias=False), (3, 4, 4, 5), (3, 4, 4, 2)),
    (dict(filters=5, kernel_size=2, activation="relu"), (2, 5, 5, 3), (2, 4, 4, 5)),
    (dict(filters=2, kernel_size=3, padding="SAME", activation="sigmoid"), (1, 5, 4, 2), (1, 5, 4, 2)),
]


@pytest.mark.parametrize("kwargs,in_shape,out_shape", CONV_CASES, ids=[str(c[0]) for c in CONV_CASES])
def test_conv2d_layer_test_and_numbers(kwargs, in_shape, out_shape, device):
    use_bias = kwargs.get("use_bias", True)
    ks = kwargs["kernel_size"]
    ks = (ks, ks) if isinstance(ks, int) else ks
    layer = run_layer_test(layers.Conv2D, kwargs, in_shape, out_shape,
                           expected_num_trainable_weights=2 if use_bias else 1,
                           expected_weight_shapes=[ks + (in_shape[-1], kwargs["filters"])] +
                           ([(kwargs["filters"],)] if use_bias else []))
    x = rnd(*in_shape, seed=5)
    w = rnd(*ks, in_shape[-1], kwargs["filters"], seed=6)
    b = rnd(kwargs["filters"], seed=7) if use_bias else None
    layer.set_weights([w] + ([b] if use_bias else []))
    strides = kwargs.get("strides", 1)
    strides = (strides, strides) if isinstance(strides, int) else strides
    dil = kwargs.get("dilation_rate", 1)
    dil = (dil, dil) if isinstance(dil, int) else dil
    ref = conv2d_ref(x, w, b, strides, kwargs.get("padding", "valid").lower(), dil)
    act = kwargs.get("activation")
    if act == "relu":
        ref = np.maximum(ref, 0)
    elif act == "sigmoid":
        ref = 1 / (1 + np.exp(-ref))
    np.testing.assert_allclose(layer(x).numpy(), ref, rtol=1e-4, atol=1e-5)


def test_conv2d_kernel_layout_is_kh_kw_in_out(device):
    layer = layers.Conv2D(8, (3, 5))
    layer.build((None, 10, 10, 4))
    assert [tuple(w.shape) for w in layer.weights] == [(3, 5, 4, 8), (8,)]
    assert [w.path for w in layer.weights] == ["conv2d/kernel", "conv2d/bias"]
    # a kernel that is 1 at (0, 0, c_in=2, c_out=6) copies input channel 2 to output 6
    w = np.zeros((3, 5, 4, 8), "float32")
    w[0, 0, 2, 6] = 1.0
    layer.set_weights([w, np.zeros(8, "float32")])
    x = rnd(1, 10, 10, 4)
    y = layer(x).numpy()
    np.testing.assert_allclose(y[..., 6], x[:, :8, :6, 2], rtol=1e-6)
    np.testing.assert_array_equal(y[..., :6], 0)


def test_conv2d_symbolic_with_unknown_spatial_dims():
    out = layers.Conv2D(4, 3, strides=2, padding="same")(keras.Input((None, None, 3)))
    assert out.shape == (None, None, None, 4)


def test_conv2d_get_config_values():
    c = layers.Conv2D(8, 3, strides=2, padding="Same", dilation_rate=1, activation="relu").get_config()
    assert c["kernel_size"] == (3, 3) and c["strides"] == (2, 2) and c["dilation_rate"] == (1, 1)
    assert c["padding"] == "same" and c["activation"] == "relu" and c["data_format"] == "channels_last"
    assert c["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert c["bias_initializer"]["class_name"] == "Zeros"


# -- pooling -------------------------------------------------------------------------------
POOL_CASES = [
    (dict(), (2, 6, 6, 3), (2, 3, 3, 3)),
    (dict(pool_size=3), (1, 7, 8, 2), (1, 2, 2, 2)),
    (dict(pool_size=2, strides=1), (1, 4, 5, 2), (1, 3, 4, 2)),
    (dict(pool_size=(2, 3), strides=(1, 2)), (2, 5, 7, 1), (2, 4, 3, 1)),
    (dict(pool_size=2, padding="same"), (1, 5, 7, 2), (1, 3, 4, 2)),
    (dict(pool_size=3, strides=2, padding="same"), (1, 6, 5, 2), (1, 3, 3, 2)),
]


@pytest.mark.parametrize("cls,kind", [(layers.MaxPooling2D, "max"), (layers.AveragePooling2D, "avg")])
@pytest.mark.parametrize("kwargs,in_shape,out_shape", POOL_CASES, ids=[str(c[0]) for c in POOL_CASES])
def test_pooling_layer_test_and_numbers(cls, kind, kwargs, in_shape, out_shape, device):
    x = rnd(*in_shape, seed=11)
    pool = kwargs.get("pool_size", 2)
    pool = (pool, pool) if isinstance(pool, int) else pool
    strides = kwargs.get("strides", pool)
    strides = (strides, strides) if isinstance(strides, int) else strides
    ref = pool2d_ref(x, pool, strides, kwargs.get("padding", "valid"), kind)
    run_layer_test(cls, kwargs, in_shape, out_shape, input_data=x, expected_output=ref)


def test_pooling_aliases_and_config():
    assert layers.MaxPool2D is layers.MaxPooling2D and layers.AvgPool2D is layers.AveragePooling2D
    c = layers.MaxPooling2D().get_config()
    assert c["pool_size"] == (2, 2) and c["strides"] == (2, 2) and c["padding"] == "valid"
    assert layers.MaxPooling2D().name == "max_pooling2d_1"
    assert layers.AveragePooling2D().name == "average_pooling2d"


# -- Flatten -------------------------------------------------------------------------------
@pytest.mark.parametrize("in_shape,out_shape", [((2, 3, 4), (2, 12)), ((3, 2, 2, 5), (3, 20)), ((4, 6), (4, 6)),
                                                ((4,), (4, 1))])
def test_flatten(in_shape, out_shape, device):
    x = rnd(*in_shape)
    run_layer_test(layers.Flatten, {}, in_shape, out_shape, input_data=x, expected_output=x.reshape(out_shape))


def test_flatten_symbolic_unknown_dim():
    assert layers.Flatten()(keras.Input((None, 3))).shape == (None, None)


# -- Dropout -------------------------------------------------------------------------------
def test_dropout_layer_test(device):
    run_layer_test(layers.Dropout, {"rate": 0.5}, (4, 3), (4, 3), deterministic=False)


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.75])
def test_dropout_training_zeroes_rate_and_scales_rest(rate, device):
    x = np.ones((200, 50), "float32")
    layer = layers.Dropout(rate)
    y = layer(x, training=True).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1.0 / (1.0 - rate), rtol=1e-6)
    assert abs((1 - kept.mean()) - rate) < 0.03  # 10,000 draws: 4+ standard deviations
    assert abs(y.mean() - 1.0) < 0.06  # the expectation is kept


def test_dropout_inference_is_identity(device):
    x = rnd(8, 5)
    layer = layers.Dropout(0.5)
    np.testing.assert_array_equal(layer(x).numpy(), x)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


def test_dropout_rate_zero_and_noise_shape(device):
    x = rnd(4, 6)
    np.testing.assert_array_equal(layers.Dropout(0.0)(x, training=True).numpy(), x)
    y = layers.Dropout(0.5, noise_shape=(None, 1))(np.ones((64, 6), "float32"), training=True).numpy()
    assert np.all((y == 0).all(axis=1) | (y == 2).all(axis=1))  # one draw per row


def test_dropout_seed_gives_reproducible_but_changing_masks(device):
    x = np.ones((20, 20), "float32")
    a, b = layers.Dropout(0.5, seed=7), layers.Dropout(0.5, seed=7)
    a1, a2 = a(x, training=True).numpy(), a(x, training=True).numpy()
    b1, b2 = b(x, training=True).numpy(), b(x, training=True).numpy()
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)


def test_dropout_active_only_in_fit(device):
    model = keras.Sequential([keras.Input((10,)), layers.Dropout(0.9)])
    x = np.ones((16, 10), "float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)
    np.testing.assert_array_equal(model(x).numpy(), x)
    assert (model(x, training=True).numpy() == 0).mean() > 0.7


# -- Activation / ReLU / Softmax -------------------------------------------------------------
ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "softmax": lambda z: np.exp(z) / np.exp(z).sum(-1, keepdims=True),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "elu": lambda z: np.where(z > 0, z, np.exp(z) - 1),
    "selu": lambda z: 1.0507009873554805 * np.where(z > 0, z, 1.6732632423543772 * (np.exp(z) - 1)),
    "swish": lambda z: z / (1 + np.exp(-z)),
    "silu": lambda z: z / (1 + np.exp(-z)),
    "relu6": lambda z: np.clip(z, 0, 6),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.2 * z),
    "exponential": np.exp,
    "log_softmax": lambda z: z - np.log(np.exp(z).sum(-1, keepdims=True)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_layer(name, device):
    x = rnd(3, 5) * 3
    run_layer_test(layers.Activation, {"activation": name}, (3, 5), (3, 5), input_data=x,
                   expected_output=ACTIVATIONS[name](x.astype(np.float64)), rtol=1e-5, atol=1e-5)
    assert keras.activations.get(name)(tf.constant(x)).shape == (3, 5)


def test_activation_accepts_a_callable(device):
    layer = layers.Activation(lambda t: t * 2.0)
    np.testing.assert_allclose(layer(np.ones((1, 2), "float32")).numpy(), [[2.0, 2.0]])


X_RELU = np.array([-10, -5, 0.0, 5, 10], "float32")


@pytest.mark.parametrize("kwargs,expected", [
    # the examples of keras.activations.relu and keras.layers.ReLU's docstrings
    ({}, [0, 0, 0, 5, 10]),
    ({"negative_slope": 0.5}, [-5, -2.5, 0, 5, 10]),
    ({"max_value": 5.0}, [0, 0, 0, 5, 5]),
    ({"threshold": 5.0}, [0, 0, 0, 0, 10]),
    ({"max_value": 10, "negative_slope": 0.5, "threshold": 0}, [-5, -2.5, 0, 5, 10]),
    ({"max_value": 6.0}, [0, 0, 0, 5, 6]),
    # below the threshold: negative_slope * (x - threshold)
    ({"negative_slope": 0.5, "threshold": 2.0, "max_value": 7.0}, [-6, -3.5, -1, 5, 7]),
])
def test_relu_layer(kwargs, expected, device):
    x = X_RELU.reshape(1, 5)
    run_layer_test(layers.ReLU, kwargs, (1, 5), (1, 5), input_data=x, expected_output=np.array([expected]))
    np.testing.assert_allclose(keras.activations.relu(tf.constant(X_RELU), **kwargs).numpy(), expected)


def test_relu_random_against_formula(device):
    x = rnd(4, 30) * 4
    ms, ns, th = 2.5, 0.1, 0.7
    ref = np.where(x >= ms, ms, np.where(x > th, x, ns * (x - th)))
    np.testing.assert_allclose(layers.ReLU(ms, ns, th)(x).numpy(), ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_softmax_layer(axis, device):
    x = rnd(3, 4, 5)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    ref = e / e.sum(axis=axis, keepdims=True)
    run_layer_test(layers.Softmax, {"axis": axis}, (3, 4, 5), (3, 4, 5), input_data=x, expected_output=ref)


def test_softmax_mask(device):
    x = np.array([[1.0, 2.0, 3.0, 4.0]], "float32")
    mask = np.array([[True, True, False, True]])
    y = layers.Softmax()(x, mask=mask).numpy()
    e = np.exp([1.0, 2.0, 4.0])
    np.testing.assert_allclose(y, [[e[0] / e.sum(), e[1] / e.sum(), 0.0, e[2] / e.sum()]], rtol=1e-6, atol=1e-7)


def test_softmax_large_logits_are_stable(device):
    y = layers.Softmax()(np.array([[1000.0, 1000.0, -1000.0]], "float32")).numpy()
    np.testing.assert_allclose(y, [[0.5, 0.5, 0.0]])


# -- InputLayer / Input --------------------------------------------------------------------
def test_input_shapes_names_and_dtype():
    a = keras.Input((28, 28, 1))
    assert a.shape == (None, 28, 28, 1) and a.dtype == "float32" and a.name == "input_layer"
    b = keras.Input(shape=(3,), batch_size=8, dtype="int32", name="ids")
    assert b.shape == (8, 3) and b.dtype == "int32" and b.name == "ids"
    assert keras.Input(batch_shape=(None, 5)).shape == (None, 5)
    assert keras.Input(4).shape == (None, 4)
    assert keras.Input((2,)).name == "input_layer_3"  # explicit names take no number


def test_input_layer(device):
    layer = layers.InputLayer(shape=(4, 2))
    assert layer.built and layer.batch_shape == (None, 4, 2) and layer.weights == []
    assert layer.output.shape == (None, 4, 2)
    config = layer.get_config()
    assert config["batch_shape"] == [None, 4, 2] and config["dtype"] == "float32"
    clone = layers.InputLayer.from_config(config)
    assert clone.batch_shape == layer.batch_shape and clone.name == layer.name
    x = rnd(3, 4, 2)
    np.testing.assert_array_equal(layer(x).numpy(), x)


def test_input_layer_without_shape_raises():
    with pytest.raises(ValueError, match="shape"):
        layers.InputLayer()


# -- default initializers --------------------------------------------------------------------
@pytest.mark.parametrize("make,shape,fans", [
    (lambda: layers.Dense(300), (None, 200), (200, 300)),
    (lambda: layers.Conv2D(32, 3), (None, 8, 8, 16), (16 * 9, 32 * 9)),
])
def test_default_kernel_is_glorot_uniform_and_bias_zeros(make, shape, fans, device):
    tf.random.set_seed(1)
    layer = make()
    layer.build(shape)
    kernel, bias = layer.get_weights()
    limit = math.sqrt(6.0 / sum(fans))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit  # the whole range is used
    n = kernel.size
    assert abs(kernel.mean()) < 4 * limit / math.sqrt(3 * n)
    assert abs(kernel.var() / (limit ** 2 / 3) - 1) < 0.05  # Var U(-a, a) = a^2 / 3
    hist = np.histogram(kernel, bins=10, range=(-limit, limit))[0] / n
    assert np.all(np.abs(hist - 0.1) < 0.02)  # flat
    np.testing.assert_array_equal(bias, 0)


def test_initializer_objects_and_names(device):
    init = keras.initializers
    tf.random.set_seed(0)
    assert isinstance(init.get("glorot_uniform"), init.GlorotUniform)
    assert isinstance(init.get("GlorotUniform"), init.GlorotUniform)
    w = init.HeNormal()((400, 300)).numpy()
    std = math.sqrt(2.0 / 400)
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-6  # truncated at 2 (scaled) sigma
    assert abs(w.std() / std - 1) < 0.05
    np.testing.assert_array_equal(init.Constant(3.0)((2, 2)).numpy(), np.full((2, 2), 3.0))
    np.testing.assert_array_equal(init.Ones()((3,)).numpy(), np.ones(3))
    u = init.RandomUniform(-0.1, 0.2)((1000,)).numpy()
    assert u.min() >= -0.1 and u.max() < 0.2
    a, b = init.GlorotUniform(seed=3)((5, 5)).numpy(), init.GlorotUniform(seed=3)((5, 5)).numpy()
    np.testing.assert_array_equal(a, b)


# -- names ---------------------------------------------------------------------------------
def test_layer_names_are_unique_per_class_and_reset_by_clear_session():
    assert [layers.Dense(1).name for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    assert layers.Conv2D(1, 1).name == "conv2d"
    assert layers.ReLU().name == "re_lu"
    assert layers.MaxPooling2D().name == "max_pooling2d"
    assert layers.Dense(1, name="head").name == "head"
    keras.backend.clear_session()
    assert layers.Dense(1).name == "dense"


# -- errors: bad arguments -------------------------------------------------------------------
@pytest.mark.parametrize("make,arg", [
    (lambda: layers.Dense(-3), "units=-3"),
    (lambda: layers.Dense(0), "units=0"),
    (lambda: layers.Dense(2.5), "units=2.5"),
    (lambda: layers.Conv2D(-1, 3), "filters=-1"),
    (lambda: layers.Conv2D(0, 3), "filters=0"),
    (lambda: layers.Conv2D(4, 0), "kernel_size=0"),
    (lambda: layers.Conv2D(4, (3, 3, 3)), "kernel_size=(3, 3, 3)"),
    (lambda: layers.Conv2D(4, 3, strides=0), "strides=0"),
    (lambda: layers.Conv2D(4, 3, padding="full"), "padding='full'"),
    (lambda: layers.MaxPooling2D(padding="causal"), "padding='causal'"),
    (lambda: layers.AveragePooling2D(pool_size=-2), "pool_size=-2"),
    (lambda: layers.Conv2D(4, 3, strides=2, dilation_rate=2), "dilation_rate=(2, 2)"),
    (lambda: layers.Dropout(1.5), "rate=1.5"),
    (lambda: layers.Dropout(-0.1), "rate=-0.1"),
    (lambda: layers.ReLU(max_value=-1), "max_value=-1"),
    (lambda: layers.ReLU(negative_slope=-0.1), "negative_slope=-0.1"),
    (lambda: layers.ReLU(threshold=-1.0), "threshold=-1.0"),
])
def test_bad_arguments_name_the_argument_and_value(make, arg):
    with pytest.raises(ValueError) as e:
        make()
    assert arg in str(e.value), str(e.value)


@pytest.mark.parametrize("make,ident", [
    (lambda: layers.Dense(3, activation="relux"), "relux"),
    (lambda: layers.Activation("sigmoidd"), "sigmoidd"),
    (lambda: layers.Dense(3, kernel_initializer="glorot_uniformm"), "glorot_uniformm"),
    (lambda: layers.Conv2D(3, 3, bias_initializer="zero_s"), "zero_s"),
])
def test_unknown_string_names(make, ident):
    with pytest.raises(ValueError) as e:
        make()
    msg = str(e.value)
    assert ident in msg and "Could not interpret" in msg
    assert "relu" in msg or "zeros" in msg  # the known names are listed


def test_unknown_keyword_argument():
    with pytest.raises(TypeError, match="units2"):
        layers.Dense(3, units2=4)


# -- errors: bad inputs ----------------------------------------------------------------------
@pytest.mark.parametrize("layer,shape,expected", [
    (lambda: layers.Conv2D(4, 3), (28, 28), "min_ndim=4"),
    (lambda: layers.Conv2D(4, 3), (28, 28, 1), "min_ndim=4"),
    (lambda: layers.Dense(4), (10,), "min_ndim=2"),
    (lambda: layers.MaxPooling2D(), (8, 8, 3), "ndim=4"),
    (lambda: layers.AveragePooling2D(), (2, 8, 8, 3, 1), "ndim=4"),
])
def test_wrong_rank_names_layer_expected_and_received(layer, shape, expected):
    lyr = layer()
    with pytest.raises(ValueError) as e:
        lyr(np.zeros(shape, "float32"))
    msg = str(e.value)
    assert f'"{lyr.name}"' in msg and expected in msg and f"found ndim={len(shape)}" in msg
    assert str(shape) in msg
    with pytest.raises(ValueError, match=lyr.name):  # symbolic inputs are checked too
        layer()(keras.Input(shape[1:]) if len(shape) > 1 else keras.Input(batch_shape=shape))


def test_dense_built_for_1600_fed_100():
    layer = layers.Dense(128)
    layer(np.zeros((2, 1600), "float32"))
    with pytest.raises(ValueError) as e:
        layer(np.zeros((2, 100), "float32"))
    msg = str(e.value)
    assert '"dense"' in msg and "1600" in msg and "(2, 100)" in msg


def test_conv2d_channel_mismatch_after_build():
    layer = layers.Conv2D(4, 3)
    layer(np.zeros((1, 5, 5, 3), "float32"))
    with pytest.raises(ValueError) as e:
        layer(np.zeros((1, 5, 5, 2), "float32"))
    assert '"conv2d"' in str(e.value) and "3" in str(e.value) and "(1, 5, 5, 2)" in str(e.value)


def test_conv2d_input_smaller_than_kernel():
    with pytest.raises(ValueError) as e:
        layers.Conv2D(2, 5)(np.zeros((1, 3, 3, 1), "float32"))
    msg = str(e.value)
    assert "conv2d" in msg and "input size 3" in msg and "window 5" in msg


def test_wrong_dtype_names_the_layer():
    with pytest.raises(TypeError) as e:
        layers.Dense(3)(np.array([["a", "b"]]))
    msg = str(e.value)
    assert '"dense"' in msg and "float" in msg and "<U1" in msg
    with pytest.raises(TypeError, match="conv2d"):
        layers.Conv2D(3, 1)(np.full((1, 2, 2, 1), "x"))


def test_count_params_before_build_raises():
    with pytest.raises(ValueError, match="dense.*isn't built"):
        layers.Dense(3).count_params()


def test_set_weights_errors_show_both_shapes_and_counts():
    layer = layers.Dense(2)
    layer.build((None, 3))
    with pytest.raises(ValueError) as e:
        layer.set_weights([np.zeros((4, 2)), np.zeros(2)])
    assert "dense" in str(e.value) and "(3, 2)" in str(e.value) and "(4, 2)" in str(e.value)
    with pytest.raises(ValueError) as e:
        layer.set_weights([np.zeros((3, 2))])
    assert "length 1" in str(e.value) and "expecting 2" in str(e.value)


# -- custom layers -----------------------------------------------------------------------------
class Scale(layers.Layer):
    """y = x * w + b, with a non-trainable counter weight."""

    def __init__(self, init=1.0, **kwargs):
        super().__init__(**kwargs)
        self.init = init

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer=keras.initializers.Constant(self.init),
                                 name="w")
        self.b = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="b")
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False, name="calls")

    def call(self, inputs):
        return inputs * self.w + self.b

    def get_config(self):
        c = super().get_config()
        c["init"] = self.init
        return c


def test_custom_layer_with_add_weight(device):
    layer = run_layer_test(Scale, {"init": 2.0}, (3, 4), (3, 4), expected_num_trainable_weights=2,
                           expected_num_non_trainable_weights=1, expected_weight_shapes=[(4,), (4,), ()],
                           custom_objects={"Scale": Scale})
    assert layer.name.startswith("scale")
    assert [w.path for w in layer.weights] == [f"{layer.name}/w", f"{layer.name}/b", f"{layer.name}/calls"]
    fresh = Scale(3.0)
    np.testing.assert_allclose(fresh(np.ones((1, 2), "float32")).numpy(), [[3.0, 3.0]])


def test_custom_layer_default_compute_output_shape_and_nested_tracking():
    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = [layers.Dense(4), layers.Dense(2)]

        def call(self, x):
            for layer in self.inner:
                x = layer(x)
            return x

    block = Block()
    assert block(keras.Input((3,))).shape == (None, 2)
    assert len(block.weights) == 4 and block.count_params() == 3 * 4 + 4 + 4 * 2 + 2
    block.trainable = False
    assert block.trainable_weights == [] and all(not w.trainable for w in block.weights)


def test_add_weight_default_initializers(device):
    layer = layers.Layer()
    w = layer.add_weight(shape=(50, 50))
    i = layer.add_weight(shape=(3,), dtype="int32")
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 100) and w.numpy().std() > 0  # glorot_uniform
    np.testing.assert_array_equal(i.numpy(), 0)
    assert i.dtype.name == "int32"


def test_weights_list_trainable_before_non_trainable(device):
    class Counter(layers.Layer):
        def build(self, input_shape):
            self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

        def call(self, x):
            return x * self.scale

    layer = Counter()
    layer(np.ones((1, 3), "float32"))
    assert [w.name for w in layer.weights] == ["scale", "count"]  # as Keras 3 orders them
    assert [w.shape for w in layer.get_weights()] == [(3,), ()]
    layer.trainable = False  # freezing does not reorder
    assert [w.name for w in layer.weights] == ["scale", "count"]
