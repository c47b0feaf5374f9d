"""The Keras layers beyond the seed set (issue 5, "Layers"): global pooling, reshaping, merging,
normalization, Embedding, Conv2DTranspose, DepthwiseConv2D/SeparableConv2D, Rescaling, LeakyReLU,
and the activations; plus the new ops they rest on (erf, gelu, conv2d_transpose, depthwise_conv2d).

Every layer goes through ``run_layer_test`` (shapes eager and symbolic, weight counts and layout,
config round trip, gradients reaching every weight); the numbers are compared with NumPy written
from the definitions (explicit loops for the convolutions), and the errors bad arguments and bad
inputs raise are checked. (The recurrent layers are in tests/test_rnn.py.)

Every test that computes a layer's or an op's values or gradients takes the ``device`` fixture
(tests/conftest.py) and runs on cpu, emulator and gpu: ``run_layer_test`` and ``check_op`` compare
with the reference backend there (finite differences in float64 on the CPU only). The error tests
stay CPU-only: they are decided before any backend array work.
"""
import math

import numpy as np
import pytest

import gpuflow as tf
from gpuflow.ops import nn_ops
from gradcheck import check_op, rand
from layer_test_utils import rnd, run_layer_test, same_pads

keras = tf.keras
layers = keras.layers


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    yield


# -- global pooling -----------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,keepdims,shape,out", [
    (layers.GlobalAveragePooling2D, False, (2, 5, 4, 3), (2, 3)),
    (layers.GlobalAveragePooling2D, True, (2, 5, 4, 3), (2, 1, 1, 3)),
    (layers.GlobalMaxPooling2D, False, (2, 5, 4, 3), (2, 3)),
    (layers.GlobalMaxPooling2D, True, (2, 5, 4, 3), (2, 1, 1, 3)),
    (layers.GlobalAveragePooling1D, False, (2, 6, 3), (2, 3)),
    (layers.GlobalMaxPooling1D, True, (2, 6, 3), (2, 1, 3)),
])
def test_global_pooling(cls, keepdims, shape, out, device):
    x = rnd(*shape)
    axes = tuple(range(1, len(shape) - 1))
    ref = (x.mean if "Average" in cls.__name__ else x.max)(axis=axes, keepdims=keepdims)
    run_layer_test(cls, {"keepdims": keepdims}, shape, out, input_data=x, expected_output=ref)


def test_global_average_pooling1d_mask_averages_unmasked_steps(device):
    x = rnd(2, 4, 3)
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    y = layers.GlobalAveragePooling1D()(x, mask=mask).numpy()
    np.testing.assert_allclose(y, np.stack([x[0, :2].mean(0), x[1].mean(0)]), rtol=1e-6)


def test_global_pooling_rank_error():
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=3"):
        layers.GlobalAveragePooling2D()(rnd(2, 3, 4))


# -- reshaping ---------------------------------------------------------------------------------------
def test_reshape(device):
    x = rnd(2, 3, 4)
    run_layer_test(layers.Reshape, {"target_shape": (6, 2)}, (2, 3, 4), (2, 6, 2), input_data=x,
                   expected_output=x.reshape(2, 6, 2))
    run_layer_test(layers.Reshape, {"target_shape": (-1, 3)}, (2, 3, 4), (2, 4, 3))
    assert layers.Reshape((-1, 3)).compute_output_shape((None, None, 4)) == (None, None, 3)


def test_reshape_errors():
    with pytest.raises(ValueError, match="total size of the tensor must be unchanged"):
        layers.Reshape((5, 5))(rnd(2, 3, 4))
    with pytest.raises(ValueError, match="single unknown dimension"):
        layers.Reshape((-1, -1))
    with pytest.raises(ValueError, match="cannot by divided"):
        layers.Reshape((-1, 5))(keras.Input((3, 4)))


def test_permute(device):
    x = rnd(2, 3, 4, 5)
    run_layer_test(layers.Permute, {"dims": (3, 1, 2)}, (2, 3, 4, 5), (2, 5, 3, 4), input_data=x,
                   expected_output=x.transpose(0, 3, 1, 2))
    with pytest.raises(ValueError, match="must be consecutive and start from 1"):
        layers.Permute((0, 1))
    with pytest.raises(ValueError, match="expected ndim=3"):
        layers.Permute((2, 1))(rnd(2, 3, 4, 5))


