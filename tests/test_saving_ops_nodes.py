"""Functional models with ``keras.ops`` calls (and operators on KerasTensors) between layers: Keras 3 writes each call
as an operation node (``"module": "keras.src.ops.numpy"``, ``"class_name": "Add"``, the op's ``__init__`` arguments
in its config, its tensors and constants in its node arguments). gpuflow reads Keras's files with such nodes and
writes its own in the same form.

``fixtures/ops_nodes.keras`` / ``ops_nodes.npz`` were written by Keras 3.15.1 with ``fixtures/make_ops_nodes.py``
(operators with tensors and scalars, concatenate, reshape, mean/sum, relu/sigmoid/softmax, transpose,
expand_dims/squeeze, matmul, maximum, sqrt and slicing), with Keras's predictions on a fixed input; the same script's
``build(keras, ops)`` builds the model here with gpuflow. ``ops_nodes_activations.keras``: ``keras.activations``
called on KerasTensors (Keras's ``keras.src.activations.activations.ReLU`` node, read only). That Keras 3.15 loads
gpuflow's files (with the same predictions) was checked by hand with /work/tfvenv.
"""
import importlib.util
import json
import math
import os
import zipfile

import numpy as np
import pytest

import gpuflow as tf

keras = tf.keras
ops = keras.ops
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
KERAS_FILE = os.path.join(FIXTURES, "ops_nodes.keras")


def _fixture():
    with np.load(os.path.join(FIXTURES, "ops_nodes.npz")) as d:
        return d["x"], [d[f"pred_{i}"] for i in range(3)]


