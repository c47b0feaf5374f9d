"""EinsumDense (Keras 3.15's kernel/bias shapes, config and fans) and the einsum it computes with gpuflow ops:
run_layer_test on every device against np.einsum, finite-difference gradients in float64."""
import numpy as np
import pytest

import gpuflow as tf
from gpuflow.keras.layers.einsum_dense import einsum2
from gradcheck import check_gradients
from layer_test_utils import run_layer_test, rnd

keras = tf.keras
layers = keras.layers


@pytest.mark.parametrize("equation,shapes", [
    ("ab,bc->ac", ((2, 3), (3, 4))), ("abc,cd->abd", ((2, 5, 3), (3, 4))), ("abc,cde->abde", ((2, 5, 3), (3, 2, 4))),
    ("abc,cd->ad", ((2, 5, 3), (3, 4))), ("abcd,cde->abe", ((2, 3, 4, 6), (4, 6, 5))),
    ("...b,bc->...c", ((2, 5, 6, 3), (3, 4))), ("bij,bjk->bki", ((2, 3, 4), (2, 4, 5))),
    ("ab,cd->dbca", ((2, 3), (4, 5)))])
def test_einsum2_matches_numpy_and_differentiates(equation, shapes):
    x, y = rnd(*shapes[0], seed=1).astype(np.float64), rnd(*shapes[1], seed=2).astype(np.float64)
    np.testing.assert_allclose(einsum2(equation, tf.constant(x), tf.constant(y)).numpy(), np.einsum(equation, x, y),
                               rtol=1e-10, atol=1e-12)
    check_gradients(lambda a, b: einsum2(equation, a, b), x, y)


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
