"""Saving and loading in Keras's formats (gpuflow.keras.saving), checked against files Keras wrote.

The reference files in ``tests/fixtures`` were written by Keras 3.15.1 (TF 2.21) and tf_keras 2.21
with ``tests/fixtures/make_fixtures.py``; ``fixtures.npz`` holds their inputs and Keras's
predictions. The test that has Keras read gpuflow's files runs only where a Python with Keras 3
exists (``/work/tfvenv/bin/python`` or ``$GPUFLOW_KERAS_PYTHON``); the layout checks that stand
in for it run everywhere.
"""
import io
import json
import importlib.util
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import gpuflow as tf  # noqa: E402
from gpuflow.keras import saving  # noqa: E402
from gpuflow.keras.saving import keras_zip, legacy_h5, weights_h5  # noqa: E402

keras = tf.keras
layers = keras.layers
FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
KERAS_PYTHON = os.environ.get("GPUFLOW_KERAS_PYTHON", "/work/tfvenv/bin/python")


def fixture(name):
    return os.path.join(FIXTURES, name)


@pytest.fixture(scope="module")
def ref():
    with np.load(fixture("fixtures.npz")) as d:
        return {k: d[k] for k in d.files}


def quiet_load(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return saving.load_model(path, **kwargs)


# -- the fixture architectures: make_fixtures.py's builders, called with gpuflow's keras ----------------------------
def _fixture_builders():
    spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(FIXTURES, "make_fixtures.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines the builders only: Keras is imported inside its main()
    return module


_BUILDERS = _fixture_builders()


def gf_seq_cnn():
    return _BUILDERS.seq_cnn(keras)


def gf_two_branch():
    return _BUILDERS.two_branch(keras)


def gf_nested_shared():
    """A functional model inside a functional model, and a layer used twice (node indices 0 and 1)."""
    inner_in = keras.Input((4,), name="inner_in")
    inner = keras.Model(inner_in, layers.Dense(3, activation="tanh", name="inner_dense")(inner_in), name="inner")
    x = keras.Input((4,), name="x")
    shared = layers.Dense(4, activation="relu", name="shared")
    return keras.Model(x, inner(shared(shared(x))), name="nested")


def zip_json(path, member="config.json"):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read(member))


def h5_tree(path, member="model.weights.h5"):
    """{hdf5 path: (attrs, shape, dtype)} of a .weights.h5 file or of the weights inside a .keras file."""
    data = zipfile.ZipFile(path).read(member) if path.endswith(".keras") else open(path, "rb").read()
    out = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, ({k: str(v) for k, v in o.attrs.items()},
                                                      getattr(o, "shape", None), str(getattr(o, "dtype", "")))))
    return out


def h5_vars(path, group, member="model.weights.h5"):
    data = zipfile.ZipFile(path).read(member) if path.endswith(".keras") else open(path, "rb").read()
    with h5py.File(io.BytesIO(data), "r") as f:
        g = f[group]
        return [np.asarray(g[str(i)][()]) for i in range(len(g))]


def strip_ids(config):
    """Drops ``shared_object_id``, an address Keras writes to deduplicate shared objects."""
    if isinstance(config, dict):
        return {k: strip_ids(v) for k, v in config.items() if k != "shared_object_id"}
    if isinstance(config, list):
        return [strip_ids(v) for v in config]
    return config


# =========================================================================================
# Keras-written files load in gpuflow
# =========================================================================================
def test_fixtures_were_written_by_keras():
    meta = zip_json(fixture("seq_cnn.keras"), "metadata.json")
    assert meta["keras_version"] == "3.15.1" and "date_saved" in meta
    with zipfile.ZipFile(fixture("seq_cnn.keras")) as z:
        assert z.namelist() == ["metadata.json", "config.json", "model.weights.h5"]