def _build_with_gpuflow():
    spec = importlib.util.spec_from_file_location("make_ops_nodes", os.path.join(FIXTURES, "make_ops_nodes.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keras.backend.clear_session()  # node names numbered from 1, as in the fresh process that wrote the file
    return module.build(keras, ops)


def _config(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json"))


def _op_entries(config):
    keras_ops_modules = ("keras.src.ops.", "keras.src.activations.")
    return [e for e in config["config"]["layers"] if e["module"].startswith(keras_ops_modules)]


def _rewrite_config(src, dst, edit):
    """A copy of the .keras file ``src`` whose config.json is ``edit(config)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config)
            zout.writestr(item, data)


def test_keras_file_with_operation_nodes_predicts_as_keras(tmp_path):
    x, expected = _fixture()
    model = keras.models.load_model(KERAS_FILE)
    assert [layer.name for layer in model.layers] == ["x", "d1", "flat", "d2"]  # as Keras: nodes are not layers
    for got, want in zip(model.predict(x, verbose=0), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # written back as Keras wrote it: every operation node's entry is unchanged
    model.save(tmp_path / "again.keras")
    assert _op_entries(_config(tmp_path / "again.keras")) == _op_entries(_config(KERAS_FILE))
    again = keras.models.load_model(tmp_path / "again.keras")
    for got, want in zip(again.predict(x, verbose=0), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_gpuflow_writes_operation_nodes_as_keras_does(tmp_path):
    """The same code run with gpuflow writes the operation nodes Keras wrote: classes, modules, configs (axis,
    keepdims, newshape, axes), constants and slices in the node arguments, names and graph links."""
    model = _build_with_gpuflow()
    model.save(tmp_path / "m.keras")
    written, keras_written = _op_entries(_config(tmp_path / "m.keras")), _op_entries(_config(KERAS_FILE))
    assert [e["class_name"] for e in written] == [e["class_name"] for e in keras_written]
    assert {e["class_name"]: e["module"] for e in written}["Relu"] == "keras.src.ops.nn"
    assert written == keras_written
    # and it reads back with the same weights and predictions
    x, _ = _fixture()
    loaded = keras.models.load_model(tmp_path / "m.keras")
    for got, want in zip(loaded.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_operator_and_ops_nodes_compute_what_they_say_and_round_trip(tmp_path):
    inp = keras.Input((4,), name="inp")
    dense = keras.layers.Dense(3, name="d")
    h = dense(inp)
    y = ops.concatenate([-(2.0 - h) ** 2 / 4.0, abs(h) @ ops.ones((3, 2)), ops.mean(h, axis=-1, keepdims=True)],
                        axis=1)
    model = keras.Model(inp, ops.softmax(y[:, 1:], axis=-1))
    x = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
    hv = x @ dense.kernel.numpy() + dense.bias.numpy()
    yv = np.concatenate([-(2.0 - hv) ** 2 / 4.0, np.abs(hv) @ np.ones((3, 2)), hv.mean(-1, keepdims=True)], 1)[:, 1:]
    expected = np.exp(yv) / np.exp(yv).sum(-1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5)
    nodes = {e["class_name"]: e for e in _op_entries(_config(tmp_path / "m.keras"))}
    assert nodes["Subtract"]["inbound_nodes"][0]["args"][0] == 2.0  # the reflected operator: the scalar first
    assert {k: v for k, v in nodes["Mean"]["config"].items() if k != "name"} == {"axis": -1, "keepdims": True}
    clone = keras.models.clone_model(loaded)  # the ops are run again on the copy's tensors
    clone.set_weights(loaded.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), expected, rtol=1e-5)


def test_a_file_naming_an_unknown_operation_is_refused(tmp_path):
    def rename(config):
        entry = next(e for e in config["config"]["layers"] if e["class_name"] == "Mean")
        entry["class_name"] = entry["registered_name"] = "Frobnicate"
    _rewrite_config(KERAS_FILE, tmp_path / "bad.keras", rename)
    with pytest.raises(ValueError, match=r"Keras operation 'Frobnicate' \(module 'keras.src.ops.numpy'\).*"
                                         r"not supported"):
        keras.models.load_model(tmp_path / "bad.keras")


def test_an_operation_config_with_an_argument_the_op_lacks_is_refused(tmp_path):
    def add_argument(config):
        entry = next(e for e in config["config"]["layers"] if e["class_name"] == "Mean")
        entry["config"]["function"] = "os.system"
    _rewrite_config(KERAS_FILE, tmp_path / "bad.keras", add_argument)
    with pytest.raises(ValueError, match=r"Operation Mean: unexpected argument\(s\) \['function'\]"):
        keras.models.load_model(tmp_path / "bad.keras")


def test_an_op_keras_files_cannot_hold_trains_but_is_not_saved(tmp_path):
    inp = keras.Input((3,))
    model = keras.Model(inp, ops.einsum("bi,bi->b", inp, inp))
    np.testing.assert_allclose(model.predict(np.ones((2, 3), "float32"), verbose=0), [3.0, 3.0])
    with pytest.raises(NotImplementedError, match="keras.ops.einsum on symbolic tensors"):
        model.save(tmp_path / "m.keras")


def test_comparison_and_logical_operators_are_nodes_too(tmp_path):
    inp = keras.Input((5,))
    band = (inp > -0.5) & ~(inp >= 0.5) | (inp <= -2.0)  # Greater, GreaterEqual, LogicalNot, LogicalAnd, LessEqual...
    model = keras.Model(inp, ops.where(band, inp, 0.0))
    x = np.array([[-3.0, -1.0, -0.25, 0.25, 1.0]], "float32")
    expected = np.where(((x > -0.5) & ~(x >= 0.5)) | (x <= -2.0), x, 0.0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), expected)
    model.save(tmp_path / "m.keras")
    names = [e["class_name"] for e in _op_entries(_config(tmp_path / "m.keras"))]
    assert sorted(names) == sorted(["Greater", "GreaterEqual", "LogicalNot", "LogicalAnd", "LessEqual", "LogicalOr",
                                    "Where"])
    np.testing.assert_array_equal(keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0), expected)


def test_an_op_that_refuses_zeros_still_becomes_a_node(tmp_path):
    """The node's output shape comes from running the op on zeros, or, where it refuses them (a singular matrix for
    inv), on identity matrices."""
    inp = keras.Input((2, 2))
    model = keras.Model(inp, ops.linalg.inv(inp))
    x = np.array([[[2.0, 1.0], [1.0, 1.0]]], "float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), [[[1.0, -1.0], [-1.0, 2.0]]], rtol=1e-5)
    model.save(tmp_path / "m.keras")
    assert _op_entries(_config(tmp_path / "m.keras"))[0]["module"] == "keras.src.ops.linalg"
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.keras").predict(x, verbose=0),
                               [[[1.0, -1.0], [-1.0, 2.0]]], rtol=1e-5)


def test_keras_activations_called_on_keras_tensors_load(tmp_path):
    """``keras.activations.relu(h, negative_slope=..., max_value=...)`` on a KerasTensor is Keras's
    ``keras.src.activations.activations.ReLU`` node; gelu and silu are ``keras.src.ops.nn`` nodes."""
    with np.load(os.path.join(FIXTURES, "ops_nodes.npz")) as d:
        x, expected = d["x"], d["pred_activations"]
    path = os.path.join(FIXTURES, "ops_nodes_activations.keras")
    model = keras.models.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    dense = model.layers[1]
    h = x @ dense.kernel.numpy() + dense.bias.numpy()
    relu = np.minimum(np.where(h > 0, h, 0.1 * h), 0.5)  # Keras's relu with negative_slope and max_value
    assert np.abs(expected - (relu * 0.5 * (1 + np.vectorize(math.erf)(relu / np.sqrt(2)))
                              + h / (1 + np.exp(-h)))).max() < 1e-5  # gelu(relu) + silu(h): the fixture's formula
    model.save(tmp_path / "again.keras")
    written = _op_entries(_config(tmp_path / "again.keras"))
    assert written == _op_entries(_config(path))  # as Keras wrote them
    assert [e["class_name"] for e in written] == ["ReLU", "Gelu", "Silu", "Add"]


def test_a_dtype_argument_is_written_as_its_name(tmp_path):
    inp = keras.Input((2, 3))
    model = keras.Model(inp, ops.cast(ops.mean(inp, axis=(1, 2)), tf.float16))
    model.save(tmp_path / "m.keras")
    configs = [e["config"] for e in _op_entries(_config(tmp_path / "m.keras"))]
    assert [{k: v for k, v in c.items() if k != "name"} for c in configs] == [
        {"axis": [1, 2], "keepdims": False}, {"dtype": "float16"}]  # as Keras's Mean and Cast
    x = np.arange(6, dtype="float32").reshape(1, 2, 3)
    out = keras.models.load_model(tmp_path / "m.keras")(x)
    assert out.dtype == tf.float16 and float(out.numpy()[0]) == 2.5


def test_tf_functions_refuse_keras_tensors_with_keras_message():
    inp = keras.Input((3,))
    with pytest.raises(TypeError, match="A KerasTensor cannot be used as input to a TensorFlow function"):
        tf.nn.relu(inp)
    with pytest.raises(TypeError, match="Iterating over a symbolic KerasTensor is not supported"):
        list(inp)
