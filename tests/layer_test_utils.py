"""``run_layer_test``: one helper that checks any Keras layer, in the spirit of
Keras 3's ``testing.TestCase.run_layer_test``.

For a layer class and its constructor arguments it checks, in order:

1. the serialization round trips: every constructor argument shows up in
   ``get_config()``, ``from_config(get_config())`` gives the same config, before
   and after building, and so does ``deserialize_keras_object`` of the JSON of
   ``serialize_keras_object(layer)`` (Keras's ``run_class_serialization_test``);
2. the symbolic call: on ``keras.Input`` (fixed and unknown batch size) the
   layer returns a KerasTensor of the expected shape, and ``compute_output_shape``
   agrees;
3. the eager call: output shape and dtype on random data, the same output with
   ``training=True`` and ``training=False`` for deterministic layers;
4. the weights: number of trainable and non-trainable weights, their shapes,
   ``count_params``, ``trainable=False`` moving every weight to
   ``non_trainable_weights``;
5. ``get_weights`` / ``set_weights``: a round trip, and a copy of the layer built
   from its config with the same weights gives the same output;
6. gradients: every trainable weight receives a gradient of its own shape;
7. the layer's forward values and the tape gradients with respect to its input and every trainable
   weight, on the device the test runs on (the ``device`` fixture of tests/conftest.py runs the test
   body inside ``with gpuflow.device(kind)``, so the layer's weights live there), against a copy
   with the same weights on the reference backend (``check_layer_on_device``, with the float32
   tolerances of ``gradcheck.check_on_device``).
"""
import json

import numpy as np

import gpuflow as tf
from gpuflow.device import Device, current_device
from gradcheck import check_on_device

keras = tf.keras


