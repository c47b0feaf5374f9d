"""Weight files in Keras 3's ``.weights.h5`` layout (through h5py, an optional dependency).

Layout, as written by Keras 3.15 (checked against a file it saved): each
layer's own variables under ``<path>/vars/<i>`` in creation order, sub-layers
under ``<path>/layers/<layer name>/``, the model's own variables under
``/vars``, and the optimizer's under ``/optimizer/vars/<i>``. Writes are
atomic: a temporary file in the same folder, then a rename, so a failed save
leaves the previous file intact. Nothing in the file is ever executed.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

__all__ = ["save_weights", "load_weights"]


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("Saving and loading .weights.h5 files needs h5py: pip install 'gpuflow[h5]' "
                          "(or pip install h5py).") from None
    return h5py


def _check_path(filepath, op):
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError(f"{op}: the filename must end in `.weights.h5`. Received: filepath={filepath}")
    return filepath


def _write_layer(group, layer):
    vars_group = group.create_group("vars")
    vars_group.attrs["name"] = layer.name
    for i, w in enumerate(layer._weights):
        vars_group.create_dataset(str(i), data=np.asarray(w.numpy()))
    if layer._layers:
        layers_group = group.create_group("layers")
        for sub in layer._layers:
            _write_layer(layers_group.create_group(sub.name), sub)


def save_weights(model, filepath, overwrite=True):
    """Writes the model's (and its optimizer's) weights to ``filepath`` (``*.weights.h5``).

    Raises:
        ValueError: wrong extension. FileExistsError: the file exists and ``overwrite`` is False.
    """
    h5py = _h5py()
    filepath = _check_path(filepath, "save_weights")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save_weights: {filepath} exists and overwrite=False.")
    folder = os.path.dirname(os.path.abspath(filepath))
    fd, tmp = tempfile.mkstemp(suffix=".weights.h5.tmp", dir=folder)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            _write_layer(f, model)
            opt = getattr(model, "optimizer", None)
            if opt is not None and opt.built:
                g = f.create_group("optimizer").create_group("vars")
                g.attrs["name"] = opt.name
                for i, v in enumerate(opt.variables):
                    g.create_dataset(str(i), data=np.asarray(v.numpy()))
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _read_layer(group, layer, where):
    vars_group = group.get("vars")
    stored = len(vars_group) if vars_group is not None else 0
    if stored != len(layer._weights):
        raise ValueError(f"load_weights: layer '{layer.name}' expects {len(layer._weights)} variables but the file "
                         f"has {stored} at '{where}/vars'.")
    for i, w in enumerate(layer._weights):
        value = vars_group[str(i)][()]
        if tuple(value.shape) != tuple(w.shape):
            raise ValueError(f"load_weights: shape mismatch for '{w.path}' at '{where}/vars/{i}'. "
                             f"Expected: {tuple(w.shape)}. Received: {value.shape}")
        w.assign(value.astype(w.dtype.as_numpy_dtype))
    for sub in layer._layers:
        sub_group = group.get("layers", {}).get(sub.name) if "layers" in group else None
        if sub_group is None:
            if sub.weights:
                raise ValueError(f"load_weights: the file has no weights for layer '{sub.name}' "
                                 f"(looked for '{where}/layers/{sub.name}').")
            continue
        _read_layer(sub_group, sub, f"{where}/layers/{sub.name}")


def load_weights(model, filepath, skip_mismatch=False):
    """Loads weights saved by :func:`save_weights` or by Keras 3 into a built model.

    Raises:
        FileNotFoundError: no such file. ValueError: not a weights file, or a
        layer/shape mismatch (naming the layer, both shapes and the path in the file).
    """
    h5py = _h5py()
    filepath = _check_path(filepath, "load_weights")
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"load_weights: no such file: {filepath}")
    if not model.built:
        raise ValueError(f"load_weights: model '{model.name}' is not built yet; call it on data or give it an "
                         "Input first, so its weights exist.")
    try:
        f = h5py.File(filepath, "r")
    except OSError as e:
        raise ValueError(f"load_weights: {filepath} is not a readable HDF5 weights file ({e}).") from None
    with f:
        _read_layer(f, model, "")