def test_repeat_vector(device):
    x = rnd(2, 3)
    run_layer_test(layers.RepeatVector, {"n": 4}, (2, 3), (2, 4, 3), input_data=x,
                   expected_output=np.repeat(x[:, None], 4, axis=1))


def test_upsampling2d_nearest(device):
    x = rnd(2, 3, 4, 2)
    ref = np.repeat(np.repeat(x, 2, axis=1), 3, axis=2)
    run_layer_test(layers.UpSampling2D, {"size": (2, 3)}, (2, 3, 4, 2), (2, 6, 12, 2), input_data=x,
                   expected_output=ref)


# tf.image.resize(x, size, "bilinear") of x = [[1, 2, 4], [3, 5, 9]] (TensorFlow 2.21), the rule Keras 3 uses
_TF_BILINEAR_4x6 = np.array([[1., 1.25, 1.75, 2.5, 3.5, 4.],
                             [1.5, 1.8125, 2.4375, 3.375, 4.625, 5.25],
                             [2.5, 2.9375, 3.8125, 5.125, 6.875, 7.75],
                             [3., 3.5, 4.5, 6., 8., 9.]])
_TF_BILINEAR_6x9_ROW2 = np.array([1.6666667, 1.6666667, 2.1111112, 2.5555558, 3., 3.8888893, 4.777778, 5.666667,
                                  5.666667])


def bilinear_ref(x, oh, ow):
    """Half-pixel-centers bilinear resize by explicit loops (TensorFlow 2's tf.image.resize rule)."""
    n, h, w, c = x.shape
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        sy = (i + 0.5) * h / oh - 0.5
        y0 = math.floor(sy)
        ly = sy - y0
        r0, r1 = min(max(y0, 0), h - 1), min(max(y0 + 1, 0), h - 1)
        for j in range(ow):
            sx = (j + 0.5) * w / ow - 0.5
            x0 = math.floor(sx)
            lx = sx - x0
            c0, c1 = min(max(x0, 0), w - 1), min(max(x0 + 1, 0), w - 1)
            top = x[:, r0, c0] * (1 - lx) + x[:, r0, c1] * lx
            bot = x[:, r1, c0] * (1 - lx) + x[:, r1, c1] * lx
            out[:, i, j] = top * (1 - ly) + bot * ly
    return out


def test_upsampling2d_bilinear_matches_tensorflow(device):
    x = np.array([[1., 2., 4.], [3., 5., 9.]], np.float32).reshape(1, 2, 3, 1)
    y = layers.UpSampling2D(2, interpolation="bilinear")(x).numpy()[0, :, :, 0]
    np.testing.assert_allclose(y, _TF_BILINEAR_4x6, rtol=1e-6)
    y = layers.UpSampling2D(3, interpolation="bilinear")(x).numpy()[0, :, :, 0]
    np.testing.assert_allclose(y[2], _TF_BILINEAR_6x9_ROW2, rtol=1e-6)
    x = rnd(2, 3, 5, 2)
    run_layer_test(layers.UpSampling2D, {"size": (3, 2), "interpolation": "bilinear"}, (2, 3, 5, 2), (2, 9, 10, 2),
                   input_data=x, expected_output=bilinear_ref(x.astype(np.float64), 9, 10), atol=1e-5)


def test_upsampling2d_bilinear_gradient(device):
    from gpuflow.keras.layers.reshaping import resize_bilinear
    check_op(lambda a: resize_bilinear(a, (5, 7)), rand(1, 2, 3, 2), device=device)


def test_upsampling2d_errors():
    with pytest.raises(ValueError, match="interpolation"):
        layers.UpSampling2D(interpolation="cubic-ish")
    with pytest.raises(NotImplementedError, match="bicubic"):
        layers.UpSampling2D(interpolation="bicubic")


