"""EinsumDense (Keras 3.15's kernel/bias shapes, config and fans): run_layer_test on every device against np.einsum,
finite-difference gradients in float64."""
import numpy as np
import pytest

import gpuflow as tf
from gradcheck import check_gradients
from layer_test_utils import run_layer_test, rnd

keras = tf.keras
layers = keras.layers


@pytest.mark.parametrize("kwargs,input_shape,output_shape,weight_shapes,subscripts", [
    ({"equation": "ab,bc->ac", "output_shape": 4, "bias_axes": "c"}, (2, 3), (2, 4), [(3, 4), (4,)], "ab,bc->ac"),
    ({"equation": "abc,cde->abde", "output_shape": (None, 2, 4), "bias_axes": "de"}, (2, 5, 3), (2, 5, 2, 4),
     [(3, 2, 4), (2, 4)], "abc,cde->abde"),
    ({"equation": "...b,bc->...c", "output_shape": 4, "activation": "relu"}, (2, 5, 6, 3), (2, 5, 6, 4),
     [(3, 4)], "xyzb,bc->xyzc"),
    ({"equation": "ab...,bc->ac...", "output_shape": (4, 6), "bias_axes": "c"}, (2, 3, 6), (2, 4, 6),
     [(3, 4), (4, 1)], "abz,bc->acz")])
def test_einsum_dense(device, kwargs, input_shape, output_shape, weight_shapes, subscripts):
    x = rnd(*input_shape)
    layer = run_layer_test(layers.EinsumDense, kwargs, input_shape, output_shape, input_data=x,
                           expected_num_trainable_weights=len(weight_shapes), expected_weight_shapes=weight_shapes,
                           rtol=1e-5, atol=1e-5)
    weights = layer.get_weights()
    expected = np.einsum(subscripts, x.astype(np.float64), weights[0])
    if len(weights) > 1:
        expected = expected + weights[1]
    if kwargs.get("activation") == "relu":
        expected = np.maximum(expected, 0)
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert [w.path.split("/")[-1] for w in layer.weights] == ["kernel", "bias"][:len(weights)]


def test_einsum_dense_config_fans_and_errors():
    layer = layers.EinsumDense("abc,cde->abde", output_shape=(None, 50, 40))
    layer.build((None, 7, 30))
    # glorot_uniform with fan_in 30 and fan_out 50 * 40 (the kernel's input and output axes, as Keras)
    limit = np.sqrt(6.0 / (30 + 2000))
    k = layer.kernel.numpy()
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.9 * limit
    config = layer.get_config()
    assert config["output_shape"] == (None, 50, 40) and config["quantization_config"] is None
    assert config["kernel_initializer"]["config"] == {"seed": None, "input_axes": None, "output_axes": None}
    assert keras.initializers.VarianceScaling(input_axes=[0], output_axes=[1, 2]).get_config()["output_axes"] == [1, 2]
    with pytest.raises(ValueError, match="Invalid einsum equation"):
        layers.EinsumDense("ab->b", output_shape=2).build((None, 3))
    with pytest.raises(ValueError, match="Bias dimension 'z' was requested"):
        layers.EinsumDense("ab,bc->ac", output_shape=2, bias_axes="z").build((None, 3))
    with pytest.raises(ValueError, match="Weight dimension 'q' did not have a match"):
        layers.EinsumDense("ab,bqc->ac", output_shape=2).build((None, 3))


def test_einsum_dense_gradients():
    x = rnd(2, 3, 4, seed=3).astype(np.float64)
    k, b = rnd(4, 2, 5, seed=4).astype(np.float64), rnd(2, 5, seed=5).astype(np.float64)

    def f(x, k, b):
        layer = layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 5), bias_axes="de", dtype="float64")
        layer.build(x.shape)
        object.__setattr__(layer, "kernel", k)
        object.__setattr__(layer, "bias", b)
        return layer(x)
    check_gradients(f, x, k, b)
