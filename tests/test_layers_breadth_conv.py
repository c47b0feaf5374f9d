"""DepthwiseConv1D, SeparableConv1D and the 3-D family (Conv3D, Conv3DTranspose, Max/AveragePooling3D,
Global*Pooling3D), Keras 3.15's arguments, weights and configs: run_layer_test on every device
against direct NumPy loops written here, finite-difference gradients in float64."""
import numpy as np
import pytest

import gpuflow as tf
from gradcheck import check_gradients
from layer_test_utils import run_layer_test, rnd, same_pads

layers = tf.keras.layers


def _depthwise1d_reference(x, k, stride, dilation, padding):
    """(batch, steps, C) * (kernel, C, M) -> (batch, out, C * M), output channel c * M + m."""
    size = x.shape[1]
    if padding == "same":
        _, left, right = same_pads(size, k.shape[0], stride, dilation)
    else:
        left = right = 0
    x = np.pad(x.astype(np.float64), ((0, 0), (left, right), (0, 0)))
    span = dilation * (k.shape[0] - 1) + 1
    steps = (x.shape[1] - span) // stride + 1
    out = np.zeros((x.shape[0], steps, k.shape[1], k.shape[2]))
    for t in range(steps):
        window = x[:, t * stride:t * stride + span:dilation, :]  # (batch, kernel, C)
        out[:, t] = np.einsum("bkc,kcm->bcm", window, k)
    return out.reshape(x.shape[0], steps, -1)


@pytest.mark.parametrize("kwargs,out_steps", [
    ({"kernel_size": 3, "depth_multiplier": 2}, 5), ({"kernel_size": 3, "strides": 2, "padding": "same"}, 4),
    ({"kernel_size": 2, "dilation_rate": 2}, 5)])
def test_depthwise_conv1d(device, kwargs, out_steps):
    x = rnd(2, 7, 3)
    m = kwargs.get("depth_multiplier", 1)
    layer = run_layer_test(layers.DepthwiseConv1D, kwargs, (2, 7, 3), (2, out_steps, 3 * m), input_data=x,
                           expected_num_trainable_weights=2,
                           expected_weight_shapes=[(kwargs["kernel_size"], 3, m), (3 * m,)])
    k, b = layer.get_weights()
    expected = _depthwise1d_reference(x, k, kwargs.get("strides", 1), kwargs.get("dilation_rate", 1),
                                      kwargs.get("padding", "valid")) + b
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert [w.path.split("/")[1] for w in layer.weights] == ["kernel", "bias"]


