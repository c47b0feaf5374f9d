"""Functional models with dict inputs and outputs (Keras 3.15), and ``compile(weighted_metrics=...)``.

Expected values are NumPy formulas written here; names, orders and errors are Keras 3.15.1's (checked by hand with the
same scripts). ``fixtures/dict_io.keras`` / ``dict_io.npz`` were written by Keras 3.15.1 with
``fixtures/make_dict_io.py``: a dict-input, dict-output model, its predictions and ``evaluate`` logs, and
``dict_io_nested.keras``, part of it nested in another dict-input model.
"""
import json
import os
import zipfile

import numpy as np
import pytest

import gpuflow as tf
from gpuflow.keras import models as _models

keras = tf.keras
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
RNG = np.random.default_rng(0)
X = {"feat_a": RNG.standard_normal((8, 2)).astype("float32"), "feat_b": RNG.standard_normal((8, 3)).astype("float32")}
Y = {"zz": RNG.standard_normal((8, 1)).astype("float32"), "aa": np.array([0, 1, 2, 1, 0, 2, 2, 1])}


# Every layer and model is named: an unnamed one would take a name another test file expects ("concatenate").
def _model(optimizer="sgd", **compile_kwargs):
    """Inputs given in unsorted key order, outputs {"zz": Dense(1) 'reg', "aa": Dense(3, softmax) 'cls'}."""
    b, a = keras.Input((3,), name="feat_b"), keras.Input((2,), name="feat_a")
    h = keras.layers.Concatenate(name="join")([b, a])
    outputs = {"zz": keras.layers.Dense(1, name="reg")(h),
               "aa": keras.layers.Dense(3, activation="softmax", name="cls")(h)}
    model = keras.Model(inputs={"feat_b": b, "feat_a": a}, outputs=outputs, name="dict_model")
    if compile_kwargs:
        model.compile(optimizer, **compile_kwargs)
    return model


def _reference(model, x):
    h = np.concatenate([x["feat_b"], x["feat_a"]], axis=1)
    (wr, br), (wc, bc) = model.get_layer("reg").get_weights(), model.get_layer("cls").get_weights()
    z = h @ wc + bc
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return {"zz": h @ wr + br, "aa": e / e.sum(axis=1, keepdims=True)}


def test_structure_call_and_predict():
    model = _model()
    assert [t.name for t in model.inputs] == ["feat_a", "feat_b"]  # flattened: sorted keys
    assert list(model.input) == ["feat_b", "feat_a"] and list(model.output) == ["zz", "aa"]
    assert model.output_names == ["cls", "reg"]  # the layers of the flattened outputs ("aa", "zz")
    assert model.input_shape == [(None, 2), (None, 3)]
    want = _reference(model, X)
    out = model(X)
    assert list(out) == ["zz", "aa"]
    for k in want:
        np.testing.assert_allclose(out[k].numpy(), want[k], rtol=1e-5, atol=1e-6)
    pred = model.predict(X, batch_size=3, verbose=0)
    assert list(pred) == ["zz", "aa"] and isinstance(pred["aa"], np.ndarray)
    for k in want:
        np.testing.assert_allclose(pred[k], want[k], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(X)["zz"], want["zz"], rtol=1e-5, atol=1e-6)
    # a list in flattened order is accepted when the dict's keys are sorted; extra keys are ignored with a warning
    sorted_model = keras.Model({"feat_a": model.inputs[0], "feat_b": model.inputs[1]}, model.outputs[1],
                               name="sorted_keys")
    np.testing.assert_allclose(sorted_model([X["feat_a"], X["feat_b"]]).numpy(), want["zz"], rtol=1e-5, atol=1e-6)
    with pytest.warns(UserWarning, match="extra"):
        sorted_model(dict(X, extra=np.zeros((8, 1), "float32")))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "feat_a (InputLayer)" in text and "join[0][0]" in text


