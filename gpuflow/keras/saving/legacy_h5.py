"""Keras's legacy HDF5 whole-model format (``.h5``): Keras 2's ``model.save("x.h5")`` and Keras 3's legacy writer.

Follows ``keras/src/legacy/saving/legacy_h5_format.py`` (and ``keras/src/legacy/saving/saving_utils.py``): file
attributes ``model_config`` and ``training_config`` (JSON), a ``model_weights`` group with attributes
``layer_names`` (and per layer ``weight_names``) and datasets named by those weight names, and
``optimizer_weights``. A list too large for one HDF5 attribute is split into ``name0``, ``name1``, ... Both Keras
2 configs (``batch_input_shape``, nodes as ``[[layer, node, tensor, kwargs]]``) and Keras 3's legacy writer are
read; Keras 2's optimizer slots are matched by name (``m``, ``v``, ``vhat``, ``rms``, ``mg``, ...), Keras 3's by
position. Datasets are checked and read as in :mod:`.weights_h5` (links refused, headers checked first, all or
nothing).
"""
from __future__ import annotations

import json
import warnings

import numpy as np

from ... import __version__
from ..models import Model
from . import weights_h5
from .serialization import Ctx, compile_from_config, config_errors, deserialize_top, json_default, json_loads
from .serialization import serialize_keras_object


def _h5_names(group, name, source):
    """A string-list attribute, possibly split into ``name0``, ``name1``... chunks (Keras's large-attribute rule).

    Raises:
        ValueError: the attribute is not a list of names (naming ``source``, the group and the attribute).
    """
    try:
        if name in group.attrs:
            raw = list(group.attrs[name])
        else:
            raw, i = [], 0
            while f"{name}{i}" in group.attrs:
                raw.extend(group.attrs[f"{name}{i}"])
                i += 1
        return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in raw]
    except (TypeError, UnicodeDecodeError) as e:
        raise ValueError(f"{source}: the attribute `{name}` of '{group.name}' must be a list of names "
                         f"({type(e).__name__}: {e}).") from None


def _h5_attr_json(f, key, source):
    value = f.attrs.get(key)
    if value is None:
        return None
    return json_loads(value if isinstance(value, bytes) else str(value), f"{source}: the `{key}` attribute")


def _layer_weights(layer):
    """Keras's ``_legacy_weights``: trainable weights, then non-trainable, in Keras's order."""
    weights = weights_h5.keras_variables(layer)
    return [w for w in weights if w.trainable] + [w for w in weights if not w.trainable]


def _load_weights(model, group, source, by_name=False, skip_mismatch=False):
    """The (variable, dataset) pairs of a legacy weights group, checked (ValueError, or a warning when
    ``skip_mismatch``, for layers that do not fit); nothing is read or assigned yet."""
    saved = []
    for name in _h5_names(group, "layer_names", source):
        g = weights_h5.safe_child(group, name, True, source)
        if g is None:
            raise ValueError(f"{source}: the weights group for layer '{name}' listed in `layer_names` is missing.")
        weight_names = _h5_names(g, "weight_names", source)
        values = []
        for wn in weight_names:
            ds = _dataset_at(g, wn, source)
            if ds is None:
                raise ValueError(f"{source}: weight '{wn}' of layer '{name}' is listed but missing.")
            values.append(ds)
        saved.append((name, values))
    layers = [l for l in weights_h5.keras_layers(model) if _layer_weights(l)]
    found, errors = [], []
    if by_name:
        by = {n: v for n, v in saved}
        pairs = [(l, l.name, by[l.name]) for l in layers if l.name in by]
    else:
        saved = [(n, v) for n, v in saved if v]
        if len(saved) != len(layers):
            raise ValueError(f"{source}: layer count mismatch when loading weights: the model has {len(layers)} layers "
                             f"with weights ({[l.name for l in layers]}), the file has {len(saved)} "
                             f"({[n for n, _ in saved]}).")
        pairs = [(l, n, v) for l, (n, v) in zip(layers, saved)]
    for layer, name, values in pairs:
        try:
            found += weights_h5.match(_layer_weights(layer), values,
                                      f"/{group.name.strip('/')}/{name}".replace("//", "/"),
                                      f"Layer '{layer.name}' (saved as '{name}')")
        except ValueError as e:
            errors.append(str(e))
    weights_h5.raise_or_warn(errors, "layer(s)", source, skip_mismatch)
    return found


def _dataset_at(group, weight_name, source):
    """The dataset a legacy ``weight_names`` entry ("dense/kernel:0", or a bare name) names under ``group``,
    or None if it is missing."""
    parent = weights_h5.group_at(group, weight_name.rsplit("/", 1)[0], source) if "/" in weight_name else group
    return weights_h5.safe_child(parent, weight_name.rsplit("/", 1)[-1], False, source) if parent is not None else None


