"""The ``.weights.h5`` layout: where each layer's and the optimizer's variables sit in the HDF5 file.

Follows Keras 3's ``keras/src/saving/saving_lib.py`` (``save_weights_only``, ``_walk_saveable``, ``H5IOStore``):
one HDF5 group per saveable object, found by walking the model as Keras does. An object's own variables are the
datasets ``<path>/vars/0``, ``1``, ... and ``<path>/vars`` carries the attribute ``name`` (the object's name).
A layer's own variables are what its :meth:`~gpuflow.keras.layers.Layer.save_own_variables` puts in the store
(trainable ones first, each in creation order), and loading hands them back through its
``load_own_variables``. Children sit under the attribute that holds them: a Sequential's or functional model's
layers under ``layers/<class name in snake_case>`` (``dense``, ``dense_1``, ... numbered per class in the order
Keras lists the layers; **not** the layer's own name), a subclassed model's layer attributes under the
attribute's name, the optimizer under ``optimizer`` with the variables its
:meth:`~gpuflow.keras.optimizers.Optimizer.saved_variables` declares (``iteration``, ``learning_rate``, then the
slots). The same layout is the ``model.weights.h5`` member of a ``.keras`` archive.

Hostile files: HDF5 soft/external links, external and virtual datasets are refused; every dataset's dtype,
shape and chunk size is checked against what it fills before its data is read; weights load all or nothing.
"""
from __future__ import annotations

import functools
import io
import warnings

import numpy as np

from ...tensor import Variable
from ..layers.base import Layer, to_snake_case
from ..layers.core import InputLayer
from ..models import Functional, Model, Sequential, map_graph
from ..optimizers import Optimizer


def h5py():
    """The h5py module, imported on first use so that ``import gpuflow.keras`` neither pays for it nor fails with a
    broken h5py install (only saving does, with this message).

    Raises:
        ImportError: h5py cannot be imported, with the command that reinstalls it.
    """
    try:
        import h5py as module
    except ImportError as e:  # a dependency of gpuflow, so a broken or partial install
        raise ImportError("Saving and loading Keras files (.keras, .weights.h5, .h5) needs h5py, a dependency of "
                          f"gpuflow that could not be imported ({e}). Reinstall it: pip install 'h5py>=3.8'") from e
    return module


def join(path, name):
    """``path/name``, or ``name`` at the root."""
    return f"{path}/{name}" if path else name


# -- the model's layers and variables in Keras's order ---------------------------------------------------------
def keras_layers(model):
    """``model.layers`` in Keras 3's order (a functional model's by :func:`~gpuflow.keras.models.map_graph`)."""
    if isinstance(model, Functional):
        return map_graph(model)[0]
    return list(model.layers)


def own_variables(layer):
    """The Variables among what ``layer.save_own_variables`` stores, in its order."""
    store = {}
    layer.save_own_variables(store)
    return [v for v in store.values() if isinstance(v, Variable)]


def _keras_sublayers(layer):
    if isinstance(layer, (Functional, Sequential)):
        return keras_layers(layer)
    return layer.layers


def keras_variables(layer, seen=None):
    """``layer.weights`` in Keras's order (own variables, then each sub-layer's, depth-first)."""
    seen = set() if seen is None else seen
    out = []
    for v in own_variables(layer):
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    for sub in _keras_sublayers(layer):
        out.extend(keras_variables(sub, seen))
    return out


def keras_trainable_variables(model):
    """``model.trainable_variables`` in Keras's order: the list Keras builds the optimizer on."""
    if not model.trainable:
        return []
    return [v for v in keras_variables(model) if v.trainable]


def optimizer_variables(opt, model):
    """The optimizer's variables as Keras 3 stores them for ``model`` (see ``Optimizer.saved_variables``)."""
    return opt.saved_variables(keras_trainable_variables(model))


# -- walking the model as Keras's _walk_saveable does -------------------------------------------------------------
def _name_key(name):
    return f"~{name}" if name.startswith("_") else name


@functools.lru_cache(maxsize=None)
def _reference_attrs():
    """Attribute names of bare gpuflow objects, which Keras's walk skips (its ``get_attr_skipset``)."""
    base = frozenset(dir(Layer(name="__gpuflow_saving_ref_layer__")))
    model = Model(name="__gpuflow_saving_ref_model__")
    model_attrs = frozenset(dir(model)) - base - {"optimizer"}
    seq = frozenset(dir(Sequential(name="__gpuflow_saving_ref_seq__"))) - frozenset(dir(model))
    t = InputLayer(shape=(1,), name="__gpuflow_saving_ref_input__").output
    fn = frozenset(dir(Functional(t, t, name="__gpuflow_saving_ref_fn__"))) - frozenset(dir(model))
    return base, model_attrs, seq, fn