def test_input_errors_and_list_models_read_dicts_by_input_name():
    model = _model()
    with pytest.raises(ValueError, match=r'Missing data for input "feat_b". You passed a data dictionary with '
                                         r"keys \['feat_a'\]. Expected the following keys: \['feat_a', 'feat_b'\]"):
        model({"feat_a": X["feat_a"]})
    with pytest.raises(ValueError, match="structure of `inputs`"):  # keys not in sorted order: a list is ambiguous
        model([X["feat_a"], X["feat_b"]])
    with pytest.raises(ValueError, match="All `inputs` values must be KerasTensors"):
        keras.Model({"a": np.zeros(3)}, model.outputs[0], name="bad")
    b, a = model.input["feat_b"], model.input["feat_a"]
    listed = keras.Model([b, a], keras.layers.Concatenate(name="join_list")([b, a]), name="list_inputs")
    np.testing.assert_allclose(listed(X).numpy(), np.concatenate([X["feat_b"], X["feat_a"]], 1))
    with pytest.raises(ValueError, match='Missing data for input "feat_b"'):
        listed({"feat_a": X["feat_a"]})
    with pytest.warns(UserWarning, match="keys in the dict must match the names"):
        keras.Model({"renamed": a}, a, name="renamed")


def test_compile_dicts_evaluate_and_names(device):
    model = _model(loss={"zz": "mse", "aa": "sparse_categorical_crossentropy"}, loss_weights={"zz": 0.5, "aa": 2.0},
                   metrics={"aa": ["accuracy"], "zz": ["mae"]})
    p = _reference(model, X)
    mse = np.mean((p["zz"] - Y["zz"]) ** 2)
    sce = -np.mean(np.log(p["aa"][np.arange(8), Y["aa"]]))
    logs = model.evaluate(X, Y, batch_size=8, verbose=0, return_dict=True)
    assert sorted(logs) == ["aa_accuracy", "aa_loss", "loss", "zz_loss", "zz_mae"]
    np.testing.assert_allclose([logs["zz_loss"], logs["aa_loss"], logs["loss"]], [mse, sce, 0.5 * mse + 2 * sce],
                               rtol=1e-5)
    np.testing.assert_allclose(logs["zz_mae"], np.mean(np.abs(p["zz"] - Y["zz"])), rtol=1e-5)
    np.testing.assert_allclose(logs["aa_accuracy"], np.mean(p["aa"].argmax(1) == Y["aa"]))
    # Keras 3's order: the loss, the output losses (the loss dict's order), then the metrics (sorted output keys)
    values = model.evaluate(X, Y, batch_size=8, verbose=0)
    np.testing.assert_allclose(values, [logs[k] for k in ("loss", "zz_loss", "aa_loss", "aa_accuracy", "zz_mae")])
    with pytest.raises(ValueError, match=r"Expected keys: \['aa', 'zz'\]. Received: keys=\['zz'\]"):
        model.evaluate(X, {"zz": Y["zz"]}, verbose=0)
    # a Dataset of ({"feat_a": ..., "feat_b": ...}, {"zz": ..., "aa": ...}) elements gives the same logs
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(3)
    ds_logs = model.evaluate(ds, verbose=0, return_dict=True)
    assert ds_logs == pytest.approx(logs, rel=1e-5)