def _random_input(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 5, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _strip_name(config):
    return {k: v for k, v in config.items() if k != "name"}


def run_layer_test(layer_cls, init_kwargs, input_shape, expected_output_shape,
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   expected_weight_shapes=None, input_dtype="float32", expected_output_dtype="float32",
                   input_data=None, expected_output=None, deterministic=True, run_gradient_check=True,
                   rtol=1e-5, atol=1e-6, seed=0, custom_objects=None):
    """Builds ``layer_cls(**init_kwargs)`` and checks it as described in the module docstring.

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        input_shape: full input shape, batch axis included.
        expected_output_shape: full output shape for that input.
        expected_num_trainable_weights, expected_num_non_trainable_weights: weight counts.
        expected_weight_shapes: optional list of shapes, in ``layer.weights`` order.
        input_data: optional input array (random normal data of ``input_shape`` otherwise).
        expected_output: optional array the eager output must match.
        deterministic: whether the output must not depend on ``training`` (False for Dropout).
        run_gradient_check: whether to check that every trainable weight gets a gradient.
        custom_objects: ``{name: class}`` for deserializing a layer class Keras does not know.

    Returns:
        The built layer, for further checks.
    """
    input_shape = tuple(input_shape)
    expected_output_shape = tuple(expected_output_shape)
    x = input_data if input_data is not None else _random_input(input_shape, input_dtype, seed)

    # 1. config round trip, before building
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for k in init_kwargs:
        assert k in config, f"{layer_cls.__name__}.get_config() lacks the constructor argument {k!r}: {config}"
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config, (clone.get_config(), config)
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    revived = keras.saving.deserialize_keras_object(serialized, custom_objects=custom_objects)
    assert type(revived) is layer_cls, type(revived)
    assert json.dumps(revived.get_config()) == json.dumps(config), (revived.get_config(), config)
    assert not layer.built or layer_cls.__name__ == "InputLayer"

    # 2. symbolic call, fixed and unknown batch size
    kt = layer_cls(**init_kwargs)(keras.Input(shape=input_shape[1:], batch_size=input_shape[0], dtype=input_dtype))
    assert tuple(kt.shape) == expected_output_shape, (kt.shape, expected_output_shape)
    sym_layer = layer_cls(**init_kwargs)
    kt = sym_layer(keras.Input(shape=input_shape[1:], dtype=input_dtype))
    assert tuple(kt.shape) == (None,) + expected_output_shape[1:], (kt.shape, expected_output_shape)
    assert sym_layer.built
    assert tuple(sym_layer.compute_output_shape(input_shape)) == expected_output_shape

    # 3. eager call
    y = layer(x)
    assert layer.built
    assert isinstance(y, tf.Tensor), type(y)
    assert tuple(y.shape) == expected_output_shape, (tuple(y.shape), expected_output_shape)
    assert y.dtype.name == expected_output_dtype, (y.dtype.name, expected_output_dtype)
    if expected_output is not None:
        np.testing.assert_allclose(y.numpy(), expected_output, rtol=rtol, atol=atol)
    if deterministic:
        np.testing.assert_array_equal(layer(x, training=True).numpy(), y.numpy())
        np.testing.assert_array_equal(layer(x, training=False).numpy(), y.numpy())

    # 4. weights
    assert len(layer.trainable_weights) == expected_num_trainable_weights, \
        [w.path for w in layer.trainable_weights]
    assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights, \
        [w.path for w in layer.non_trainable_weights]
    n_weights = expected_num_trainable_weights + expected_num_non_trainable_weights
    assert len(layer.weights) == n_weights
    if expected_weight_shapes is not None:
        assert [tuple(w.shape) for w in layer.weights] == [tuple(s) for s in expected_weight_shapes]
    for w in layer.weights:
        assert w.path.startswith(layer.name + "/"), w.path
    assert layer.count_params() == sum(int(np.prod(w.shape)) for w in layer.weights)

    # built config still round-trips
    config = layer.get_config()
    assert layer_cls.from_config(config).get_config() == config

    # 5. get_weights / set_weights, and a clone from config computes the same function
    weights = layer.get_weights()
    assert len(weights) == n_weights
    assert all(isinstance(w, np.ndarray) for w in weights)
    rng = np.random.default_rng(seed + 1)
    # trainable weights of both signs; non-trainable ones (statistics such as a moving variance) positive
    new = [(rng.standard_normal(w.shape) if v.trainable else rng.uniform(0.5, 1.5, w.shape)).astype(w.dtype)
           for w, v in zip(weights, layer.weights)]
    layer.set_weights(new)
    for a, b in zip(layer.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    if n_weights:
        bad = [np.zeros(tuple(d + 1 for d in new[0].shape) or (1,), new[0].dtype)] + new[1:]
        try:
            layer.set_weights(bad)
        except ValueError as e:
            assert layer.name in str(e) and str(tuple(new[0].shape)) in str(e), str(e)
        else:
            raise AssertionError("set_weights accepted a weight of the wrong shape")
    clone = layer_cls.from_config(_strip_name(layer.get_config()))
    y_clone = clone(x)
    clone.set_weights(layer.get_weights())
    if deterministic:
        np.testing.assert_allclose(clone(x).numpy(), layer(x).numpy(), rtol=1e-6, atol=1e-6)
    del y_clone

    # trainable=False moves every weight to non_trainable_weights, and back
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == n_weights
    layer.trainable = True
    assert len(layer.trainable_weights) == expected_num_trainable_weights

    # 6. gradients reach every trainable weight
    if run_gradient_check and layer.trainable_weights:
        xt = tf.constant(x.astype("float32")) if np.dtype(input_dtype).kind == "f" else tf.constant(x)
        with tf.GradientTape() as tape:
            out = layer(xt, training=True)
            loss = tf.reduce_sum(out * out)
        grads = tape.gradient(loss, layer.trainable_weights)
        for g, w in zip(grads, layer.trainable_weights):
            assert g is not None, f"no gradient for {w.path}"
            assert tuple(g.shape) == tuple(w.shape)
            assert np.all(np.isfinite(g.numpy()))

    # 7. forward values and gradients on the device against the reference backend
    check_layer_on_device(layer, x, current_device().kind, training=deterministic)
    return layer


def check_layer_on_device(layer, x, device, training=False):
    """Asserts that ``layer`` (built on ``device``) and a copy of it with the same weights on the reference
    backend give the same outputs and tape gradients, with respect to ``x`` (when it is a float array) and
    every trainable weight, to float32 rounding (:func:`gradcheck.check_on_device`).

    Args:
        layer: a built layer whose weights live on ``device``.
        x: the input, a NumPy array.
        device: the device kind ("cpu", "emulator", "gpu").
        training: the ``training`` argument of both calls (False for layers with random or
            batch-dependent training behaviour, whose two copies could not agree).
    """
    for w in layer.weights:
        assert w.device == Device(device), f"{w.path} is on '{w.device}', expected '{device}'"
    weights, config = layer.get_weights(), _strip_name(layer.get_config())
    copies = {Device(device): layer}

    def call(inputs):
        here = current_device()
        if here not in copies:
            copies[here] = type(layer).from_config(config)
            copies[here](inputs)  # builds it here
            copies[here].set_weights(weights)
        return copies[here](inputs, training=training)

    outs, _ = check_on_device(call, x, device=device, variables=lambda: copies[current_device()].trainable_weights)
    assert all(np.all(np.isfinite(o)) for o in outs), "the layer's output is not finite: nothing was compared"


def rnd(*shape, seed=0, dtype="float32"):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def same_pads(size, k, s, d=1):
    """TensorFlow's SAME padding of one axis: (out, before, after)."""
    eff = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + eff - size, 0)
    return out, total // 2, total - total // 2