def _children(obj):
    """``(attribute, value)`` pairs in Keras's walk order; Sequential/functional layers come first."""
    base, model_attrs, seq_attrs, fn_attrs = _reference_attrs()
    graph = isinstance(obj, (Sequential, Functional))
    if graph:
        yield "layers", keras_layers(obj)
    skip = set(base)
    if isinstance(obj, Model):
        skip |= model_attrs
        if isinstance(obj, Sequential):
            skip |= seq_attrs
        if isinstance(obj, Functional):
            skip |= fn_attrs
        if not graph:  # Keras walks a subclassed model's `layers` (its obj_type is "Layer")
            skip.discard("layers")
    for attr in sorted(dir(obj), key=_name_key):
        if attr.startswith("__") or attr in skip:
            continue
        try:
            value = getattr(obj, attr)
        except Exception:
            continue
        yield attr, value


def _container_items(container):
    return list(container.values()) if isinstance(container, dict) else list(container)


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _walk(obj, path, visit, visited, seen_containers=None):
    """Calls ``visit(obj, path)`` for every layer and optimizer reachable from ``obj``, each once, at the path
    Keras gives it; containers (lists, tuples, dicts) name their items ``<class name in snake_case>[_<n>]``."""
    if isinstance(obj, (Layer, Optimizer)):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        visit(obj, path)
        if isinstance(obj, Optimizer):
            inner = getattr(obj, "inner_optimizer", None)  # Keras 3's LossScaleOptimizer tracks the one it wraps
            if isinstance(inner, Optimizer):
                _walk(inner, join(path, "inner_optimizer"), visit, visited)
            return
        for attr, child in _children(obj):
            if isinstance(child, (Layer, Optimizer, list, tuple, dict)):
                _walk(child, join(path, attr), visit, visited, set())
        return
    if id(obj) in seen_containers:
        return
    seen_containers.add(id(obj))
    used = {}
    for item in _container_items(obj):
        if isinstance(item, (Layer, Optimizer)):
            _walk(item, join(path, _unique(to_snake_case(type(item).__name__), used)), visit, visited)
        elif isinstance(item, (list, tuple, dict)):
            _walk(item, join(path, _unique("container", used)), visit, visited, seen_containers)


def walk(model, visit):
    """Calls ``visit(obj, path)`` for every layer and optimizer of ``model`` at the path Keras gives it (the
    ``.keras`` archive's assets use the same paths)."""
    _walk(model, "", visit, set())


# -- writing ---------------------------------------------------------------------------------------------------
class _VarsGroup:
    """``<path>/vars`` as the dict-like store ``save_own_variables`` writes into (Keras's ``H5Entry``)."""

    def __init__(self, h5file, path, name):
        self.group = h5file.create_group(join(path, "vars"))
        self.group.attrs["name"] = name

    def __setitem__(self, key, value):
        self.group.create_dataset(key, data=np.asarray(value.numpy() if hasattr(value, "numpy") else value))


def write(model, h5file):
    """Writes the model's and its optimizer's variables into the open HDF5 file ``h5file``."""
    def visit(obj, path):
        store = _VarsGroup(h5file, path, obj.name)
        if isinstance(obj, Layer):
            obj.save_own_variables(store)
        else:
            for i, v in enumerate(optimizer_variables(obj, model)):
                store[str(i)] = v
    _walk(model, "", visit, set())


# -- reading: links and datasets refused before any data is read ---------------------------------------------
def safe_child(group, name, want_group, source=None):
    """``group[name]`` after refusing soft/external links, external and virtual datasets (as Keras).

    Returns:
        The HDF5 group or dataset, or None when ``group`` has no ``name``.

    Raises:
        ValueError: one of those, or a dataset where a group belongs (or the reverse); the message starts with
            ``source`` when given.
    """
    h5 = h5py()
    where = f"{source}: " if source else ""
    link = group.get(name, default=None, getlink=True)
    if link is None:
        return None
    if isinstance(link, (h5.SoftLink, h5.ExternalLink)):
        raise ValueError(f"{where}refusing an HDF5 {type(link).__name__} at '{join(group.name, name)}'")
    obj = group[name]
    if want_group and not isinstance(obj, h5.Group):
        raise ValueError(f"{where}expected an HDF5 group at '{obj.name}', found {type(obj).__name__}")
    if not want_group:
        if not isinstance(obj, h5.Dataset):
            raise ValueError(f"{where}expected an HDF5 dataset at '{obj.name}', found {type(obj).__name__}")
        if obj.external or obj.is_virtual:
            raise ValueError(f"{where}refusing an external or virtual HDF5 dataset at '{obj.name}'")
    return obj