def test_sample_weight_per_output():
    model = _model(keras.optimizers.SGD(0.0), loss={"zz": "mse", "aa": "sparse_categorical_crossentropy"},
                   weighted_metrics={"zz": ["mae"]})
    sw = {"zz": np.array([1.0, 0, 2, 1, 1, 0, 3, 1]), "aa": np.array([0.0, 1, 1, 3, 1, 1, 0, 2])}
    p = _reference(model, X)
    logs = model.evaluate(X, Y, sample_weight=sw, batch_size=8, verbose=0, return_dict=True)
    mse, mae = np.mean((p["zz"] - Y["zz"]) ** 2, axis=1), np.mean(np.abs(p["zz"] - Y["zz"]), axis=1)
    nll = -np.log(p["aa"][np.arange(8), Y["aa"]])
    # Keras 3's sum_over_batch_size: weighted sum / batch size; a weighted metric: / sum of the weights
    np.testing.assert_allclose([logs["zz_loss"], logs["aa_loss"], logs["zz_mae"]],
                               [(mse * sw["zz"]).sum() / 8, (nll * sw["aa"]).sum() / 8,
                                (mae * sw["zz"]).sum() / sw["zz"].sum()], rtol=1e-5)
    # a list per output (flattened order: "aa", "zz") is the same
    as_list = model.evaluate(X, Y, sample_weight=[sw["aa"], sw["zz"]], batch_size=8, verbose=0, return_dict=True)
    assert as_list == pytest.approx(logs, rel=1e-6)
    assert model.test_on_batch(X, Y, sample_weight=sw, return_dict=True) == pytest.approx(logs, rel=1e-6)
    history = model.fit(X, Y, sample_weight=sw, batch_size=6, epochs=1, shuffle=True, validation_split=0.25,
                        verbose=0).history  # learning rate 0: the logs are evaluate's on the same rows and weights
    for rows, prefix in ((slice(None, 6), ""), (slice(6, None), "val_")):
        part = model.evaluate({k: v[rows] for k, v in X.items()}, {k: v[rows] for k, v in Y.items()},
                              sample_weight={k: v[rows] for k, v in sw.items()}, verbose=0, return_dict=True)
        for key in ("zz_loss", "aa_loss", "zz_mae"):
            np.testing.assert_allclose(history[prefix + key], [part[key]], rtol=1e-5)


def test_list_outputs_take_targets_keyed_by_output_layer_name():
    model = _model()
    listed = keras.Model(model.input, [model.output["zz"], model.output["aa"]], name="list_outputs")
    listed.compile("sgd", loss=["mse", "sparse_categorical_crossentropy"], metrics=[["mae"], ["accuracy"]])
    by_name = listed.evaluate(X, {"reg": Y["zz"], "cls": Y["aa"]}, verbose=0, return_dict=True)
    by_position = listed.evaluate(X, [Y["zz"], Y["aa"]], verbose=0, return_dict=True)
    assert sorted(by_name) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae"]
    assert by_name == pytest.approx(by_position, rel=1e-6)


def test_fit_slices_shuffles_and_splits_dicts_together(device):
    # learning rate 0: the weights stay, so fit's logs are evaluate's on the rows it trained and validated on
    model = _model(keras.optimizers.SGD(0.0), loss={"zz": "mse", "aa": "sparse_categorical_crossentropy"})
    history = model.fit(X, Y, batch_size=6, epochs=2, validation_split=0.25, shuffle=True, verbose=0).history
    head = model.evaluate({k: v[:6] for k, v in X.items()}, {k: v[:6] for k, v in Y.items()}, verbose=0,
                          return_dict=True)
    tail = model.evaluate({k: v[6:] for k, v in X.items()}, {k: v[6:] for k, v in Y.items()}, verbose=0,
                          return_dict=True)
    for key in ("loss", "zz_loss", "aa_loss"):
        np.testing.assert_allclose(history[key], [head[key]] * 2, rtol=1e-5)
        np.testing.assert_allclose(history["val_" + key], [tail[key]] * 2, rtol=1e-5)
    # shuffled batches keep each sample's inputs and targets together
    x = {"a": np.arange(10.0)[:, None], "b": 10 * np.arange(10.0)[:, None]}
    data = _models._DataAdapter(x, np.arange(10.0), None, 3, None, True, "fit")
    rows = []
    for bx, by in data.epoch():
        np.testing.assert_array_equal(bx["b"], 10 * bx["a"])
        np.testing.assert_array_equal(by, bx["a"][:, 0])
        rows.extend(by)
    assert sorted(rows) == list(range(10))
    assert _models._batch_leaves((bx, by)) == (None, None)  # a dict batch: the step runs eagerly, never replayed
    with pytest.raises(ValueError, match="Data cardinality is ambiguous"):
        model.fit({"feat_a": X["feat_a"], "feat_b": X["feat_b"][:5]}, Y, verbose=0)


