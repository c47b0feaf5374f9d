"""keras.constraints and Dense/Conv2D's kernel_constraint/bias_constraint, against values Keras 3.15 computed."""
import numpy as np
import pytest

import gpuflow as tf

keras = tf.keras
C = keras.constraints
W = np.array([[3.0, -0.1], [4.0, 0.2]], np.float32)


@pytest.mark.parametrize("constraint, expected, config", [  # printed by Keras 3.15.1 for W
    (C.MaxNorm(2), [[1.2, -0.1], [1.6, 0.2]], {"max_value": 2, "axis": 0}),
    (C.MinMaxNorm(0.5, 1.0, 0.5), [[1.8, -0.16180332], [2.4, 0.32360664]],
     {"min_value": 0.5, "max_value": 1.0, "rate": 0.5, "axis": 0}),
    (C.NonNeg(), [[3.0, 0.0], [4.0, 0.2]], {}),
    (C.UnitNorm(axis=1), [[0.9994449, -0.03331483], [0.99875236, 0.04993762]], {"axis": 1}),
    (C.get("max_norm"), [[1.2, -0.1], [1.6, 0.2]], {"max_value": 2, "axis": 0}),
])
def test_projections_match_keras(constraint, expected, config):
    np.testing.assert_allclose(constraint(W).numpy(), expected, rtol=1e-6, atol=1e-7)
    assert constraint.get_config() == config
    again = C.get(C.serialize(constraint))
    assert type(again) is type(constraint) and again.get_config() == config


def test_unknown_identifier():
    with pytest.raises(ValueError, match="Could not interpret constraint identifier: foo"):
        keras.layers.Dense(2, kernel_constraint="foo")


def test_training_applies_the_constraint_after_each_update():
    tf.keras.utils.set_random_seed(0)
    dense = keras.layers.Dense(2, kernel_constraint="non_neg", bias_constraint=C.MaxNorm(0.5))
    model = keras.Sequential([keras.Input((3,)), dense])
    assert dense.get_config()["kernel_constraint"] == {"module": "keras.constraints", "class_name": "NonNeg",
                                                       "config": {}, "registered_name": None}
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 3), np.float32), -np.ones((4, 2), np.float32), epochs=3, verbose=0)
    assert dense.kernel.numpy().min() >= 0.0  # pushed negative by the targets, clipped at 0 (Keras: min 0.0)
    assert np.linalg.norm(dense.bias.numpy()) <= 0.5 + 1e-6


def test_conv2d_constraint_round_trips_through_a_saved_model(tmp_path):
    model = keras.Sequential([keras.Input((5, 5, 1)), keras.layers.Conv2D(2, 3, kernel_constraint=C.UnitNorm(axis=[0, 1, 2]))])
    path = str(tmp_path / "c.keras")
    model.save(path)
    layer = keras.models.load_model(path).layers[0]
    assert type(layer.kernel_constraint) is C.UnitNorm and layer.kernel_constraint.get_config() == {"axis": [0, 1, 2]}