def group_at(root, path, source=None):
    """The group at ``path`` (``a/b/c``) under ``root`` through :func:`safe_child`, or None if absent."""
    h5 = h5py()
    g = root
    for part in [p for p in path.split("/") if p]:
        if not isinstance(g, h5.Group):
            return None
        g = safe_child(g, part, True, source)
        if g is None:
            return None
    return g


def open_h5(data_or_path, source, what="HDF5 weights file"):
    """The HDF5 file at a path, or in ``bytes``, open for reading.

    Raises:
        ValueError: it is not a readable HDF5 file (naming ``source``).
    """
    try:
        return h5py().File(io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path, "r")
    except OSError as e:
        raise ValueError(f"{source} is not a readable {what}; it may be truncated or corrupt ({e}).") from None


def _vars_group(h5file, path, name=None):
    group = group_at(h5file, path)
    vars_group = safe_child(group, "vars", True) if group is not None else None
    if vars_group is None and name is not None and path:
        # files written by gpuflow <= 0.1 put sub-layers under their own name, not Keras's class-based name
        parent = group_at(h5file, path.rsplit("/", 1)[0] if "/" in path else "")
        alt = group_at(parent, name) if parent is not None else None
        if alt is not None and "vars" in alt and alt["vars"].attrs.get("name") == name:
            vars_group = safe_child(alt, "vars", True)
    return vars_group


def _datasets(vars_group, names=None):
    """The datasets ``0``, ``1``, ... under ``vars_group`` (headers only: no data is read), or those of ``names``
    in that order when the group holds exactly them (a layer whose ``save_own_variables`` names its state, as
    Keras's tf_idf lookup layers' ``idf_weights``)."""
    if names and sorted(vars_group.keys()) == sorted(names) and names != [str(i) for i in range(len(names))]:
        return [safe_child(vars_group, k, False) for k in names]
    keys = sorted(vars_group.keys(), key=lambda k: (len(k), k))
    if keys != [str(i) for i in range(len(keys))]:
        raise ValueError(f"the variables under '{vars_group.name}' are not numbered 0..{len(keys) - 1}: {keys}")
    return [safe_child(vars_group, k, False) for k in keys]


# HDF5 decompresses a chunked dataset one whole chunk at a time, and a resizable dataset's chunk may be far larger
# than its shape: a (3, 4) dataset stored in one compressed 1 GiB chunk takes 1 MB on disk and 1 GiB to read. A
# dataset's chunks may hold at most its own size, or this many bytes when that is larger (h5py's automatic
# chunks stay under 1 MiB; Keras writes contiguous datasets, without chunks).
_CHUNK_LIMIT = 1 << 20


def _label(value):
    """How errors name what a dataset fills: a variable's path (``dense/kernel``), else its name."""
    return getattr(value, "path", None) or getattr(value, "name", None) or type(value).__name__


def _check_dataset(value, ds, owner):
    """Checks the header of the dataset ``ds`` against the variable (or array) it fills, before any of its data
    is read.

    Raises:
        ValueError: a dtype that is not a number, a shape other than the variable's (naming both and the
            dataset's path in the file), or chunks larger than the dataset (see ``_CHUNK_LIMIT``).
    """
    path = _label(value)
    if ds.dtype.kind not in "biuf":
        raise ValueError(f"{owner}: the dataset '{ds.name}' for '{path}' does not hold numbers. "
                         f"Expected: dtype={value.dtype.name}. Received: dtype={ds.dtype}")
    shape = tuple(ds.shape) if ds.shape is not None else None
    if shape != tuple(value.shape):
        raise ValueError(f"{owner}: shape mismatch for '{path}' at '{ds.name}'. Expected: {tuple(value.shape)}. "
                         f"Received: {shape}")
    if ds.chunks is not None:
        limit = max(int(np.prod(shape)) * ds.dtype.itemsize, _CHUNK_LIMIT)
        chunk = int(np.prod(ds.chunks)) * ds.dtype.itemsize
        if chunk > limit:
            raise ValueError(f"{owner}: the dataset '{ds.name}' for '{path}' is stored in chunks larger than it can "
                             f"legitimately need, which HDF5 would decompress whole to read it. Expected: chunks of "
                             f"at most {limit} bytes. Received: chunks={ds.chunks} ({chunk} bytes). The file is "
                             "corrupt or crafted to exhaust memory.")


def _read_dataset(ds, source):
    try:
        return np.asarray(ds[()])
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"{source}: the dataset '{ds.name}' cannot be read; the file is truncated or corrupt "
                         f"({type(e).__name__}: {e}).") from None