def test_save_round_trip(tmp_path):
    model = _model("adam", loss={"zz": "mse", "aa": "sparse_categorical_crossentropy"},
                   loss_weights={"zz": 0.5, "aa": 2.0}, metrics={"aa": ["accuracy"]}, weighted_metrics={"zz": ["mae"]})
    model.fit(X, Y, epochs=1, verbose=0)
    path = str(tmp_path / "dict.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert list(loaded.input) == ["feat_b", "feat_a"] and list(loaded.output) == ["zz", "aa"]
    pred, want = loaded.predict(X, verbose=0), model.predict(X, verbose=0)
    assert list(pred) == ["zz", "aa"]
    for k in want:
        np.testing.assert_allclose(pred[k], want[k], rtol=1e-6)
    clone = keras.models.clone_model(model)  # the same structure, compiled alike
    assert list(clone.input) == ["feat_b", "feat_a"] and list(clone.output) == ["zz", "aa"]
    clone.set_weights(model.get_weights())
    sw = np.linspace(0.0, 2.0, 8)
    assert clone.evaluate(X, Y, sample_weight=sw, verbose=0, return_dict=True) == pytest.approx(
        model.evaluate(X, Y, sample_weight=sw, verbose=0, return_dict=True), rel=1e-6)
    assert loaded.evaluate(X, Y, sample_weight=sw, verbose=0, return_dict=True) == pytest.approx(
        model.evaluate(X, Y, sample_weight=sw, verbose=0, return_dict=True), rel=1e-6)


def test_nested_dict_model_round_trip(tmp_path):
    full = _model()
    inner = keras.Model(full.input, full.output["zz"], name="inner")
    a, b = keras.Input((2,), name="feat_a"), keras.Input((3,), name="feat_b")
    head = keras.layers.Dense(2, name="head")
    outer = keras.Model({"feat_a": a, "feat_b": b}, head(inner({"feat_a": a, "feat_b": b})), name="outer")
    want = outer.predict(X, verbose=0)
    (w, bias), = [outer.get_layer("head").get_weights()]
    np.testing.assert_allclose(want, _reference(full, X)["zz"] @ w + bias, rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "nested.keras")
    outer.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))["config"]
    # Keras 3.15's layout: a nested model called with the dict; its first node is 0 in node arguments
    inner_entry, head_entry = [next(l for l in config["layers"] if l["name"] == n) for n in ("inner", "head")]
    assert sorted(inner_entry["inbound_nodes"][0]["args"][0]) == ["feat_a", "feat_b"]
    assert head_entry["inbound_nodes"][0]["args"][0]["config"]["keras_history"] == ["inner", 0, 0]
    np.testing.assert_allclose(keras.models.load_model(path).predict(X, verbose=0), want, rtol=1e-6)
    clone = keras.models.clone_model(outer)  # the nested model copied too (Keras: from its graph config)
    assert clone.get_layer("inner") is not inner
    clone.set_weights(outer.get_weights())
    np.testing.assert_allclose(clone.predict(X, verbose=0), want, rtol=1e-6)


def test_nested_dict_output_model(tmp_path):
    inner = _model()
    a, b = keras.Input((2,), name="feat_a"), keras.Input((3,), name="feat_b")
    out = inner({"feat_a": a, "feat_b": b})
    assert list(out) == ["zz", "aa"] and out["aa"].shape == (None, 3)
    outer = keras.Model({"feat_a": a, "feat_b": b}, {"twice": keras.layers.Add(name="add")([out["zz"], out["zz"]]),
                                                      "aa": out["aa"]}, name="outer_dict")
    want, pred = _reference(inner, X), outer.predict(X, verbose=0)
    np.testing.assert_allclose(pred["twice"], 2 * want["zz"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pred["aa"], want["aa"], rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "nested_out.keras")
    outer.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))["config"]
    # as Keras 3.15 writes it: "zz" is the nested model's output 1 (flattened: "aa", "zz"), node 0 in a node's
    # arguments, node 1 in output_layers
    add = next(l for l in config["layers"] if l["name"] == "add")
    assert add["inbound_nodes"][0]["args"][0][0]["config"]["keras_history"] == ["dict_model", 0, 1]
    assert config["output_layers"] == {"twice": ["add", 0, 0], "aa": ["dict_model", 1, 0]}
    loaded = keras.models.load_model(path).predict(X, verbose=0)
    for k in pred:
        np.testing.assert_allclose(loaded[k], pred[k], rtol=1e-6)