def test_zero_padding2d_and_cropping2d(device):
    x = rnd(2, 5, 6, 3)
    run_layer_test(layers.ZeroPadding2D, {"padding": ((1, 2), (0, 3))}, (2, 5, 6, 3), (2, 8, 9, 3), input_data=x,
                   expected_output=np.pad(x, ((0, 0), (1, 2), (0, 3), (0, 0))))
    run_layer_test(layers.ZeroPadding2D, {"padding": 2}, (2, 5, 6, 3), (2, 9, 10, 3))
    assert layers.ZeroPadding2D((1, 2)).padding == ((1, 1), (2, 2))
    run_layer_test(layers.Cropping2D, {"cropping": ((1, 2), (2, 0))}, (2, 5, 6, 3), (2, 2, 4, 3), input_data=x,
                   expected_output=x[:, 1:3, 2:])
    run_layer_test(layers.Cropping2D, {"cropping": 1}, (2, 5, 6, 3), (2, 3, 4, 3))
    with pytest.raises(ValueError, match="should be smaller than the corresponding spatial dimension"):
        layers.Cropping2D(((3, 2), (0, 0)))(x)
    with pytest.raises(ValueError, match="`padding` should have two elements"):
        layers.ZeroPadding2D((1, 2, 3))


# -- merging -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,fn", [
    (layers.Add, lambda a, b, c: a + b + c),
    (layers.Multiply, lambda a, b, c: a * b * c),
    (layers.Average, lambda a, b, c: (a + b + c) / 3),
    (layers.Maximum, lambda a, b, c: np.maximum(np.maximum(a, b), c)),
    (layers.Minimum, lambda a, b, c: np.minimum(np.minimum(a, b), c)),
])
def test_elementwise_merge(cls, fn, device):
    a, b, c = rnd(2, 3, 4, seed=1), rnd(2, 3, 4, seed=2), rnd(2, 3, 4, seed=3)
    layer = cls()
    np.testing.assert_allclose(layer([a, b, c]).numpy(), fn(a, b, c), rtol=1e-6)
    kt = cls()([keras.Input((3, 4)), keras.Input((3, 4)), keras.Input((3, 4))])
    assert kt.shape == (None, 3, 4)
    assert cls.from_config(layer.get_config()).get_config() == layer.get_config()
    ts = [tf.constant(v) for v in (a, b, c)]
    with tf.GradientTape() as tape:
        tape.watch(ts)
        y = tf.reduce_sum(layer(ts))
    assert all(g is not None and g.shape == (2, 3, 4) for g in tape.gradient(y, ts))


def test_merge_broadcasting_and_functional_forms(device):
    a, b = rnd(2, 3, 4), rnd(2, 1, 4)
    np.testing.assert_allclose(layers.Add()([a, b]).numpy(), a + b, rtol=1e-6)
    np.testing.assert_allclose(layers.add([a, b]).numpy(), a + b, rtol=1e-6)
    np.testing.assert_allclose(layers.multiply([a, b]).numpy(), a * b, rtol=1e-6)
    np.testing.assert_allclose(layers.Subtract()([a, b]).numpy(), a - b, rtol=1e-6)
    assert layers.Add().compute_output_shape([(None, 3, 4), (None, 1, 4)]) == (None, 3, 4)
    np.testing.assert_allclose(layers.concatenate([a, a], axis=1).numpy(), np.concatenate([a, a], 1))


def test_merge_errors():
    with pytest.raises(ValueError, match="Inputs have incompatible shapes"):
        layers.Add()([rnd(2, 3, 4), rnd(2, 3, 5)])
    with pytest.raises(ValueError, match="Inputs have incompatible shapes"):
        layers.Multiply()([keras.Input((3, 4)), keras.Input((3, 5))])
    with pytest.raises(ValueError, match="should be called on a list of inputs"):
        layers.Add()(rnd(2, 3))
    with pytest.raises(ValueError, match="different batch sizes"):
        layers.Add()([rnd(2, 3), rnd(3, 3)])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Subtract()([rnd(2, 3)] * 3)


def test_concatenate(device):
    a, b = rnd(2, 3, 4, seed=1), rnd(2, 3, 2, seed=2)
    layer = layers.Concatenate()
    np.testing.assert_array_equal(layer([a, b]).numpy(), np.concatenate([a, b], axis=-1))
    assert layer.get_config()["axis"] == -1
    assert layers.Concatenate(axis=1)([keras.Input((3, 4)), keras.Input((5, 4))]).shape == (None, 8, 4)
    assert layers.Concatenate()([keras.Input((3, 4)), keras.Input((3, 2))]).shape == (None, 3, 6)
    with pytest.raises(ValueError, match="matching shapes except for the concatenation axis"):
        layers.Concatenate()([rnd(2, 3, 4), rnd(2, 5, 4)])
    with pytest.raises(ValueError, match="matching shapes except for the concatenation axis"):
        layers.Concatenate(axis=1)([keras.Input((3, 4)), keras.Input((5, 3))])
    with pytest.raises(ValueError, match="list of"):
        layers.Concatenate()(rnd(2, 3))


