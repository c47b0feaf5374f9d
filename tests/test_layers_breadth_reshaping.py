"""UpSampling1D/3D, ZeroPadding1D/3D, Cropping1D/3D (Keras 3.15's arguments and configs): run_layer_test on every
device with NumPy references (np.repeat, np.pad, slicing), argument errors with Keras's messages."""
import numpy as np
import pytest

import gpuflow as tf
from gradcheck import check_gradients
from layer_test_utils import run_layer_test, rnd

layers = tf.keras.layers


def test_upsampling1d(device):
    x = rnd(2, 4, 3)
    run_layer_test(layers.UpSampling1D, {"size": 3}, (2, 4, 3), (2, 12, 3), input_data=x,
                   expected_output=np.repeat(x, 3, axis=1))


def test_upsampling3d(device):
    x = rnd(2, 2, 3, 2, 3)
    expected = np.repeat(np.repeat(np.repeat(x, 1, axis=1), 2, axis=2), 3, axis=3)
    run_layer_test(layers.UpSampling3D, {"size": (1, 2, 3)}, (2, 2, 3, 2, 3), (2, 2, 6, 6, 3), input_data=x,
                   expected_output=expected)
    check_gradients(lambda t: layers.UpSampling3D(2, dtype="float64")(t), rnd(1, 2, 1, 2, 2).astype(np.float64))


@pytest.mark.parametrize("cls,kwargs,shape,pads", [
    (layers.ZeroPadding1D, {"padding": (1, 2)}, (2, 4, 3), [(1, 2)]),
    (layers.ZeroPadding1D, {"padding": 2}, (2, 4, 3), [(2, 2)]),
    (layers.ZeroPadding3D, {"padding": ((1, 0), (0, 2), (1, 1))}, (2, 2, 3, 2, 3), [(1, 0), (0, 2), (1, 1)]),
    (layers.ZeroPadding3D, {"padding": (1, 2, 0)}, (2, 2, 3, 2, 3), [(1, 1), (2, 2), (0, 0)]),
    (layers.ZeroPadding3D, {"padding": 1}, (2, 2, 3, 2, 3), [(1, 1)] * 3)])
def test_zero_padding(device, cls, kwargs, shape, pads):
    x = rnd(*shape)
    expected = np.pad(x, [(0, 0)] + pads + [(0, 0)])
    run_layer_test(cls, kwargs, shape, expected.shape, input_data=x, expected_output=expected)


@pytest.mark.parametrize("cls,kwargs,shape,crops", [
    (layers.Cropping1D, {"cropping": (1, 2)}, (2, 5, 3), [(1, 2)]),
    (layers.Cropping1D, {"cropping": 1}, (2, 5, 3), [(1, 1)]),
    (layers.Cropping3D, {"cropping": ((1, 0), (0, 2), (1, 1))}, (2, 3, 4, 4, 2), [(1, 0), (0, 2), (1, 1)]),
    (layers.Cropping3D, {"cropping": 1}, (2, 3, 4, 4, 2), [(1, 1)] * 3)])
def test_cropping(device, cls, kwargs, shape, crops):
    x = rnd(*shape)
    expected = x[(slice(None),) + tuple(slice(b, d - a) for d, (b, a) in zip(shape[1:-1], crops))]
    run_layer_test(cls, kwargs, shape, expected.shape, input_data=x, expected_output=expected)


def test_configs_and_errors():
    assert set(layers.Cropping1D().get_config()) == {"name", "trainable", "dtype", "cropping"}  # no data_format
    assert layers.ZeroPadding3D(2).get_config()["padding"] == ((2, 2),) * 3
    assert layers.ZeroPadding1D().padding == (1, 1) and layers.Cropping3D().cropping == ((1, 1),) * 3
    with pytest.raises(ValueError, match="`cropping` parameter of `Cropping1D` layer must be smaller"):
        layers.Cropping1D((3, 2))(rnd(2, 5, 3))
    with pytest.raises(ValueError, match="should be smaller than the corresponding spatial dimension"):
        layers.Cropping3D(2)(rnd(1, 4, 5, 6, 2))
    with pytest.raises(ValueError, match="`padding` should have 3 elements"):
        layers.ZeroPadding3D((1, 2))
    with pytest.raises(ValueError, match="`cropping` cannot be negative"):
        layers.Cropping3D(-1)
    with pytest.raises(ValueError, match="should be a positive integer"):
        layers.UpSampling1D(0)
    with pytest.raises(TypeError, match="Expected an integer value for `size`"):
        layers.UpSampling1D(2.0)
    with pytest.raises(ValueError, match="expected ndim=5"):
        layers.UpSampling3D()(rnd(2, 3, 4, 5))