def match(values, datasets, where, owner):
    """``[(value, dataset)]`` after checking the count and every dataset's header (no data is read).

    Raises:
        ValueError: another count, or a dataset that does not fit (see ``_check_dataset``), naming ``owner``.
    """
    if len(datasets) != len(values):
        raise ValueError(f"{owner} expects {len(values)} variables but the file has {len(datasets)} at '{where}'. "
                         f"Expected: {[_label(v) for v in values]}")
    for value, ds in zip(values, datasets):
        _check_dataset(value, ds, owner)
    return list(zip(values, datasets))


class LoadPlan:
    """What a weights file fills, checked but not read yet: steps ``(pairs, load)``, where ``load`` takes the
    values of the ``[(expected, dataset)]`` pairs, in order; and the errors found."""

    def __init__(self):
        self.steps, self.errors = [], []

    def assign(self, pairs):
        """Adds ``[(variable, dataset)]`` pairs whose values are assigned to their variables."""
        self.steps.append((pairs, lambda values: [var.assign(v) for (var, _), v in zip(pairs, values)]))

    def load_own(self, layer, keys, pairs):
        """Adds a layer's pairs, under the ``keys`` of its ``save_own_variables``: its ``load_own_variables``
        gets the values."""
        self.steps.append((pairs, lambda values: layer.load_own_variables(dict(zip(keys, values)))))

    def apply(self, source):
        """Reads every dataset, then hands the values over: loading is all or nothing, so a file that fails to
        read (ValueError naming the dataset) leaves every variable as it was."""
        values = [[_read_dataset(ds, source) for _, ds in pairs] for pairs, _ in self.steps]
        for (_, load), step_values in zip(self.steps, values):
            load(step_values)


def read_and_assign(pairs, source):
    """Reads the datasets of ``[(variable, dataset)]``, then assigns them all (see ``LoadPlan.apply``)."""
    plan = LoadPlan()
    plan.assign(pairs)
    plan.apply(source)


def raise_or_warn(errors, what, source, skip_mismatch):
    """Raises (or, with ``skip_mismatch``, warns about) the errors a load plan found, naming ``source``."""
    if not errors:
        return
    msg = f"{len(errors)} {what} could not be loaded from {source}:\n  " + "\n  ".join(errors)
    if not skip_mismatch:
        raise ValueError(msg + "\nNo variable was changed.")
    warnings.warn(msg + "\nThey keep their current values (skip_mismatch=True).", stacklevel=4)


def _plan_layer(layer, h5file, path, plan):
    owner = f"Layer '{layer.name}'"
    expected = {}
    layer.save_own_variables(expected)
    try:
        group = _vars_group(h5file, path, layer.name)
        datasets = _datasets(group, list(expected)) if group is not None else []
    except ValueError as e:  # a link, or a dataset where a group belongs
        plan.errors.append(f"{owner}: {e}")
        return
    try:
        pairs = match(list(expected.values()), datasets, f"/{join(path, 'vars')}", owner)
    except ValueError as e:
        plan.errors.append(str(e))
        return
    if pairs:
        plan.load_own(layer, list(expected), pairs)


def _plan_optimizer(opt, h5file, path, model, source, plan):
    """The optimizer's pairs; none, with Keras's warning, when its saved state does not fit."""
    try:
        group = _vars_group(h5file, path)
        values = _datasets(group) if group is not None else []
    except ValueError as e:
        return skip_optimizer(opt, source, e)
    if not values:
        return
    if not opt.built and len(values) > 2:
        opt.build(model.trainable_variables)
    variables = optimizer_variables(opt, model)
    head = opt.saved_variables([], include_slots=False)
    if len(values) == len(head) and len(variables) > len(head):  # saved before the first step: no slots yet
        variables = head
    try:
        plan.assign(match(variables, values, f"/{join(path, 'vars')}", f"Optimizer '{opt.name}'"))
    except ValueError as e:
        skip_optimizer(opt, source, e)


def skip_optimizer(opt, source, error):
    """Keras's warning when an optimizer's saved state does not fit: it starts fresh."""
    warnings.warn(f"Skipping variable loading for optimizer '{opt.name}' from {source}: {error}. The optimizer "
                  "starts fresh.", stacklevel=5)


def load(model, h5file, source, skip_mismatch=False):
    """Loads the model's and its optimizer's variables from the open HDF5 file ``h5file``, all or nothing.

    Raises:
        ValueError: a layer's datasets do not fit (count, dtype, shape, chunks; naming the layer and the path
            in ``source``), unless ``skip_mismatch`` (then a warning); a dataset that cannot be read.
    """
    plan = LoadPlan()

    def visit(obj, path):
        if isinstance(obj, Layer):
            _plan_layer(obj, h5file, path, plan)
        else:
            _plan_optimizer(obj, h5file, path, model, source, plan)
    _walk(model, "", visit, set())
    raise_or_warn(plan.errors, "object(s)", source, skip_mismatch)
    plan.apply(source)