def test_keras_sequential_keras_file_loads_and_predicts_the_same(ref):
    model = saving.load_model(fixture("seq_cnn.keras"))
    assert isinstance(model, keras.Sequential) and model.name == "seed_cnn"
    assert [type(l).__name__ for l in model.layers] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "ReLU", "AveragePooling2D", "Flatten", "Dense", "Activation", "Dropout",
        "Dense", "Softmax"]
    np.testing.assert_allclose(model.predict(ref["seq_cnn_x"], verbose=0), ref["seq_cnn_y"], atol=1e-5)
    # compile settings and optimizer state come back: fit would resume where Keras stopped
    assert model.compiled and type(model.optimizer).__name__ == "Adam"
    assert model.loss == "sparse_categorical_crossentropy" and model._metric_ids == ["accuracy"]
    assert model.optimizer.learning_rate.numpy() == np.float32(0.001)
    assert int(model.optimizer.iterations.numpy()) == int(ref["seq_cnn_iterations"]) == 4
    saved = h5_vars(fixture("seq_cnn.keras"), "optimizer/vars")
    assert len(saved) == len(model.optimizer.variables) == 2 + 2 * 8
    for ours, theirs in zip(model.optimizer.variables, saved):  # a Sequential's order is Keras's order
        np.testing.assert_array_equal(ours.numpy(), theirs)
    first_kernel = model.layers[0].kernel
    np.testing.assert_array_equal(model.optimizer._slots[id(first_kernel)]["momentum"].numpy(), saved[2])
    np.testing.assert_array_equal(model.optimizer._slots[id(first_kernel)]["velocity"].numpy(), saved[3])
    history = model.fit(ref["seq_cnn_x"], np.array([0, 1, 2, 0, 1]), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and int(model.optimizer.iterations.numpy()) == 5


def test_keras_functional_keras_file_loads_and_predicts_the_same(ref):
    model = saving.load_model(fixture("two_branch.keras"), compile=False)
    assert model.name == "two_branch" and not model.compiled
    names = {l.name for l in model.layers}
    assert {"image", "trunk", "head_a", "head_b", "branch_b"} <= names
    branch = model.get_layer("branch_b")
    assert isinstance(branch, keras.Sequential) and [type(l).__name__ for l in branch.layers] == ["Flatten", "Dense"]
    out_a, out_b = model(ref["two_branch_x"])
    np.testing.assert_allclose(out_a.numpy(), ref["two_branch_y0"], atol=1e-5)
    np.testing.assert_allclose(out_b.numpy(), ref["two_branch_y1"], atol=1e-5)


def test_keras_functional_with_multi_output_losses_loads_even_if_compile_cannot_be_rebuilt(ref):
    # The file compiles with one loss per output. Where gpuflow cannot compile that yet, the model still
    # loads for inference, with Keras's kind of warning; nothing is raised.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = saving.load_model(fixture("two_branch.keras"))
    if not model.compiled:
        assert any("two_branch.keras" in str(w.message) and "not compiled" in str(w.message) for w in caught)
    np.testing.assert_allclose(model(ref["two_branch_x"])[1].numpy(), ref["two_branch_y1"], atol=1e-5)


def test_keras_weights_h5_loads_into_a_model_built_in_gpuflow(ref):
    gf_seq_cnn()  # bump the name counters: the file addresses layers by class, not by layer name
    model = gf_seq_cnn()
    assert model.layers[0].name != "conv2d"
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    saving.load_weights(model, fixture("seq_cnn.weights.h5"))
    np.testing.assert_allclose(model.predict(ref["seq_cnn_x"], verbose=0), ref["seq_cnn_y"], atol=1e-5)
    assert int(model.optimizer.iterations.numpy()) == 4


def test_keras_functional_weights_load_into_a_functional_model_built_in_gpuflow(ref):
    # gpuflow lists this model's layers in another order than Keras (DFS vs depth); the weights file
    # numbers layers in Keras's order (dense = head_a, dense_1 = head_b), which saving reproduces.
    model = gf_two_branch()
    saving.load_weights(model, fixture("two_branch.keras"))
    out_a, out_b = model(ref["two_branch_x"])
    np.testing.assert_allclose(out_a.numpy(), ref["two_branch_y0"], atol=1e-5)
    np.testing.assert_allclose(out_b.numpy(), ref["two_branch_y1"], atol=1e-5)


def test_load_weights_from_a_keras_file_rejects_a_different_architecture():
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(4, 3, padding="same"), layers.Flatten(),
                              layers.Dense(5)])
    with pytest.raises(ValueError) as e:
        saving.load_weights(model, fixture("seq_cnn.weights.h5"))
    msg = str(e.value)
    assert "seq_cnn.weights.h5" in msg and "dense" in msg and "(256, 5)" in msg and "(4, 8)" in msg


# =========================================================================================
# gpuflow-written files have Keras's layout (checked in CI, without Keras)
# =========================================================================================
def test_gpuflow_keras_file_matches_what_keras_writes(tmp_path):
    for name in ("seq_cnn", "two_branch"):
        model = quiet_load(fixture(f"{name}.keras"))
        path = str(tmp_path / f"{name}.keras")
        saving.save_model(model, path)
        with zipfile.ZipFile(path) as z:
            assert z.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
            assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        meta = zip_json(path, "metadata.json")
        assert meta["keras_version"] == tf.__version__ and meta["framework"] == "gpuflow"
        theirs, ours = strip_ids(zip_json(fixture(f"{name}.keras"))), zip_json(path)
        if not model.compiled:
            theirs.pop("compile_config")
        # What Keras writes and gpuflow does not: an empty compile_config on an uncompiled nested model, and
        # the `mask=None` keyword Keras passes when it calls a nested Sequential.
        for layer in theirs["config"]["layers"]:
            if layer.get("compile_config") == {}:
                del layer["compile_config"]
            for node in layer.get("inbound_nodes", []):
                node["kwargs"] = {k: v for k, v in node["kwargs"].items() if v is not None}
        assert ours == theirs
        ours_h5, theirs_h5 = h5_tree(path), h5_tree(fixture(f"{name}.keras"))
        if not model.compiled:
            theirs_h5 = {k: v for k, v in theirs_h5.items() if not k.startswith("optimizer")}
        assert ours_h5 == theirs_h5


def test_gpuflow_built_models_write_keras_paths_and_keys(tmp_path):
    rng = np.random.default_rng(0)
    model = gf_seq_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(rng.random((8, 8, 8, 1), dtype=np.float32), rng.integers(0, 3, 8), batch_size=4, verbose=0)
    saving.save_model(model, str(tmp_path / "a.keras"))
    saving.save_weights(model, str(tmp_path / "a.weights.h5"))
    keras_tree = h5_tree(fixture("seq_cnn.keras"))
    drop_names = lambda tree: {k: (v[1], v[2]) for k, v in tree.items()}  # noqa: E731 (layer names differ)
    assert drop_names(h5_tree(str(tmp_path / "a.keras"))) == drop_names(keras_tree)
    assert drop_names(h5_tree(str(tmp_path / "a.weights.h5"))) == drop_names(h5_tree(fixture("seq_cnn.weights.h5")))

    def keys(config):
        if isinstance(config, dict):
            return {k: keys(v) for k, v in config.items() if k != "shared_object_id"}
        if isinstance(config, list):
            return [keys(v) for v in config]
        return None
    assert keys(zip_json(str(tmp_path / "a.keras"))) == keys(zip_json(fixture("seq_cnn.keras")))

    functional = gf_two_branch()
    saving.save_model(functional, str(tmp_path / "b.keras"))
    ours, theirs = zip_json(str(tmp_path / "b.keras")), zip_json(fixture("two_branch.keras"))
    assert [l["class_name"] for l in ours["config"]["layers"]] == [l["class_name"] for l in theirs["config"]["layers"]]
    assert ours["module"] == "keras.src.models.functional" and ours["registered_name"] == "Functional"
    assert ours["config"]["input_layers"] == ["image", 0, 0]
    assert ours["config"]["output_layers"] == [["head_a", 0, 0], ["head_b", 0, 0]]
    assert drop_names(h5_tree(str(tmp_path / "b.keras"))) == {
        k: (v[1], v[2]) for k, v in h5_tree(fixture("two_branch.keras")).items() if not k.startswith("optimizer")}


