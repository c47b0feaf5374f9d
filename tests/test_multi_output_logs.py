"""Per-output losses and metrics in the logs of a model with several outputs, named as Keras 3 names them
("<output>_loss" unweighted, "<output>_<metric>"), checked against the formulas on the model's predictions."""
import numpy as np
import pytest

import gpuflow as tf

keras = tf.keras


def _model():
    inp = keras.Input((4,))
    cls = keras.layers.Dense(3, activation="softmax", name="cls")(inp)
    reg = keras.layers.Dense(1, name="reg")(inp)
    return keras.Model(inp, [cls, reg])


def _data():
    rng = np.random.default_rng(0)
    return rng.random((8, 4)).astype("float32"), rng.integers(0, 3, 8), rng.random((8, 1)).astype("float32")


@pytest.mark.parametrize("style", ["list", "dict"])
def test_per_output_losses_and_metrics(style):
    model = _model()
    x, y1, y2 = _data()
    if style == "list":
        model.compile("sgd", loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                      metrics=[["accuracy"], ["mae"]])
    else:
        model.compile("sgd", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                      loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": "accuracy", "reg": ["mae"]})
    p1, p2 = model.predict(x, verbose=0)
    logs = model.evaluate(x, [y1, y2], verbose=0, return_dict=True)
    assert set(logs) == {"loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"}
    ce = -np.mean(np.log(p1[np.arange(8), y1]))
    mse = np.mean((p2 - y2) ** 2)
    np.testing.assert_allclose(logs["cls_loss"], ce, rtol=1e-5)
    np.testing.assert_allclose(logs["reg_loss"], mse, rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], ce + 0.5 * mse, rtol=1e-5)
    np.testing.assert_allclose(logs["cls_accuracy"], np.mean(p1.argmax(-1) == y1), rtol=1e-6)
    np.testing.assert_allclose(logs["reg_mae"], np.mean(np.abs(p2 - y2)), rtol=1e-5)
    history = model.fit(x, [y1, y2], epochs=1, verbose=0, validation_data=(x, [y1, y2]))
    assert set(history.history) == set(logs) | {f"val_{k}" for k in logs}
    values = model.evaluate(x, [y1, y2], verbose=0)
    assert len(values) == 5 and values[0] == pytest.approx(model.evaluate(x, [y1, y2], verbose=0)[0])


def test_one_loss_for_every_output_and_bad_metrics():
    model = _model()
    x, y1, y2 = _data()
    model.compile("sgd", loss="mse")
    logs = model.evaluate(x, [np.eye(3)[y1], y2], verbose=0, return_dict=True)
    assert set(logs) == {"loss", "cls_loss", "reg_loss"}
    np.testing.assert_allclose(logs["loss"], logs["cls_loss"] + logs["reg_loss"], rtol=1e-6)
    with pytest.raises(ValueError, match="Invalid `metrics`.*cls.*reg"):
        model.compile("sgd", loss="mse", metrics=["mae"])