_SLOT_ALIASES = {"m": "momentum", "momentum": "momentum", "v": "velocity", "velocity": "velocity",
                 "vhat": "velocity_hat", "velocity_hat": "velocity_hat", "rms": "velocity",
                 "mg": "average_gradient", "average_gradient": "average_gradient"}


def _load_optimizer(model, f, source):
    """The (variable, dataset) pairs of ``optimizer_weights``: Keras 3's legacy order by position, Keras 2's by slot
    name; none, with Keras's warning, when the saved state does not fit (the optimizer starts fresh)."""
    opt = model.optimizer
    group = weights_h5.safe_child(f, "optimizer_weights", True, source)
    names = _h5_names(group, "weight_names", source)
    values = []
    for wn in names:
        ds = _dataset_at(group, wn, source)
        if ds is None:
            warnings.warn(f"{source}: optimizer weight '{wn}' is listed but missing; the optimizer starts fresh.")
            return []
        values.append(ds)
    if not opt.built:
        opt.build(model.trainable_variables)
    variables = weights_h5.optimizer_variables(opt, model)
    try:
        if len(names) == len(variables) and len(names) > 1 and names[1].split(":")[0].endswith("learning_rate"):
            # Keras 3's legacy writer: the optimizer's variables in order
            return weights_h5.match(variables, values, f"{source}:/optimizer_weights", f"Optimizer '{opt.name}'")
        targets = weights_h5.keras_trainable_variables(model)
        by_kind, iteration = {}, None
        for wn, value in zip(names, values):
            parts = wn.split(":")[0].split("/")
            last = parts[-1]
            if last in ("iteration", "iter", "iterations"):
                iteration = value
                continue
            kind = parts[1] if len(parts) > 2 and parts[1] in _SLOT_ALIASES else last
            if kind not in _SLOT_ALIASES:
                continue  # hyperparameters some Keras 2 optimizers stored (beta_1, decay, ...)
            by_kind.setdefault(_SLOT_ALIASES[kind], []).append(value)
        pairs = []
        for s in opt.slot_names:
            got = by_kind.get(s, [])
            if len(got) != len(targets):
                raise ValueError(f"slot '{s}': the file has {len(got)} values for {len(targets)} trainable variables")
            pairs.extend((opt.get_slot(v, s), value) for v, value in zip(targets, got))
        if iteration is not None:
            pairs.append((opt.iterations, iteration))
        return weights_h5.match([v for v, _ in pairs], [ds for _, ds in pairs], f"{source}:/optimizer_weights",
                                f"Optimizer '{opt.name}'")
    except (ValueError, KeyError) as e:
        warnings.warn(f"Error in loading the saved optimizer state from {source} ({e}). As a result, your model is "
                      "starting with a freshly initialized optimizer.", stacklevel=3)
        return []


def load(filepath, custom_objects, compile, safe_mode):
    """The model a legacy ``.h5`` file holds, with its weights and (with ``compile``) compile settings and optimizer
    state; see :func:`gpuflow.keras.saving.load_model`."""
    with weights_h5.open_h5(filepath, filepath, "HDF5 model file") as f:
        model_config = _h5_attr_json(f, "model_config", filepath)
        if model_config is None:
            raise ValueError(f"No model config found in the file at {filepath}: it is not a whole-model .h5 file "
                             "(a weights-only .h5 file loads with load_weights()).")
        ctx = Ctx(custom_objects, safe_mode, source=filepath, legacy=True)
        model = deserialize_top(model_config, ctx, compile=False, expected=("models", "layers"))
        if not isinstance(model, Model):
            raise ValueError(f"{filepath}: model_config describes a {type(model).__name__}, not a model.")
        if "model_weights" not in f:
            raise ValueError(f"{filepath}: the `model_weights` group is missing; the file is incomplete.")
        pairs = _load_weights(model, weights_h5.safe_child(f, "model_weights", True, filepath), filepath)
        training_config = _h5_attr_json(f, "training_config", filepath) if compile else None
        if compile and training_config is None:
            warnings.warn(f"No training configuration found in {filepath}, so the model was *not* compiled. "
                          "Compile it manually.", stacklevel=2)
        elif compile:
            with config_errors(ctx):
                compiled = compile_from_config(model, training_config, ctx)
            if compiled and "optimizer_weights" in f:
                pairs += _load_optimizer(model, f, filepath)
        weights_h5.read_and_assign(pairs, filepath)
    return model