def test_keras_written_dict_model_loads():
    with np.load(os.path.join(FIXTURES, "dict_io.npz")) as d:
        d = dict(d)
    model = keras.models.load_model(os.path.join(FIXTURES, "dict_io.keras"))
    x, y = {"num": d["x_num"], "cat": d["x_cat"]}, {"score": d["y_score"], "label": d["y_label"]}
    assert list(model.input) == ["num", "cat"] and list(model.output) == ["score", "label"]
    pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(pred["score"], d["pred_score"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pred["label"], d["pred_label"], rtol=1e-5, atol=1e-6)
    logs = model.evaluate(x, y, sample_weight=d["sw"], batch_size=6, verbose=0, return_dict=True)
    keras_logs = {k[len("eval_"):]: float(v) for k, v in d.items() if k.startswith("eval_")}
    assert "label_weighted_accuracy" in keras_logs
    assert logs == pytest.approx(keras_logs, rel=1e-5)
    # the "score" part nested in another dict model: Keras's nested call with a dict, node index 0
    nested = keras.models.load_model(os.path.join(FIXTURES, "dict_io_nested.keras"))
    np.testing.assert_allclose(nested.predict(x, verbose=0), d["pred_nested"], rtol=1e-5, atol=1e-6)


def _classifier(**compile_kwargs):
    inp = keras.Input((2,), name="x")
    dense = keras.layers.Dense(3, activation="softmax", name="probs")
    model = keras.Model(inp, dense(inp), name="classifier")
    dense.set_weights([np.array([[0.5, -0.2, 0.1], [0.3, 0.4, -0.6]], "float32"), np.array([0.1, 0.0, -0.1], "f4")])
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy", **compile_kwargs)
    return model


def test_weighted_metrics_use_sample_and_class_weights(device):
    x = np.array([[1, 2], [3, -1], [0, 1], [2, 2], [-1, 0]], "float32")
    y, sw = np.array([0, 1, 2, 1, 0]), np.array([1.0, 2.0, 0.0, 3.0, 0.5])
    model = _classifier(metrics=["accuracy", keras.metrics.SparseCategoricalCrossentropy()],
                        weighted_metrics=["accuracy", keras.metrics.SparseCategoricalCrossentropy()])
    p = model.predict(x, verbose=0)
    correct, nll = (p.argmax(1) == y).astype(float), -np.log(p[np.arange(5), y])
    logs = model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    # Keras 3.15.1 names a weighted metric whose name is taken "weighted_<name>"
    assert sorted(logs) == ["accuracy", "loss", "sparse_categorical_crossentropy", "weighted_accuracy",
                            "weighted_sparse_categorical_crossentropy"]
    np.testing.assert_allclose([logs["accuracy"], logs["sparse_categorical_crossentropy"]], [correct.mean(),
                                                                                             nll.mean()], rtol=1e-5)
    np.testing.assert_allclose([logs["weighted_accuracy"], logs["weighted_sparse_categorical_crossentropy"]],
                               [(sw * correct).sum() / sw.sum(), (sw * nll).sum() / sw.sum()], rtol=1e-5)
    assert model.evaluate(x, y, sample_weight=sw, verbose=0) == pytest.approx(
        [logs[k] for k in ("loss", "accuracy", "sparse_categorical_crossentropy", "weighted_accuracy",
                           "weighted_sparse_categorical_crossentropy")])
    cw = {0: 2.0, 1: 1.0, 2: 0.5}
    history = model.fit(x, y, class_weight=cw, batch_size=5, shuffle=False, verbose=0).history
    w = np.array([cw[c] for c in y])
    np.testing.assert_allclose(history["weighted_sparse_categorical_crossentropy"], [(w * nll).sum() / w.sum()],
                               rtol=1e-5)
    np.testing.assert_allclose(history["sparse_categorical_crossentropy"], [nll.mean()], rtol=1e-5)
    only_weighted = _classifier(weighted_metrics=["accuracy"])  # no clash: its own name
    logs = only_weighted.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    assert sorted(logs) == ["accuracy", "loss"]
    np.testing.assert_allclose(logs["accuracy"], (sw * correct).sum() / sw.sum(), rtol=1e-6)
    with pytest.raises(TypeError, match="Expected `weighted_metrics` argument to be a list"):
        _classifier(weighted_metrics="accuracy")
    keyed = _classifier(metrics={"probs": ["accuracy"]}, weighted_metrics={"probs": "accuracy"})  # one output: all
    assert sorted(keyed.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)) == [
        "accuracy", "loss", "weighted_accuracy"]


