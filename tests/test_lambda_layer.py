"""keras.layers.Lambda: calls, shapes, masks, Keras's config format, and loading refused (never unpickled or
unmarshalled)."""
import base64
import marshal

import numpy as np
import pytest

import gpuflow as tf
from gpuflow.keras.layers.mask_utils import get_keras_mask
from gpuflow.keras.saving.serialization import UnsafeDeserializationError

layers = tf.keras.layers


def test_lambda_calls_shapes_and_arguments():
    layer = layers.Lambda(lambda x, k: x[:, :k] * 2.0, arguments={"k": 2})
    model = tf.keras.Sequential([tf.keras.Input((4,)), layer])
    assert model.output_shape == (None, 2)
    np.testing.assert_array_equal(model.predict(np.ones((3, 4), "float32"), verbose=0), 2.0)
    fixed = layers.Lambda(lambda x: x, output_shape=(5,))
    assert fixed.compute_output_shape((None, 5)) == (None, 5)
    with pytest.raises(TypeError, match="function"):
        layers.Lambda(3)


def test_lambda_mask_and_training():
    seen = {}

    def fn(x, mask=None, training=None):
        seen.update(mask=mask, training=training)
        return x

    x = layers.Embedding(4, 2, mask_zero=True)(np.array([[1, 0]]))
    out = layers.Lambda(fn, mask=lambda inputs, mask: mask)(x, training=True)
    assert seen["training"] is True and seen["mask"] is not None
    np.testing.assert_array_equal(get_keras_mask(out).numpy(), [[True, False]])
    assert get_keras_mask(layers.Lambda(lambda v: v * 1.0)(x)) is None  # no `mask`: the mask stops, as Keras


def test_lambda_config_is_keras_format_and_loading_is_refused(tmp_path):
    layer = layers.Lambda(lambda x: x + 1.0, name="plus_one")
    fn = layer.get_config()["function"]
    assert fn["class_name"] == "__lambda__"
    code = marshal.loads(base64.b64decode(fn["config"]["code"]))  # Keras's func_dump: base64 of marshal
    assert code.co_name == "<lambda>"
    inp = tf.keras.Input((2,))
    tf.keras.Model(inp, layer(inp)).save(tmp_path / "m.keras")
    for safe_mode in (True, False):
        with pytest.raises(UnsafeDeserializationError, match="Lambda layer.*plus_one"):
            tf.keras.models.load_model(tmp_path / "m.keras", safe_mode=safe_mode)