def _entries(config):
    """Keras 3's legacy writer: layer entries are ``{"class_name", "config"}`` (plus name/inbound_nodes)."""
    out = dict(config)
    layers = []
    for entry in config.get("layers", []):
        e = {"class_name": entry["class_name"], "config": entry["config"]}
        if entry["class_name"] in ("Sequential", "Functional") and isinstance(entry["config"], dict):
            e["config"] = _entries(entry["config"])
        for key in ("name", "inbound_nodes"):
            if key in entry:
                e[key] = entry[key]
        layers.append(e)
    out["layers"] = layers
    return out


def save(model, path, include_optimizer=True):
    """Writes ``model`` to ``path`` in the legacy ``.h5`` format (config, weights, and unless ``include_optimizer``
    is False the training config and optimizer state)."""
    serialized = serialize_keras_object(model)
    with weights_h5.h5py().File(path, "w") as f:
        f.attrs["backend"] = "gpuflow"
        f.attrs["keras_version"] = __version__
        f.attrs["model_config"] = json.dumps({"class_name": serialized["class_name"],
                                              "config": _entries(serialized["config"])},
                                             default=json_default).encode("utf8")
        compile_config = serialized.get("compile_config")
        if include_optimizer and compile_config:
            training = {k: v for k, v in compile_config.items() if k != "optimizer"}
            opt = compile_config["optimizer"]
            training["optimizer_config"] = {"class_name": opt["class_name"], "config": opt["config"]}
            f.attrs["training_config"] = json.dumps(training, default=json_default).encode("utf8")
        group = f.create_group("model_weights")
        layers = weights_h5.keras_layers(model)
        _h5_save_names(group, "layer_names", [l.name.encode("utf8") for l in layers])
        group.attrs["backend"] = b"gpuflow"
        group.attrs["keras_version"] = __version__.encode("utf8")
        for layer in sorted(layers, key=lambda l: l.name):
            _write_weights(group.create_group(layer.name), _layer_weights(layer), model.name)
        _write_weights(group.create_group("top_level_model_weights"), weights_h5.own_variables(model), model.name)
        opt = getattr(model, "optimizer", None)
        if include_optimizer and opt is not None:
            variables = weights_h5.optimizer_variables(opt, model)
            names = [f"{opt.name}/{v.name}".encode("utf8") for v in variables]
            names = _dedupe(names)
            g = f.create_group("optimizer_weights")
            _h5_save_names(g, "weight_names", names)
            for n, v in zip(names, variables):
                g.create_dataset(n.decode("utf8"), data=np.asarray(v.numpy()))


_HDF5_OBJECT_HEADER_LIMIT = 64512


def _h5_save_names(group, name, names):
    """Keras's ``save_attributes_to_hdf5_group``: a list too big for one HDF5 attribute goes in ``name0``, ``name1``..."""
    if not names:
        group.attrs[name] = np.zeros((0,), dtype="float64")  # what Keras writes for an empty list
        return
    data = np.asarray(names)
    chunks = [data]
    while any(c.nbytes > _HDF5_OBJECT_HEADER_LIMIT for c in chunks):
        if len(chunks) >= len(data):
            raise RuntimeError(f"The attribute `{name}` holds a name longer than {_HDF5_OBJECT_HEADER_LIMIT} bytes, "
                               "which HDF5 cannot store.")
        chunks = np.array_split(data, len(chunks) + 1)
    if len(chunks) == 1:
        group.attrs[name] = names
    else:
        for i, chunk in enumerate(chunks):
            group.attrs[f"{name}{i}"] = chunk


def _dedupe(names):
    out, seen = [], {}
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else n + f"_{k}".encode("utf8"))
    return out


def _write_weights(group, weights, model_name):
    names = _dedupe([f"{model_name}/{getattr(w, 'path', w.name)}".encode("utf8") for w in weights])
    _h5_save_names(group, "weight_names", names)
    for n, w in zip(names, weights):
        group.create_dataset(n.decode("utf8"), data=np.asarray(w.numpy()))


def load_weights(model, filepath, by_name=False, skip_mismatch=False):
    """Loads a legacy ``.h5`` file's weights (whole-model or weights-only) into ``model``, and its optimizer's state
    when ``model`` has an optimizer; layers are matched by position among those with weights, as Keras, or by
    name with ``by_name``.

    Raises:
        ValueError: a corrupt file, or layers that do not fit (unless ``skip_mismatch``, then a warning).
    """
    with weights_h5.open_h5(filepath, filepath, "HDF5 file") as f:
        group = f
        if "layer_names" not in f.attrs and "model_weights" in f:
            group = weights_h5.safe_child(f, "model_weights", True, filepath)
        pairs = _load_weights(model, group, filepath, by_name, skip_mismatch)
        if getattr(model, "optimizer", None) is not None and "optimizer_weights" in f:
            pairs += _load_optimizer(model, f, filepath)
        weights_h5.read_and_assign(pairs, filepath)