def test_weighted_metrics_in_compile_config(tmp_path):
    model = _classifier(metrics=["accuracy"], weighted_metrics=["accuracy", "sparse_categorical_crossentropy"])
    config = tf.keras.saving.serialization.compile_config_of(model)
    assert config["metrics"] == ["accuracy"]
    assert config["weighted_metrics"] == ["accuracy", "sparse_categorical_crossentropy"]
    path = str(tmp_path / "weighted.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    x, y, sw = np.array([[1, 2], [3, -1], [0, 1]], "float32"), np.array([0, 1, 2]), np.array([1.0, 0.0, 2.0])
    logs = loaded.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    assert sorted(logs) == ["accuracy", "loss", "sparse_categorical_crossentropy", "weighted_accuracy"]
    assert logs == pytest.approx(model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True))


def test_outputs_of_one_call_share_its_node_in_the_saved_config(tmp_path):
    # an LSTM's states and a nested model's outputs are one node with tensor indices (Keras's layout); they were
    # written as one node per tensor, which neither gpuflow nor Keras could load back
    j = keras.Input((4, 3), name="j")
    _, h, c = keras.layers.LSTM(2, return_state=True, name="lstm")(j)
    i = keras.Input((2,), name="i")
    inner = keras.Model(i, [keras.layers.Dense(1, name="p")(i), keras.layers.Dense(2, name="q")(i)], name="pair")
    p, q = inner(h)
    model = keras.Model(j, keras.layers.Concatenate(name="cat")([c, p, q]), name="states")
    path = str(tmp_path / "states.keras")
    model.save(path)
    layers = {e["name"]: e for e in json.loads(zipfile.ZipFile(path).read("config.json"))["config"]["layers"]}
    assert len(layers["lstm"]["inbound_nodes"]) == 1 and len(layers["pair"]["inbound_nodes"]) == 1
    args = layers["cat"]["inbound_nodes"][0]["args"][0]
    assert [a["config"]["keras_history"] for a in args] == [["lstm", 0, 2], ["pair", 0, 0], ["pair", 0, 1]]
    x = np.linspace(-1, 1, 24, dtype="float32").reshape(2, 4, 3)
    np.testing.assert_allclose(keras.models.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


class _TwoFeatures(keras.Model):
    """A subclassed model whose call reads a dict of inputs by key (Keras 3 passes the dict through)."""

    def __init__(self):
        super().__init__(name="two_features")
        self.dense = keras.layers.Dense(1, name="out")

    def call(self, inputs):
        return self.dense(inputs["feat_a"] * 2.0) + tf.reduce_sum(inputs["feat_b"], axis=1, keepdims=True)


def test_subclassed_model_takes_a_dict():
    model = _TwoFeatures()
    model.compile(keras.optimizers.SGD(0.0), "mse")
    history = model.fit(X, Y["zz"], batch_size=4, validation_split=0.25, verbose=0).history
    w, b = model.dense.get_weights()
    want = 2 * X["feat_a"] @ w + b + X["feat_b"].sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict(X, verbose=0), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(history["val_loss"], [np.mean((want[6:] - Y["zz"][6:]) ** 2)], rtol=1e-5)