# -- normalization -----------------------------------------------------------------------------------
def test_batch_normalization_layer_test(device):
    layer = run_layer_test(layers.BatchNormalization, {"momentum": 0.9}, (4, 3, 5), (4, 3, 5),
                           expected_num_trainable_weights=2, expected_num_non_trainable_weights=2,
                           expected_weight_shapes=[(5,), (5,), (5,), (5,)], deterministic=False)
    assert [w.path.split("/")[-1] for w in layer.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    run_layer_test(layers.BatchNormalization, {"axis": 1, "center": False}, (4, 3, 5), (4, 3, 5),
                   expected_num_trainable_weights=1, expected_num_non_trainable_weights=2,
                   expected_weight_shapes=[(3,), (3,), (3,)], deterministic=False)


def test_batch_normalization_training_and_inference_numbers(device):
    x = rnd(6, 4, 3) * 2 + 1
    bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
    bn(x)  # build: inference with the initial moving statistics (0, 1)
    gamma, beta = rnd(3, seed=5), rnd(3, seed=6)
    bn.set_weights([gamma, beta, np.zeros(3, np.float32), np.ones(3, np.float32)])
    np.testing.assert_allclose(bn(x).numpy(), x / np.sqrt(1 + 1e-3) * gamma + beta, rtol=1e-5, atol=1e-6)
    y = bn(x, training=True).numpy()
    mean, var = x.astype(np.float64).mean(axis=(0, 1)), x.astype(np.float64).var(axis=(0, 1))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3) * gamma + beta, rtol=1e-4, atol=1e-5)
    # Keras's update: moving = moving * momentum + batch * (1 - momentum), biased batch variance
    mm, mv = bn.get_weights()[2:]
    np.testing.assert_allclose(mm, 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mv, 0.9 + 0.1 * var, rtol=1e-5)
    np.testing.assert_allclose(bn(x, training=False).numpy(), (x - mm) / np.sqrt(mv + 1e-3) * gamma + beta,
                               rtol=1e-4, atol=1e-5)
    # a frozen BatchNormalization uses (and keeps) its moving statistics even in training, as Keras 3
    bn.trainable = False
    np.testing.assert_allclose(bn(x, training=True).numpy(), bn(x, training=False).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(bn.get_weights()[2], mm)


def test_batch_normalization_gradients_float64(device):
    x = rand(5, 3, seed=1)

    def f(x, gamma, beta):
        mean, var = nn_ops.moments(x, [0])
        return nn_ops.batch_normalization(x, mean, var, beta, gamma, 1e-3)
    check_op(f, x, rand(3, seed=2), rand(3, seed=3), device=device)


def test_batch_normalization_in_fit_updates_moving_statistics(device):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3), layers.BatchNormalization(), layers.Dense(1)])
    model.compile("sgd", "mse")
    bn = model.layers[1]
    before = bn.get_weights()[2].copy()
    model.fit(rnd(16, 4), rnd(16, 1), epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(bn.get_weights()[2], before)
    assert len(model.non_trainable_weights) == 2 and len(model.trainable_weights) == 6


def test_batch_normalization_errors():
    with pytest.raises(ValueError, match="out of bounds"):
        layers.BatchNormalization(axis=3)(rnd(2, 3))
    bn = layers.BatchNormalization()
    bn(rnd(2, 3))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        bn(rnd(2, 4))
    with pytest.raises(NotImplementedError, match="renorm"):
        layers.BatchNormalization(renorm=True)


def test_layer_normalization(device):
    x = rnd(2, 3, 4)
    layer = run_layer_test(layers.LayerNormalization, {"epsilon": 1e-3}, (2, 3, 4), (2, 3, 4),
                           expected_num_trainable_weights=2, expected_weight_shapes=[(4,), (4,)], input_data=x,
                           expected_output=(x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3),
                           atol=1e-5)
    assert layer.get_config()["axis"] == [-1]  # Keras stores the axes as a list once built
    g, b = rnd(3, 4, seed=1), rnd(3, 4, seed=2)
    ln = layers.LayerNormalization(axis=[1, 2], epsilon=1e-3)
    ln(x)
    ln.set_weights([g, b])
    xd = x.astype(np.float64)
    m, v = xd.mean((1, 2), keepdims=True), xd.var((1, 2), keepdims=True)
    np.testing.assert_allclose(ln(x).numpy(), (xd - m) / np.sqrt(v + 1e-3) * g + b, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="out of bounds"):
        layers.LayerNormalization(axis=4)(x)
    with pytest.raises(TypeError, match="Expected an int or a list/tuple of ints"):
        layers.LayerNormalization(axis="last")


# -- Embedding ---------------------------------------------------------------------------------------
def test_embedding(device):
    ids = np.array([[1, 3, 3], [0, 9, 2]], np.int32)
    layer = run_layer_test(layers.Embedding, {"input_dim": 10, "output_dim": 4}, (2, 3), (2, 3, 4),
                           input_dtype="int32", expected_num_trainable_weights=1, expected_weight_shapes=[(10, 4)],
                           input_data=ids)
    table = layer.get_weights()[0]
    np.testing.assert_array_equal(layer(ids).numpy(), table[ids])
    np.testing.assert_array_equal(layer(ids.astype(np.float32)).numpy(), table[ids])  # whole floats: cast, as Keras
    fresh = layers.Embedding(10, 4)
    fresh.build()
    assert np.abs(fresh.get_weights()[0]).max() <= 0.05  # "uniform": U(-0.05, 0.05)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(layer(ids))
    g = tape.gradient(y, layer.embeddings).numpy()
    np.testing.assert_array_equal(g[:, 0], np.bincount(ids.ravel(), minlength=10))  # repeated ids accumulate


def test_embedding_errors():
    layer = layers.Embedding(10, 4, name="emb")
    with pytest.raises(IndexError, match="emb.*indices must be in \\[0, 10\\).*12"):
        layer(np.array([[1, 12]]))
    with pytest.raises(ValueError, match="integer indices.*1.5"):
        layer(np.array([[1.5, 2.0]]))
    with pytest.raises(ValueError, match="`input_dim` must be a positive integer"):
        layers.Embedding(0, 4)


# -- transposed, depthwise and separable convolution ------------------------------------------------------
def conv_transpose_ref(x, w, out_hw, strides, pads_tl, dilation=(1, 1)):
    """Scatter definition: input pixel (i, j) adds x[n, i, j] @ w[a, b].T at (i*s + a*d - top, j*s + b*d - left)."""
    n, h, wd, _ = x.shape
    kh, kw, f, _ = w.shape
    out = np.zeros((n, out_hw[0], out_hw[1], f))
    for i in range(h):
        for j in range(wd):
            for a in range(kh):
                for b in range(kw):
                    r = i * strides[0] + a * dilation[0] - pads_tl[0]
                    c = j * strides[1] + b * dilation[1] - pads_tl[1]
                    if 0 <= r < out_hw[0] and 0 <= c < out_hw[1]:
                        out[:, r, c] += x[:, i, j].astype(np.float64) @ w[a, b].T
    return out


@pytest.mark.parametrize("kwargs,out_hw", [
    ({"strides": 2, "padding": "valid"}, (9, 11)),
    ({"strides": 2, "padding": "same"}, (8, 10)),
    ({"strides": (2, 3), "padding": "valid", "output_padding": (1, 2)}, (10, 17)),
    ({"strides": 2, "padding": "same", "output_padding": 1}, (8, 10)),
    ({"strides": 1, "padding": "same", "dilation_rate": 2}, (4, 5)),
    ({"strides": 3, "padding": "valid", "kernel_size": 2}, (12, 15)),
])
def test_conv2d_transpose(kwargs, out_hw, device):
    kwargs = dict(kwargs)
    k = kwargs.pop("kernel_size", 3)
    x = rnd(2, 4, 5, 3)
    layer = run_layer_test(layers.Conv2DTranspose, {"filters": 6, "kernel_size": k, **kwargs}, (2, 4, 5, 3),
                           (2,) + out_hw + (6,), expected_num_trainable_weights=2,
                           expected_weight_shapes=[(k, k, 6, 3), (6,)], input_data=x)
    w, b = layer.get_weights()
    s = layer.strides
    d = layer.dilation_rate
    keff = [(k - 1) * d[i] + 1 for i in range(2)]
    if layer.padding == "same":  # TensorFlow's SAME rule applied to the output shape
        top = [max((x.shape[1 + i] - 1) * s[i] + keff[i] - out_hw[i], 0) // 2 for i in range(2)]
    else:
        top = [0, 0]
    ref = conv_transpose_ref(x, w, out_hw, s, top, d) + b
    np.testing.assert_allclose(layer(x).numpy(), ref, rtol=1e-4, atol=1e-4)


def test_conv2d_transpose_is_the_adjoint_of_conv2d(device):
    # <conv2d(z, w), x> == <z, conv2d_transpose(x, w)> for any z
    dtype, tol = (np.float64, 1e-10) if device == "cpu" else (np.float32, 1e-4)  # the CUDA kernels take float32
    z, w, x = (a.astype(dtype) for a in (rand(2, 7, 6, 3, seed=1), rand(3, 2, 3, 4, seed=2), rand(2, 4, 3, 4, seed=3)))
    lhs = np.sum(nn_ops.conv2d(tf.constant(z), tf.constant(w), 2, "SAME").numpy() * x, dtype=np.float64)
    rhs = np.sum(z * nn_ops.conv2d_transpose(tf.constant(x), tf.constant(w), z.shape, 2, "SAME").numpy(),
                 dtype=np.float64)
    assert abs(lhs - rhs) < tol, (lhs, rhs)


@pytest.mark.parametrize("strides,padding,out_hw", [(2, "VALID", (7, 8)), (2, "SAME", (6, 8)),
                                                   ((2, 3), "VALID", (8, 12))])
def test_conv2d_transpose_op_gradients(strides, padding, out_hw, device):
    out = (2,) + out_hw + (5,)
    check_op(lambda a, b: nn_ops.conv2d_transpose(a, b, out, strides, padding), rand(2, 3, 4, 3),
             rand(3, 2, 5, 3), device=device)


def test_conv2d_transpose_errors():
    with pytest.raises(ValueError, match="strictly less than `strides`"):
        layers.Conv2DTranspose(4, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="expected ndim=4"):
        layers.Conv2DTranspose(4, 3)(rnd(2, 5, 3))
    with pytest.raises(ValueError, match="gives spatial size"):
        nn_ops.conv2d_transpose(tf.constant(rnd(1, 3, 3, 2)), tf.constant(rnd(3, 3, 4, 2)), (1, 9, 9, 4), 2, "SAME")
    with pytest.raises(ValueError, match="out_channels, in_channels=2"):
        nn_ops.conv2d_transpose(tf.constant(rnd(1, 3, 3, 2)), tf.constant(rnd(3, 3, 4, 5)), (1, 6, 6, 4), 2, "SAME")


def depthwise_ref(x, w, strides, padding, dilation=(1, 1)):
    """out[n, i, j, c*M + m] = sum_ab x_pad[n, i*s + a*d, j*s + b*d, c] * w[a, b, c, m], by explicit loops."""
    n, h, wd, c = x.shape
    kh, kw, _, mult = w.shape
    (sh, sw), (dh, dw) = strides, dilation
    if padding == "same":
        oh, pt, pb = same_pads(h, kh, sh, dh)
        ow, pl, pr = same_pads(wd, kw, sw, dw)
    else:
        oh, ow = (h - (kh - 1) * dh - 1) // sh + 1, (wd - (kw - 1) * dw - 1) // sw + 1
        pt = pb = pl = pr = 0
    xp = np.pad(x.astype(np.float64), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    out = np.zeros((n, oh, ow, c, mult))
    for i in range(oh):
        for j in range(ow):
            for a in range(kh):
                for b in range(kw):
                    out[:, i, j] += xp[:, i * sh + a * dh, j * sw + b * dw, :, None] * w[a, b]
    return out.reshape(n, oh, ow, c * mult)


@pytest.mark.parametrize("kwargs", [{}, {"strides": 2, "padding": "same"},
                                    {"depth_multiplier": 2, "dilation_rate": 2, "padding": "same"},
                                    {"depth_multiplier": 3, "strides": (2, 1), "kernel_size": (2, 3)}])
def test_depthwise_conv2d(kwargs, device):
    kwargs = dict(kwargs)
    k = kwargs.pop("kernel_size", 3)
    kt = (k, k) if isinstance(k, int) else k
    m = kwargs.get("depth_multiplier", 1)
    x = rnd(2, 7, 6, 3)
    layer = layers.DepthwiseConv2D(k, **kwargs)
    y = layer(x)
    assert layer.kernel.shape == kt + (3, m) and layer.bias.shape == (3 * m,)
    ref = depthwise_ref(x, layer.get_weights()[0], layer.strides, layer.padding, layer.dilation_rate)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    run_layer_test(layers.DepthwiseConv2D, {"kernel_size": k, **kwargs}, (2, 7, 6, 3), ref.shape,
                   expected_num_trainable_weights=2, expected_weight_shapes=[kt + (3, m), (3 * m,)])


def test_depthwise_conv2d_op_gradients(device):
    check_op(lambda a, b: nn_ops.depthwise_conv2d(a, b, (2, 1), "SAME", dilations=1), rand(2, 5, 4, 3),
             rand(3, 2, 3, 2), device=device)
    check_op(lambda a, b: nn_ops.depthwise_conv2d(a, b, 1, "VALID", dilations=2), rand(1, 6, 5, 2),
             rand(2, 2, 2, 1), device=device)


def test_separable_conv2d(device):
    x = rnd(2, 7, 6, 3)
    layer = run_layer_test(layers.SeparableConv2D, {"filters": 5, "kernel_size": 3, "depth_multiplier": 2,
                                                    "padding": "same", "activation": "relu"}, (2, 7, 6, 3),
                           (2, 7, 6, 5), expected_num_trainable_weights=3,
                           expected_weight_shapes=[(3, 3, 3, 2), (1, 1, 6, 5), (5,)], input_data=x)
    dk, pk, b = layer.get_weights()
    ref = np.maximum(depthwise_ref(x, dk, (1, 1), "same") @ pk[0, 0] + b, 0)
    np.testing.assert_allclose(layer(x).numpy(), ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="depth_multiplier"):
        layers.SeparableConv2D(4, 3, depth_multiplier=0)


# -- Rescaling, LeakyReLU, ELU -------------------------------------------------------------------------
def test_rescaling(device):
    x = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3)).astype(np.uint8)
    run_layer_test(layers.Rescaling, {"scale": 1 / 127.5, "offset": -1.0}, (2, 4, 4, 3), (2, 4, 4, 3),
                   input_data=x.astype(np.float32), expected_output=x / 127.5 - 1.0)
    y = layers.Rescaling(1 / 255.)(x)
    assert y.dtype == tf.float32
    np.testing.assert_allclose(y.numpy(), x / 255., rtol=1e-6)
    per_channel = layers.Rescaling([1.0, 2.0, 3.0])
    np.testing.assert_allclose(per_channel(x).numpy(), x * np.array([1, 2, 3.]), rtol=1e-6)
    assert per_channel.get_config()["scale"] == [1.0, 2.0, 3.0]


def test_leaky_relu_and_elu(device):
    x = rnd(3, 4)
    layer = run_layer_test(layers.LeakyReLU, {}, (3, 4), (3, 4), input_data=x,
                           expected_output=np.where(x > 0, x, 0.3 * x))
    assert layer.negative_slope == 0.3  # Keras 3's default
    run_layer_test(layers.LeakyReLU, {"negative_slope": 0.1}, (3, 4), (3, 4), input_data=x,
                   expected_output=np.where(x > 0, x, 0.1 * x))
    with pytest.warns(UserWarning, match="alpha"):
        assert layers.LeakyReLU(alpha=0.2).negative_slope == 0.2
    with pytest.raises(ValueError, match="cannot be None or negative"):
        layers.LeakyReLU(-1.0)
    run_layer_test(layers.ELU, {"alpha": 0.5}, (3, 4), (3, 4), input_data=x,
                   expected_output=np.where(x > 0, x, 0.5 * np.expm1(x)), atol=1e-6)


# -- activations and erf ---------------------------------------------------------------------------------
def test_erf_matches_math_erf(device):
    x = np.concatenate([np.linspace(-7, 7, 20001), [0.0, -0.0, 1.0, -1.0, 6.0, 30.0, -1e-8, 1e-300]])
    ref = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(nn_ops.erf(tf.constant(x)).numpy(), ref, rtol=0, atol=1e-15)
    y32 = nn_ops.erf(tf.constant(x.astype(np.float32))).numpy()
    assert y32.dtype == np.float32
    ref32 = np.array([math.erf(float(v)) for v in x.astype(np.float32)])
    assert np.max(np.abs(y32 - ref32)) <= 6e-8  # within one float32 ulp of 1
    assert np.isnan(nn_ops.erf(tf.constant([np.nan])).numpy()[0])
    with pytest.raises(TypeError, match="floating-point"):
        nn_ops.erf(tf.constant([1, 2]))


def test_erf_and_gelu_gradients(device):
    check_op(nn_ops.erf, rand(40, low=-3, high=3), device=device)
    check_op(lambda a: nn_ops.gelu(a), rand(20, low=-4, high=4), device=device)
    check_op(lambda a: nn_ops.gelu(a, approximate=True), rand(20, low=-4, high=4), device=device)


_ACT_REFS = {
    "gelu": lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "hard_sigmoid": lambda x: np.clip(x + 3, 0, 6) / 6,
    "hard_silu": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "hard_swish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
    "log_sigmoid": lambda x: -np.log1p(np.exp(-x)),
    "celu": lambda x: np.maximum(x, 0) + np.expm1(np.minimum(x, 0)),
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "tanh_shrink": lambda x: x - np.tanh(x),
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
}


@pytest.mark.parametrize("name", sorted(_ACT_REFS))
def test_activation_numbers(name, device):
    x = np.linspace(-5, 5, 401)
    fn = keras.activations.get(name)
    np.testing.assert_allclose(fn(tf.constant(x)).numpy(), _ACT_REFS[name](x), rtol=1e-12, atol=1e-12)
    assert keras.activations.get(keras.activations.serialize(fn)) is fn
    layer = layers.Dense(3, activation=name)
    assert layers.Dense.from_config(layer.get_config()).activation is fn


def test_gelu_default_is_exact_and_approximate_differs(device):
    x = np.linspace(-3, 3, 61)
    exact = keras.activations.gelu(tf.constant(x)).numpy()
    approx = keras.activations.gelu(tf.constant(x), approximate=True).numpy()
    np.testing.assert_allclose(exact, _ACT_REFS["gelu"](x), rtol=1e-14, atol=1e-15)
    ref_approx = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(approx, ref_approx, rtol=1e-12, atol=1e-14)
    assert 1e-5 < np.max(np.abs(exact - approx)) < 1e-2
    assert keras.layers.Activation("gelu")(tf.constant(x)).shape == (61,)


def test_glu(device):
    x = rnd(2, 6).astype(np.float64)
    np.testing.assert_allclose(keras.activations.glu(tf.constant(x)).numpy(),
                               x[:, :3] / (1 + np.exp(-x[:, 3:])), rtol=1e-12)
    with pytest.raises(ValueError, match="divisible by 2"):
        keras.activations.glu(tf.constant(rnd(2, 5)))


# -- a DeepLab-style functional head with the new layers ----------------------------------------------------
def test_segmentation_head_functional_model_trains(device):
    inp = keras.Input((8, 8, 3))
    x = layers.Rescaling(1 / 255.)(inp)
    x = layers.Conv2D(4, 3, padding="same", dilation_rate=2)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU()(x)
    pooled = layers.GlobalAveragePooling2D(keepdims=True)(x)
    pooled = layers.UpSampling2D((8, 8), interpolation="bilinear")(pooled)
    x = layers.Concatenate()([x, pooled])
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.Conv2DTranspose(2, 3, strides=2, padding="same")(x)
    x = layers.ZeroPadding2D(1)(x)
    out = layers.Cropping2D(1)(x)
    model = keras.Model(inp, out)
    assert out.shape == (None, 16, 16, 2)
    xs = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3)).astype(np.float32)
    ys = np.random.default_rng(1).integers(0, 2, (4, 16, 16)).astype(np.int32)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(xs, ys, epochs=3, batch_size=4, verbose=0)
    assert model.predict(xs, verbose=0).shape == (4, 16, 16, 2)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