def test_subclassed_model_weights_follow_keras_attribute_paths(tmp_path):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d1 = layers.Dense(4)
            self.blocks = [layers.Dense(3), layers.Dense(2)]
            self._priv = layers.Dense(2)

        def call(self, x):
            x = self.d1(x)
            for b in self.blocks:
                x = b(x)
            return self._priv(x)

    net = Net()
    net.compile("sgd", "mse")
    net.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), verbose=0)
    path = str(tmp_path / "net.weights.h5")
    saving.save_weights(net, path)
    # the paths Keras 3.15 writes for this very model (checked with Keras)
    assert {k for k in h5_tree(path) if k.endswith("/vars") or k == "vars"} == {
        "blocks/dense/vars", "blocks/dense_1/vars", "d1/vars", "layers/dense_3/vars", "optimizer/vars", "vars"}
    other = Net()
    other(np.ones((1, 3), "float32"))
    saving.load_weights(other, path)
    for a, b in zip(net.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not os.path.exists(KERAS_PYTHON), reason=f"no Python with Keras 3 at {KERAS_PYTHON} (set "
                    "GPUFLOW_KERAS_PYTHON); the layout tests above stand in for this one")
def test_keras_reads_gpuflow_files(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.random((16, 8, 8, 1), dtype=np.float32)
    y = rng.integers(0, 3, 16)
    model = gf_seq_cnn()
    model.compile(optimizer=keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    functional = gf_two_branch()
    functional.compile("adam", "mse")
    nested = gf_nested_shared()
    saving.save_model(nested, str(tmp_path / "nested.keras"))
    saving.save_model(model, str(tmp_path / "seq.keras"))
    saving.save_weights(model, str(tmp_path / "seq.weights.h5"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saving.save_model(model, str(tmp_path / "seq.h5"))
    saving.save_model(functional, str(tmp_path / "two.keras"))
    slots = {}
    for var_index, var in enumerate(weights_h5.keras_trainable_variables(model)):
        for slot, value in model.optimizer._slots[id(var)].items():
            slots[f"{slot}/{var_index}"] = value.numpy()
    a, b = functional(x[:4, :6, :6, :1].repeat(2, axis=-1))
    nx = x[:3, 0, :4, 0]
    np.savez(tmp_path / "expected.npz", x=x[:4], y=model.predict(x[:4], verbose=0), fx=x[:4, :6, :6, :1].repeat(2, -1),
             fy0=a.numpy(), fy1=b.numpy(), nx=nx, ny=nested.predict(nx, verbose=0), **slots)
    script = textwrap.dedent(f"""
        import json, os, numpy as np, keras
        d, out = np.load("{tmp_path}/expected.npz"), {{}}
        def slot_values(opt):
            got = {{}}
            for v in opt.variables[2:]:
                name = v.name
                slot = next(s for s in ("average_gradient", "velocity", "momentum") if name.endswith(s))
                got.setdefault(slot, []).append(np.asarray(v.numpy()))
            return got
        for fname in ("seq.keras", "seq.h5"):
            m = keras.models.load_model("{tmp_path}/" + fname)
            out[fname] = {{"err": float(np.abs(m.predict(d["x"], verbose=0) - d["y"]).max()),
                          "iterations": int(m.optimizer.iterations.numpy()),
                          "optimizer": type(m.optimizer).__name__, "loss": str(m.loss)}}
            for slot, values in slot_values(m.optimizer).items():
                out[fname][slot] = max(float(np.abs(v - d[f"{{slot}}/{{i}}"]).max()) for i, v in enumerate(values))
            if fname == "seq.keras":
                m.save("{tmp_path}/roundtrip.keras")
        m.load_weights("{tmp_path}/seq.weights.h5")
        out["weights"] = float(np.abs(m.predict(d["x"], verbose=0) - d["y"]).max())
        f = keras.models.load_model("{tmp_path}/two.keras")
        a, b = f.predict(d["fx"], verbose=0)
        out["two"] = [float(np.abs(a - d["fy0"]).max()), float(np.abs(b - d["fy1"]).max())]
        n = keras.models.load_model("{tmp_path}/nested.keras")
        out["nested"] = float(np.abs(n.predict(d["nx"], verbose=0) - d["ny"]).max())
        print("RESULT" + json.dumps(out))
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    run = subprocess.run([KERAS_PYTHON, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    lines = [l for l in run.stdout.splitlines() if l.startswith("RESULT")]
    assert run.returncode == 0 and lines, run.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT"):])
    for fname in ("seq.keras", "seq.h5"):
        r = out[fname]
        assert r["err"] < 1e-5 and r["iterations"] == 2 and r["optimizer"] == "RMSprop", (fname, r)
        assert "sparse_categorical_crossentropy" in r["loss"], (fname, r)  # Keras's .h5 loader makes it a function
    # Keras matched each slot by its own variable names. (Keras 3.15's legacy .h5 loader builds the optimizer
    # on the model's own, empty, variable list, so it restores no slots even from files Keras wrote.)
    for slot in ("velocity", "momentum", "average_gradient"):
        assert out["seq.keras"][slot] == 0.0, (slot, out["seq.keras"])
    assert out["weights"] < 1e-5 and max(out["two"]) < 1e-5 and out["nested"] < 1e-5, out
    # and back: Keras re-saved the gpuflow model; gpuflow reads Keras's file with the same optimizer state
    back = saving.load_model(str(tmp_path / "roundtrip.keras"))
    ours = [v.numpy() for v in weights_h5.optimizer_variables(back.optimizer, back)]
    original = [v.numpy() for v in weights_h5.optimizer_variables(model.optimizer, model)]
    assert len(ours) == len(original)
    for a, b in zip(ours, original):
        np.testing.assert_array_equal(a, b)


# =========================================================================================
# Save, load, resume
# =========================================================================================
def _resume_model(kind):
    if kind == "sequential":
        return keras.Sequential([keras.Input((6, 6, 1)), layers.Conv2D(2, 3, activation="relu"),
                                 layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(3, activation="softmax")])
    inputs = keras.Input((6, 6, 1))
    h = layers.AveragePooling2D(2)(layers.Conv2D(2, 3, padding="same", activation="relu")(inputs))
    h = layers.Dense(4, activation="relu")(layers.Flatten()(h))
    return keras.Model(inputs, layers.Dense(3, activation="softmax")(h))


OPTIMIZERS = {"adam": lambda: keras.optimizers.Adam(0.01),
              "sgd_momentum": lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
              "rmsprop_centered": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True)}


@pytest.mark.parametrize("kind,opt,ext", [("sequential", "adam", ".keras"), ("functional", "sgd_momentum", ".keras"),
                                          ("sequential", "rmsprop_centered", ".keras"), ("functional", "adam", ".h5")])
def test_fit_save_load_fit_equals_fitting_straight_through(tmp_path, kind, opt, ext):
    rng = np.random.default_rng(1)
    x, y = rng.random((24, 6, 6, 1), dtype=np.float32), rng.integers(0, 3, 24)
    start = _resume_model(kind)
    initial = start.get_weights()

    def compiled(model):
        model.compile(optimizer=OPTIMIZERS[opt](), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    straight = compiled(_resume_model(kind))
    straight.set_weights(initial)
    straight.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)

    first = compiled(start)
    first.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    path = str(tmp_path / f"model{ext}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the .h5 "legacy format" warning
        saving.save_model(first, path)
    resumed = saving.load_model(path)
    assert int(resumed.optimizer.iterations.numpy()) == 3
    assert type(resumed.optimizer).__name__ == type(first.optimizer).__name__
    resumed.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert int(resumed.optimizer.iterations.numpy()) == int(straight.optimizer.iterations.numpy()) == 6
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)

    # without the optimizer's state the second epoch differs: the check above has teeth
    fresh = saving.load_model(path, compile=False)
    compiled(fresh).fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert any(not np.allclose(a, b, atol=1e-6) for a, b in zip(fresh.get_weights(), straight.get_weights()))


def test_save_weights_load_weights_restores_optimizer_state(tmp_path):
    rng = np.random.default_rng(2)
    x, y = rng.random((16, 6, 6, 1), dtype=np.float32), rng.integers(0, 3, 16)
    model = _resume_model("functional")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, verbose=0)
    saving.save_weights(model, str(tmp_path / "m.weights.h5"))
    other = _resume_model("functional")
    other.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    saving.load_weights(other, str(tmp_path / "m.weights.h5"))
    assert int(other.optimizer.iterations.numpy()) == 2
    for a, b in zip(weights_h5.optimizer_variables(model.optimizer, model),
                    weights_h5.optimizer_variables(other.optimizer, other)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_unzipped_keras_folder_round_trip(tmp_path):
    model = _resume_model("sequential")
    model.compile("adam", "sparse_categorical_crossentropy")
    folder = str(tmp_path / "saved_model")
    saving.save_model(model, folder, zipped=False)
    assert sorted(os.listdir(folder)) == ["config.json", "metadata.json", "model.weights.h5"]
    saving.save_model(model, folder, zipped=False)  # overwrite replaces the folder
    loaded = saving.load_model(folder)
    x = np.random.default_rng(0).random((2, 6, 6, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="zipped=False"):
        saving.save_model(model, str(tmp_path / "x.keras"), zipped=False)


def test_load_model_from_a_file_object(ref):
    with open(fixture("seq_cnn.keras"), "rb") as f:
        model = saving.load_model(io.BytesIO(f.read()))
    np.testing.assert_allclose(model.predict(ref["seq_cnn_x"], verbose=0), ref["seq_cnn_y"], atol=1e-5)


# =========================================================================================
# JSON
# =========================================================================================
def test_model_to_json_and_back():
    rng = np.random.default_rng(0)
    for model, x in ((gf_seq_cnn(), rng.random((2, 8, 8, 1), dtype=np.float32)),
                     (gf_two_branch(), rng.random((2, 6, 6, 2), dtype=np.float32)),
                     (gf_nested_shared(), rng.random((2, 4), dtype=np.float32))):
        text = saving.model_to_json(model)
        assert json.loads(text)["class_name"] in ("Sequential", "Functional")
        clone = saving.model_from_json(text)
        assert type(clone) is type(model) and clone.name == model.name
        assert [type(l).__name__ for l in clone.layers] == [type(l).__name__ for l in model.layers]
        assert saving.model_to_json(clone) == text
        clone.set_weights(model.get_weights())
        ours, theirs = model(x), clone(x)
        for a, b in zip(ours if isinstance(ours, list) else [ours], theirs if isinstance(theirs, list) else [theirs]):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_model_to_json_keeps_compile_settings_and_indent():
    model = _resume_model("sequential")
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.8),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False),
                  metrics=["accuracy", keras.metrics.SparseCategoricalAccuracy()])
    text = saving.model_to_json(model, indent=2)
    assert "\n  " in text
    config = json.loads(text)["compile_config"]
    assert config["optimizer"]["class_name"] == "SGD" and config["optimizer"]["config"]["momentum"] == 0.8
    assert config["loss"]["class_name"] == "SparseCategoricalCrossentropy"
    clone = saving.model_from_json(text)
    assert clone.compiled and isinstance(clone.optimizer, keras.optimizers.SGD)
    assert clone.optimizer.momentum == 0.8 and isinstance(clone.loss, keras.losses.SparseCategoricalCrossentropy)


def test_model_from_json_reads_keras_config_json():
    with zipfile.ZipFile(fixture("seq_cnn.keras")) as z:
        text = z.read("config.json").decode()
    model = saving.model_from_json(text)
    assert model.name == "seed_cnn" and model.count_params() == 40 + 148 + 40 + 27 and model.compiled
    with pytest.raises(ValueError, match="not valid JSON"):
        saving.model_from_json(text[:50])


def test_serialize_and_deserialize_objects():
    init = keras.initializers.RandomNormal(stddev=0.1, seed=3)
    dense = layers.Dense(4, activation="relu", kernel_initializer=init, name="d")
    config = saving.serialize_keras_object(dense)
    assert config["module"] == "keras.layers" and config["class_name"] == "Dense"
    assert config["config"]["kernel_initializer"] == {"module": "keras.initializers", "class_name": "RandomNormal",
                                                      "config": {"mean": 0.0, "stddev": 0.1, "seed": 3},
                                                      "registered_name": None}
    clone = saving.deserialize_keras_object(config)
    assert isinstance(clone, layers.Dense) and clone.units == 4 and clone.kernel_initializer.stddev == 0.1
    adam = saving.deserialize_keras_object(saving.serialize_keras_object(keras.optimizers.Adam(0.02, beta_1=0.8)))
    assert isinstance(adam, keras.optimizers.Adam) and adam.beta_1 == 0.8
    assert saving.serialize_keras_object(keras.losses.mean_squared_error) == {
        "module": "keras.losses", "class_name": "function", "config": "mean_squared_error",
        "registered_name": "mean_squared_error"}
    assert saving.deserialize_keras_object({"module": "builtins", "class_name": "function",
                                            "config": "sparse_categorical_accuracy", "registered_name": "function"}) \
        is keras.metrics.sparse_categorical_accuracy
    arr = saving.deserialize_keras_object(saving.serialize_keras_object(np.arange(3, dtype="int32")))
    assert arr.dtype == np.int32 and list(arr) == [0, 1, 2]
    with pytest.raises(ValueError, match="lambda"):
        saving.serialize_keras_object(lambda x: x)


def test_custom_layers_need_registration_or_custom_objects(tmp_path):
    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = keras.Sequential([keras.Input((3,)), layers.Dense(2), Scale(3.0)])
    path = str(tmp_path / "custom.keras")
    saving.save_model(model, path)
    with pytest.raises(ValueError, match=r"Could not locate class 'Scale'.*custom_objects"):
        saving.load_model(path)
    loaded = saving.load_model(path, custom_objects={"Scale": Scale})
    assert loaded.layers[-1].factor == 3.0
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)

    registered = saving.register_keras_serializable(package="gpuflow_tests")(Scale)
    saving.save_model(keras.Sequential([keras.Input((3,)), registered(1.5)]), path)
    assert zip_json(path)["config"]["layers"][1]["registered_name"] == "gpuflow_tests>Scale"
    assert saving.load_model(path).layers[-1].factor == 1.5


# =========================================================================================
# Legacy .h5
# =========================================================================================
@pytest.mark.parametrize("name,optimizer,iterations", [("seq_cnn", "Adam", 4), ("keras2_seq", "Adam", 2),
                                                       ("keras2_func", "SGD", 2)])
def test_legacy_h5_files_load(ref, name, optimizer, iterations):
    path = fixture(f"{name}.h5" if name != "seq_cnn" else "seq_cnn.h5")
    with h5py.File(path, "r") as f:
        assert {"model_config", "training_config"} <= set(f.attrs) and "model_weights" in f
    model = saving.load_model(path)
    np.testing.assert_allclose(model.predict(ref[f"{name}_x"], verbose=0), ref[f"{name}_y"], atol=1e-5)
    assert model.compiled and type(model.optimizer).__name__ == optimizer
    assert int(model.optimizer.iterations.numpy()) == iterations == int(ref[f"{name}_iterations"])
    if name == "keras2_func":  # Keras 2 names the SGD momentum slot "m": check it reached the right variable
        with h5py.File(path, "r") as f:
            saved = np.asarray(f["optimizer_weights"]["SGD"]["m"]["logits"]["kernel:0"][()])
        kernel = model.get_layer("logits").kernel
        np.testing.assert_array_equal(model.optimizer._slots[id(kernel)]["momentum"].numpy(), saved)
        assert model.optimizer.momentum == pytest.approx(0.9) and model.loss.from_logits


def test_legacy_h5_weights_load_into_a_gpuflow_model(ref):
    model = gf_seq_cnn()
    saving.load_weights(model, fixture("seq_cnn.h5"))
    np.testing.assert_allclose(model.predict(ref["seq_cnn_x"], verbose=0), ref["seq_cnn_y"], atol=1e-5)
    renamed = quiet_load(fixture("seq_cnn.h5"), compile=False)
    renamed.layers[0].kernel.assign(np.zeros((3, 3, 1, 4), "float32"))
    saving.load_weights(renamed, fixture("seq_cnn.h5"), by_name=True)
    np.testing.assert_allclose(renamed.predict(ref["seq_cnn_x"], verbose=0), ref["seq_cnn_y"], atol=1e-5)
    small = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(4, 3), layers.Flatten(), layers.Dense(3)])
    with pytest.raises(ValueError, match="layer count mismatch"):
        saving.load_weights(small, fixture("seq_cnn.h5"))


def test_gpuflow_h5_round_trip(tmp_path):
    model = _resume_model("functional")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    model.fit(rng.random((8, 6, 6, 1), dtype=np.float32), rng.integers(0, 3, 8), verbose=0)
    path = str(tmp_path / "m.h5")
    with pytest.warns(UserWarning, match="legacy"):
        saving.save_model(model, path)
    with h5py.File(path, "r") as f:
        assert json.loads(f.attrs["model_config"])["class_name"] == "Functional"
        names = [n.decode() if isinstance(n, bytes) else n for n in f["model_weights"].attrs["layer_names"]]
        assert names == [l.name for l in weights_h5.keras_layers(model)]
        first = f["optimizer_weights"].attrs["weight_names"][0]
        assert (first.decode() if isinstance(first, bytes) else first).endswith("/iteration")
    loaded = saving.load_model(path)
    x = rng.random((3, 6, 6, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert int(loaded.optimizer.iterations.numpy()) == 1


def test_legacy_h5_splits_long_name_lists_as_keras_does(tmp_path):
    stack = [keras.Input((2,))] + [layers.Activation("linear", name=f"act_{i:03d}_" + "x" * 300) for i in range(250)]
    model = keras.Sequential(stack + [layers.Dense(1, name="out")])
    path = str(tmp_path / "long.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saving.save_model(model, path)
    with h5py.File(path, "r") as f:
        group = f["model_weights"]
        assert "layer_names" not in group.attrs and "layer_names0" in group.attrs and "layer_names1" in group.attrs
    loaded = quiet_load(path)
    assert len(loaded.layers) == 251 and loaded.layers[-2].name.startswith("act_249_")
    np.testing.assert_array_equal(loaded.layers[-1].kernel.numpy(), model.layers[-1].kernel.numpy())


# =========================================================================================
# Safety: nothing runs from a file; unknown classes and Lambda layers are refused
# =========================================================================================
def _write_keras_zip(path, config, weights_from=None, drop=(), metadata=b'{"keras_version": "3.15.1"}'):
    members = {"metadata.json": metadata, "config.json": json.dumps(config).encode()}
    if weights_from is not None:
        members["model.weights.h5"] = zipfile.ZipFile(weights_from).read("model.weights.h5")
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            if name not in drop:
                z.writestr(name, data)
    return str(path)


def test_unknown_layer_class_is_a_clear_error(tmp_path):
    config = zip_json(fixture("seq_cnn.keras"))
    config["config"]["layers"][2]["class_name"] = "FancyConv2D"
    path = _write_keras_zip(tmp_path / "unknown.keras", config, fixture("seq_cnn.keras"))
    with pytest.raises(ValueError) as e:
        saving.load_model(path)
    assert "FancyConv2D" in str(e.value) and "unknown.keras" in str(e.value)
    assert "register_keras_serializable" in str(e.value)


def test_modules_named_in_a_file_are_never_imported(tmp_path, monkeypatch):
    (tmp_path / "gpuflow_evil_module.py").write_text("import sys\nsys.modules['gpuflow_evil_ran'] = True\n"
                                                   "class Boom:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = zip_json(fixture("seq_cnn.keras"))
    config["config"]["layers"][2].update(module="gpuflow_evil_module", class_name="Boom")
    path = _write_keras_zip(tmp_path / "evil.keras", config, fixture("seq_cnn.keras"))
    with pytest.raises(ValueError, match="Could not locate class 'Boom'"):
        saving.load_model(path)
    assert "gpuflow_evil_module" not in sys.modules and "gpuflow_evil_ran" not in sys.modules


def test_lambda_layers_and_serialized_lambdas_are_refused(tmp_path, monkeypatch):
    import marshal
    monkeypatch.setattr(marshal, "loads", lambda *a: pytest.fail("bytecode from a file was unmarshalled"))
    config = zip_json(fixture("seq_cnn.keras"))
    config["config"]["layers"][4] = {
        "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
        "config": {"name": "lambda", "trainable": True, "dtype": "float32",
                   "function": {"class_name": "__lambda__", "config": {"value": ["4wEAAAAAAAAA", None, None]}},
                   "arguments": {}}}
    path = _write_keras_zip(tmp_path / "lambda.keras", config, fixture("seq_cnn.keras"))
    with pytest.raises(ValueError) as e:
        saving.load_model(path)
    assert "Lambda" in str(e.value) and "lambda.keras" in str(e.value) and "safe_mode" in str(e.value)
    with pytest.raises(ValueError, match="never runs code"):
        saving.load_model(path, safe_mode=False)
    config = zip_json(fixture("seq_cnn.keras"))
    config["compile_config"]["loss"] = {"class_name": "__lambda__", "config": {"value": ["4wEAAAAAAAAA"]}}
    path = _write_keras_zip(tmp_path / "lambda_loss.keras", config, fixture("seq_cnn.keras"))
    with pytest.raises(saving.UnsafeDeserializationError, match="lambda"):
        saving.load_model(path)


def test_hdf5_links_are_refused(tmp_path):
    model = _resume_model("sequential")
    path = str(tmp_path / "m.weights.h5")
    saving.save_weights(model, path)
    with h5py.File(path, "a") as f:
        del f["layers/dense/vars"]
        f["layers/dense/vars"] = h5py.SoftLink("/layers/conv2d/vars")
    with pytest.raises(ValueError, match="SoftLink"):
        saving.load_weights(model, path)


# =========================================================================================
# Atomic writes
# =========================================================================================
def _dir_listing(folder):
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("target,module,patch", [("model.keras", keras_zip, "weights_bytes"),
                                                 ("model.weights.h5", weights_h5, "write"),
                                                 ("model.h5", legacy_h5, "_write_weights")])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch, target, module, patch, error):
    model = _resume_model("sequential")
    model.compile("adam", "sparse_categorical_crossentropy")
    path = str(tmp_path / target)
    save = saving.save_weights if target.endswith(".weights.h5") else saving.save_model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save(model, path)
    before = open(path, "rb").read()
    listing = _dir_listing(tmp_path)
    real = getattr(module, patch)

    def half_then_fail(*args, **kwargs):
        if patch != "weights_bytes":
            real(*args, **kwargs)  # the temporary file gets real content, then the save dies
        raise error("disk full (simulated)")
    monkeypatch.setattr(module, patch, half_then_fail)
    model.layers[-1].kernel.assign(np.zeros(model.layers[-1].kernel.shape, "float32"))
    with pytest.raises(error), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save(model, path)
    assert open(path, "rb").read() == before
    assert _dir_listing(tmp_path) == listing  # no temporary files left behind


def test_overwrite_false_and_extensions(tmp_path):
    model = _resume_model("sequential")
    path = str(tmp_path / "m.keras")
    saving.save_model(model, path)
    with pytest.raises(FileExistsError, match="overwrite=False"):
        saving.save_model(model, path, overwrite=False)
    with pytest.raises(ValueError, match="`.keras` extension"):
        saving.save_model(model, str(tmp_path / "m.model"))
    with pytest.raises(ValueError, match=".weights.h5"):
        saving.save_weights(model, str(tmp_path / "m.h5"))
    with pytest.raises(ValueError, match="not supported"):
        saving.save_model(model, path, bogus=1)
    saving.save_model(model, str(tmp_path / "new" / "folder" / "m.keras"))  # missing folders are created
    assert os.path.exists(tmp_path / "new" / "folder" / "m.keras")


# =========================================================================================
# Corrupt and truncated files
# =========================================================================================
@pytest.fixture
def saved(tmp_path):
    model = _resume_model("sequential")
    model.compile("adam", "sparse_categorical_crossentropy")
    path = str(tmp_path / "good.keras")
    saving.save_model(model, path)
    return path


def test_truncated_keras_file(saved, tmp_path):
    data = open(saved, "rb").read()
    for n, cut in enumerate((len(data) // 2, 100, 0)):
        bad = tmp_path / f"truncated{n}.keras"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError) as e:
            saving.load_model(str(bad))
        assert f"truncated{n}.keras" in str(e.value) and ("zip" in str(e.value) or "truncated" in str(e.value))


def test_missing_member_and_bad_json(saved, tmp_path):
    config = zip_json(saved)
    path = _write_keras_zip(tmp_path / "noweights.keras", config)
    with pytest.raises(ValueError, match=r"noweights.keras.*'model.weights.h5' is missing"):
        saving.load_model(path)
    path = _write_keras_zip(tmp_path / "noconfig.keras", config, saved, drop=("config.json",))
    with pytest.raises(ValueError, match=r"noconfig.keras.*'config.json' is missing"):
        saving.load_model(path)
    with zipfile.ZipFile(tmp_path / "badjson.keras", "w") as z:
        z.writestr("config.json", b'{"module": "keras", "class_name": ')
        z.writestr("model.weights.h5", zipfile.ZipFile(saved).read("model.weights.h5"))
    with pytest.raises(ValueError, match=r"badjson.keras: config.json is not valid JSON"):
        saving.load_model(str(tmp_path / "badjson.keras"))


def test_corrupt_weights_member(saved, tmp_path):
    config = zip_json(saved)
    with zipfile.ZipFile(tmp_path / "garbage.keras", "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)
    with pytest.raises(ValueError, match=r"garbage.keras.*not a readable HDF5"):
        saving.load_model(str(tmp_path / "garbage.keras"))
    data = bytearray(open(saved, "rb").read())
    start = data.find(b"\x89HDF")
    data[start + 3000:start + 3100] = b"\xff" * 100  # damage the stored weights: the zip's CRC no longer matches
    (tmp_path / "crc.keras").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"crc.keras.*model.weights.h5.*(corrupt|truncated)"):
        saving.load_model(str(tmp_path / "crc.keras"))


def test_weights_of_the_wrong_shape(saved, tmp_path):
    config = zip_json(saved)
    config["config"]["layers"][-1]["config"]["units"] = 5
    path = _write_keras_zip(tmp_path / "shapes.keras", config, saved)
    with pytest.raises(ValueError) as e:
        saving.load_model(path)
    msg = str(e.value)
    assert "shapes.keras" in msg and "dense" in msg and "(8, 5)" in msg and "(8, 3)" in msg


def test_missing_files_and_unknown_formats(tmp_path):
    for error in (FileNotFoundError, ValueError):  # Keras 3 raises ValueError for a missing .keras file
        with pytest.raises(error, match="no such file"):
            saving.load_model(str(tmp_path / "nothing.keras"))
        with pytest.raises(error, match="no such file"):
            saving.load_weights(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
                                str(tmp_path / "nothing.weights.h5"))
    (tmp_path / "model.pkl").write_bytes(b"\x80\x04")
    with pytest.raises(ValueError, match="File format not supported"):
        saving.load_model(str(tmp_path / "model.pkl"))
    (tmp_path / "weights_only.h5").write_bytes(b"")
    with h5py.File(tmp_path / "weights_only.h5", "w") as f:
        f.attrs["layer_names"] = []
    with pytest.raises(ValueError, match="No model config"):
        saving.load_model(str(tmp_path / "weights_only.h5"))


def test_old_gpuflow_weight_files_with_layer_name_paths_still_load(tmp_path):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, name="first"), layers.Dense(1, name="second")])
    path = str(tmp_path / "old.weights.h5")
    with h5py.File(path, "w") as f:  # the layout gpuflow 0.1 wrote: sub-layers under their own names
        f.create_group("vars").attrs["name"] = model.name
        for layer, fill in zip(model.layers, (1.0, 2.0)):
            g = f.create_group(f"layers/{layer.name}/vars")
            g.attrs["name"] = layer.name
            for i, w in enumerate(layer.weights):
                g.create_dataset(str(i), data=np.full(w.shape, fill, "float32"))
    saving.load_weights(model, path)
    assert np.all(model.layers[0].kernel.numpy() == 1.0) and np.all(model.layers[1].bias.numpy() == 2.0)


# -- what layers and optimizers declare: Keras 3's save_own_variables / load_own_variables, the slot order --------
class WithTable(layers.Layer):
    """A layer that also saves a NumPy array it keeps outside any variable (its own save/load_own_variables)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.table = np.zeros(3, "float32")

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 2), name="kernel")

    def call(self, x):
        return tf.matmul(x, self.kernel)

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["1"] = self.table

    def load_own_variables(self, store):
        self.table = np.array(store["1"])
        super().load_own_variables({"0": store["0"]})


@pytest.mark.parametrize("ext", [".weights.h5", ".keras"])
def test_saving_goes_through_each_layers_save_and_load_own_variables(tmp_path, ext):
    def model():
        return keras.Sequential([keras.Input((4,)), WithTable(name="with_table")])
    original = model()
    original.layers[0].table = np.array([1.0, 2.0, 3.0], "float32")
    path = str(tmp_path / f"m{ext}")
    if ext == ".keras":
        original.save(path)
        loaded = saving.load_model(path, custom_objects={"WithTable": WithTable})
    else:
        original.save_weights(path)
        loaded = model()
        loaded.load_weights(path)
    with h5py.File(path if ext != ".keras" else io.BytesIO(zipfile.ZipFile(path).read("model.weights.h5")), "r") as f:
        assert sorted(f["layers/with_table/vars"]) == ["0", "1"]  # the layer's own store, as Keras writes it
    np.testing.assert_array_equal(loaded.layers[0].table, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(loaded.layers[0].kernel.numpy(), original.layers[0].kernel.numpy())


def test_load_own_variables_refuses_another_count_as_keras():
    dense = layers.Dense(2)
    dense.build((None, 3))
    store = {}
    dense.save_own_variables(store)
    assert list(store) == ["0", "1"] and store["0"] is dense.kernel and store["1"] is dense.bias
    with pytest.raises(ValueError, match=r"Layer 'dense\w*' expected 2 variables, but received 1 variables during "
                                         r"loading. Expected: \['kernel', 'bias'\]"):
        dense.load_own_variables({"0": np.zeros((3, 2), "float32")})
    with pytest.raises(ValueError, match="was never built"):
        layers.Dense(2).load_own_variables({"0": np.zeros((3, 2), "float32")})


@pytest.mark.parametrize("make, groups, order", [
    (lambda: keras.optimizers.Adam(amsgrad=True), (("momentum", "velocity"), ("velocity_hat",)),
     ["a_momentum", "a_velocity", "b_momentum", "b_velocity", "a_velocity_hat", "b_velocity_hat"]),
    (lambda: keras.optimizers.RMSprop(momentum=0.5, centered=True), (("velocity",), ("momentum",),
                                                                     ("average_gradient",)),
     ["a_velocity", "b_velocity", "a_momentum", "b_momentum", "a_average_gradient", "b_average_gradient"]),
    (lambda: keras.optimizers.SGD(), (), []),
])
def test_optimizers_declare_their_slots_as_keras_3_creates_them(make, groups, order):
    a, b = tf.Variable(np.ones(2, "float32"), name="a"), tf.Variable(np.ones(3, "float32"), name="b")
    opt = make()
    opt.build([b, a])  # built in another order than the model's: the file follows the model's
    assert opt.slot_groups == groups
    assert [v.name for v in opt.saved_variables([a, b])] == ["iteration", "learning_rate"] + order
    assert [v.name for v in opt.saved_variables([a, b], include_slots=False)] == ["iteration", "learning_rate"]
    if order:
        assert opt.get_slot(a, order[0][2:]) is opt.saved_variables([a, b])[2]