@pytest.mark.parametrize("kwargs,out_steps", [
    ({"filters": 4, "kernel_size": 3, "depth_multiplier": 2}, 5),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"}, 4)])
def test_separable_conv1d(device, kwargs, out_steps):
    x = rnd(2, 7, 3)
    m = kwargs.get("depth_multiplier", 1)
    f = kwargs["filters"]
    layer = run_layer_test(layers.SeparableConv1D, kwargs, (2, 7, 3), (2, out_steps, f), input_data=x,
                           expected_num_trainable_weights=3, expected_weight_shapes=[(3, 3, m), (1, 3 * m, f), (f,)])
    dk, pk, b = layer.get_weights()
    depthwise = _depthwise1d_reference(x, dk, kwargs.get("strides", 1), 1, kwargs.get("padding", "valid"))
    expected = depthwise @ pk[0] + b
    if kwargs.get("activation") == "relu":
        expected = np.maximum(expected, 0)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert [w.path.split("/")[1] for w in layer.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert layers.SeparableConvolution1D is layers.SeparableConv1D


def test_depthwise_and_separable_conv1d_gradients():
    x = rnd(1, 6, 2, seed=3).astype(np.float64)
    dk, pk, b = rnd(3, 2, 2, seed=4), rnd(1, 4, 3, seed=5), rnd(3, seed=6)

    def sep(x, dk, pk, b):
        layer = layers.SeparableConv1D(3, 3, strides=2, padding="same", depth_multiplier=2, dtype="float64")
        layer.build(x.shape)
        for attr, v in (("depthwise_kernel", dk), ("pointwise_kernel", pk), ("bias", b)):
            object.__setattr__(layer, attr, v)
        return layer(x)
    check_gradients(sep, x, dk.astype(np.float64), pk.astype(np.float64), b.astype(np.float64))

    def dw(x, k):
        layer = layers.DepthwiseConv1D(3, dilation_rate=2, depth_multiplier=2, use_bias=False, dtype="float64")
        layer.build(x.shape)
        object.__setattr__(layer, "kernel", k)
        return layer(x)
    check_gradients(dw, x, dk.astype(np.float64))


def test_conv1d_family_rank_error():
    with pytest.raises(ValueError, match="expected ndim=3"):
        layers.DepthwiseConv1D(3)(rnd(2, 5, 5, 3))


# -- the 3-D family -------------------------------------------------------------------------------------------
def _pads(size, k, s, d, padding):
    return same_pads(size, k, s, d)[1:] if padding == "same" else (0, 0)


def _conv3d_reference(x, k, b, strides, dilation, padding):
    """Direct 3-D cross-correlation (TensorFlow's padding rule), a loop over output positions."""
    pads = [_pads(x.shape[1 + i], k.shape[i], strides[i], dilation[i], padding) for i in range(3)]
    x = np.pad(x.astype(np.float64), [(0, 0)] + pads + [(0, 0)])
    spans = [dilation[i] * (k.shape[i] - 1) + 1 for i in range(3)]
    outs = [(x.shape[1 + i] - spans[i]) // strides[i] + 1 for i in range(3)]
    y = np.zeros((x.shape[0], *outs, k.shape[-1]))
    for o in np.ndindex(*outs):
        sl = tuple(slice(o[i] * strides[i], o[i] * strides[i] + spans[i], dilation[i]) for i in range(3))
        y[(slice(None),) + o] = np.einsum("bdhwc,dhwcf->bf", x[(slice(None),) + sl], k) + b
    return y


@pytest.mark.parametrize("kwargs", [
    {"filters": 4, "kernel_size": 3}, {"filters": 4, "kernel_size": (2, 3, 2), "strides": (2, 1, 2), "padding": "same"},
    {"filters": 2, "kernel_size": (2, 2, 3), "dilation_rate": (2, 1, 2), "padding": "same", "activation": "relu"}])
def test_conv3d(device, kwargs):
    x = rnd(2, 4, 5, 6, 3)
    k = kwargs["kernel_size"]
    k = (k,) * 3 if isinstance(k, int) else k
    strides, dilation = kwargs.get("strides", (1, 1, 1)), kwargs.get("dilation_rate", (1, 1, 1))
    expected_shape = _conv3d_reference(x, np.zeros(k + (3, kwargs["filters"])), 0, strides, dilation,
                                       kwargs.get("padding", "valid")).shape
    layer = run_layer_test(layers.Conv3D, kwargs, x.shape, expected_shape, input_data=x,
                           expected_num_trainable_weights=2, expected_weight_shapes=[k + (3, kwargs["filters"]),
                                                                                     (kwargs["filters"],)])
    kernel, b = layer.get_weights()
    expected = _conv3d_reference(x, kernel, b, strides, dilation, kwargs.get("padding", "valid"))
    if kwargs.get("activation") == "relu":
        expected = np.maximum(expected, 0)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert layers.Convolution3D is layers.Conv3D


@pytest.mark.parametrize("kwargs,in_shape,out_shape", [
    ({"filters": 2, "kernel_size": 3}, (1, 2, 3, 2, 3), (1, 4, 5, 4, 2)),
    ({"filters": 2, "kernel_size": (2, 3, 2), "strides": (2, 1, 2), "padding": "same"}, (1, 2, 3, 2, 3),
     (1, 4, 3, 4, 2)),
    ({"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same", "output_padding": 1}, (1, 2, 2, 3, 3),
     (1, 4, 4, 6, 2)),
    ({"filters": 2, "kernel_size": (3, 2, 2), "strides": (3, 2, 1), "padding": "valid"}, (1, 2, 3, 2, 3),
     (1, 6, 6, 3, 2)),
    ({"filters": 2, "kernel_size": (2, 3, 2), "dilation_rate": (2, 1, 2), "padding": "same"}, (1, 3, 3, 3, 3),
     (1, 3, 3, 3, 2))])
def test_conv3d_transpose_is_the_adjoint_of_conv3d(device, kwargs, in_shape, out_shape):
    """<Conv3D_K(z), x> = <z, Conv3DTranspose_K(x)> for every z: TensorFlow's definition of conv3d_transpose."""
    x = rnd(*in_shape, seed=1)
    layer = run_layer_test(layers.Conv3DTranspose, dict(kwargs, use_bias=False), in_shape, out_shape, input_data=x,
                           expected_num_trainable_weights=1)
    kernel = layer.get_weights()[0]
    conv = layers.Conv3D(in_shape[-1], kwargs["kernel_size"], strides=kwargs.get("strides", 1),
                         padding=kwargs.get("padding", "valid"), dilation_rate=kwargs.get("dilation_rate", 1),
                         use_bias=False)
    conv.build(out_shape)
    conv.set_weights([kernel])
    y = layer(x).numpy().astype(np.float64)
    for seed in (2, 3):
        z = rnd(*out_shape, seed=seed)
        cz = conv(z).numpy().astype(np.float64)
        assert cz.shape == x.shape
        np.testing.assert_allclose((cz * x).sum(), (z * y).sum(), rtol=1e-4)


def test_conv3d_and_transpose_gradients():
    x = rnd(1, 3, 3, 2, 2, seed=4).astype(np.float64)
    k = rnd(2, 2, 2, 2, 3, seed=5).astype(np.float64)

    def run(cls, **kw):
        def f(x, k):
            layer = cls(3, 2, use_bias=False, dtype="float64", **kw)
            layer.build(x.shape)
            object.__setattr__(layer, "kernel", k)
            return layer(x)
        return f
    check_gradients(run(layers.Conv3D, strides=(2, 1, 1), padding="same"), x, k)
    check_gradients(run(layers.Conv3DTranspose, strides=(2, 1, 2), padding="same"), x,
                    np.swapaxes(k, 3, 4).copy())


def _pool3d_reference(x, pool, strides, padding, reduce):
    pads = [_pads(x.shape[1 + i], pool[i], strides[i], 1, padding) for i in range(3)]
    xp = np.pad(x.astype(np.float64), [(0, 0)] + pads + [(0, 0)], constant_values=np.nan)
    outs = [(xp.shape[1 + i] - pool[i]) // strides[i] + 1 for i in range(3)]
    y = np.zeros((x.shape[0], *outs, x.shape[-1]))
    for o in np.ndindex(*outs):
        sl = tuple(slice(o[i] * strides[i], o[i] * strides[i] + pool[i]) for i in range(3))
        y[(slice(None),) + o] = reduce(xp[(slice(None),) + sl], axis=(1, 2, 3))  # padding (NaN) left out
    return y


@pytest.mark.parametrize("cls,kwargs", [
    (layers.MaxPooling3D, {}), (layers.MaxPooling3D, {"pool_size": (2, 3, 2), "strides": (1, 2, 3), "padding": "same"}),
    (layers.AveragePooling3D, {"pool_size": 2}),
    (layers.AveragePooling3D, {"pool_size": (3, 2, 3), "strides": 2, "padding": "same"})])
def test_pooling3d(device, cls, kwargs):
    x = rnd(2, 5, 6, 7, 3)
    pool = kwargs.get("pool_size", 2)
    pool = (pool,) * 3 if isinstance(pool, int) else pool
    strides = kwargs.get("strides", pool)
    strides = (strides,) * 3 if isinstance(strides, int) else strides
    expected = _pool3d_reference(x, pool, strides, kwargs.get("padding", "valid"),
                                 np.nanmax if cls is layers.MaxPooling3D else np.nanmean)
    run_layer_test(cls, kwargs, x.shape, expected.shape, input_data=x, expected_output=expected, rtol=1e-5,
                   atol=1e-5)


@pytest.mark.parametrize("cls,kwargs", [(layers.MaxPooling3D, {"pool_size": (2, 3, 2), "padding": "same"}),
                                        (layers.AveragePooling3D, {"pool_size": (3, 2, 3), "strides": 2,
                                                                   "padding": "same"})])
def test_pooling3d_gradients(cls, kwargs):
    check_gradients(lambda t: cls(dtype="float64", **kwargs)(t), rnd(1, 3, 4, 3, 1, seed=7).astype(np.float64))


@pytest.mark.parametrize("cls,reduce", [(layers.GlobalAveragePooling3D, np.mean), (layers.GlobalMaxPooling3D, np.max)])
def test_global_pooling3d(device, cls, reduce):
    x = rnd(2, 3, 4, 2, 5)
    run_layer_test(cls, {}, x.shape, (2, 5), input_data=x, expected_output=reduce(x, axis=(1, 2, 3)), atol=1e-6)
    run_layer_test(cls, {"keepdims": True}, x.shape, (2, 1, 1, 1, 5), input_data=x,
                   expected_output=reduce(x, axis=(1, 2, 3), keepdims=True), atol=1e-6)
