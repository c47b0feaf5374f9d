"""The ``.keras`` archive: Keras 3's native whole-model format, and its ``zipped=False`` folder form.

Follows Keras 3's ``keras/src/saving/saving_lib.py`` (``save_model``/``load_model``): a zip archive with three
members, stored uncompressed:

- ``metadata.json``: ``{"keras_version": ..., "date_saved": "YYYY-MM-DD@HH:MM:SS"}``. gpuflow writes its own
  version there, honestly, and adds ``"framework": "gpuflow"``; Keras never reads this member.
- ``config.json``: the model as :func:`~.serialization.serialize_keras_object` gives it.
- ``model.weights.h5``: the :mod:`.weights_h5` layout, optimizer included;
- ``assets/<layer path>/...``: files a layer's ``save_assets`` writes (an adapted lookup layer's
  ``vocabulary.txt``), given back to its ``load_assets`` after the weights (archives only, not the folder form).

``zipped=False`` writes the same three files in a folder. Writes are atomic (:mod:`.atomic`); a folder save
swaps the new folder in with two renames, and a save killed between them is recovered by the next load or save
(``recover_dir``). Hostile files: each member is read only up to what it can legitimately need (``config.json``
64 MiB; the weights member a few times the model's variables).
"""
from __future__ import annotations

import datetime
import io
import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

from ... import __version__
from ..models import Model
from . import atomic, weights_h5
from .serialization import Ctx, deserialize_top, json_default, json_loads, serialize_keras_object

_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.h5"
_ZIP_MEMBERS = (_METADATA, _CONFIG, _WEIGHTS)
_ASSETS = "assets/"  # the layers' asset files (an adapted StringLookup's vocabulary.txt), Keras's folder
# What a .keras member can legitimately need, so that a small hostile file (a zip member that inflates
# to gigabytes) is refused before it is read: config.json is kilobytes even for large models; the
# weights member holds the model's variables, the optimizer's (a few slots per variable) and HDF5's
# bookkeeping, so it may hold _MEMBER_LIMIT plus _WEIGHT_COPIES times the model's variables.
_MEMBER_LIMIT = 64 << 20
_WEIGHT_COPIES = 8


def _metadata_json():
    return json.dumps({"keras_version": __version__, "framework": "gpuflow",
                       "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})


def _config_json(model):
    return json.dumps(serialize_keras_object(model), default=json_default)


def weights_bytes(model):
    """The ``model.weights.h5`` member: the model's :mod:`.weights_h5` file, in memory."""
    buffer = io.BytesIO()
    with weights_h5.h5py().File(buffer, "w") as f:
        weights_h5.write(model, f)
    return buffer.getvalue()


def _asset_files(model):
    """``{member: bytes}`` of the layers' assets (Keras's ``save_assets``: an adapted vocabulary), each file under
    ``assets/<the layer's path in the weights layout>/``, as Keras's ``saving_lib`` writes them."""
    files = {}

    def visit(obj, path):
        if hasattr(obj, "save_assets"):
            with tempfile.TemporaryDirectory() as tmp:
                obj.save_assets(tmp)
                for name in sorted(os.listdir(tmp)):
                    with open(os.path.join(tmp, name), "rb") as f:
                        files[f"{_ASSETS}{path}/{name}"] = f.read()
    weights_h5.walk(model, visit)
    return files


def _load_assets(model, files):
    """Hands each layer with ``load_assets`` the files of ``files`` (``{member: bytes}``) under its path, in a
    temporary folder (plain file names only)."""
    def visit(obj, path):
        prefix = f"{_ASSETS}{path}/"
        mine = {m[len(prefix):]: data for m, data in files.items() if m.startswith(prefix)}
        mine = {name: data for name, data in mine.items() if "/" not in name and name not in ("", ".", "..")}
        if mine and hasattr(obj, "load_assets"):
            with tempfile.TemporaryDirectory() as tmp:
                for name, data in mine.items():
                    with open(os.path.join(tmp, name), "wb") as f:
                        f.write(data)
                obj.load_assets(tmp)
    if files:
        weights_h5.walk(model, visit)


def _write_zip(model, path):
    config, metadata = _config_json(model), _metadata_json()
    with zipfile.ZipFile(path, "w") as z:  # stored, not deflated, as Keras writes it
        z.writestr(_METADATA, metadata)
        z.writestr(_CONFIG, config)
        z.writestr(_WEIGHTS, weights_bytes(model))
        for member, data in _asset_files(model).items():
            z.writestr(member, data)


def _write_dir(model, dirpath):
    for member, data in ((_METADATA, _metadata_json().encode("utf-8")), (_CONFIG, _config_json(model).encode("utf-8")),
                         (_WEIGHTS, weights_bytes(model))):
        with open(os.path.join(dirpath, member), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    atomic.fsync(dirpath)


def _old_path(target):
    """Where a ``zipped=False`` save keeps the folder it replaces until the new one is in place."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{atomic.stem(name)}.gpuflow-old")


def recover_dir(filepath):
    """Moves back the folder that a ``zipped=False`` save had moved aside when it was killed before the new one
    was in place. Returns the path to read the model from: the old folder itself if it cannot be moved, or if a
    live save of the folder is between its two renames (moving it back would make that save fail)."""
    target = os.path.realpath(filepath)
    old = _old_path(target)
    if os.path.lexists(target) or not os.path.isdir(old):
        return filepath
    folder, name = os.path.split(target)
    if any(n == atomic.stem(name) and not stale for _, n, stale in atomic.temporaries(folder)):
        return old
    try:
        os.replace(old, target)
        atomic.fsync(os.path.dirname(target))
    except OSError:  # e.g. a read-only folder: read it where it is
        return old
    return filepath


def _discard(path, target):
    """Removes the folder (or file) ``path`` beside ``target``, renaming it to a temporary of ``target`` first: a
    removal interrupted halfway leaves a stale temporary that a later save removes, never a partial folder under a
    name that a load would read (``_old_path``)."""
    if not os.path.lexists(path):
        return
    doomed = atomic.temp_path(target, ".gpuflow-tmpdir")
    os.replace(path, doomed)
    atomic.remove_path(doomed)


def save_dir(model, filepath):
    """``zipped=False``: the three members in a temporary folder beside ``filepath``, then swapped in with two
    renames (the old folder goes to ``_old_path`` first). A save killed between them leaves only the old folder
    there; the next load or save moves it back (``recover_dir``)."""
    atomic.remove_stale(os.path.dirname(filepath))
    old = _old_path(filepath)
    if os.path.lexists(filepath):  # then an old folder was left by a save killed after its swap
        _discard(old, filepath)
    tmp = atomic.temp_path(filepath, ".gpuflow-tmpdir")
    atomic.IN_FLIGHT.add(tmp)
    moved = False
    try:
        with atomic.ctrl_c_noted() as ctrl_c:
            atomic.create_temp(tmp, filepath, folder=True)
            _write_dir(model, tmp)
            for member in _ZIP_MEMBERS:
                atomic.keep_mode(os.path.join(filepath, member), os.path.join(tmp, member))
            atomic.keep_mode(filepath, tmp)
            ctrl_c.commit()
            if os.path.lexists(filepath):
                os.replace(filepath, old)
                moved = True
            os.replace(tmp, filepath)
            atomic.fsync(os.path.dirname(filepath))
            _discard(old, filepath)
    except BaseException:
        if moved and not os.path.lexists(filepath):
            os.replace(old, filepath)
        atomic.remove_path(tmp)
        raise
    finally:
        atomic.IN_FLIGHT.discard(tmp)


def _open_zip(source):
    try:
        return zipfile.ZipFile(source, "r")
    except (zipfile.BadZipFile, EOFError, ValueError) as e:  # ValueError: a member name that is not UTF-8
        name = source if isinstance(source, str) else "the file object"
        raise ValueError(f"{name} is not a valid .keras file: it is not a zip archive ({type(e).__name__}: {e}); the "
                         "file may be truncated or corrupt.") from None


# What reading a member of a hostile zip can raise: a bad header or stream (BadZipFile, EOFError, zlib, bz2's
# OSError, lzma), an encrypted member (RuntimeError) or an unknown compression method (NotImplementedError).
_ZIP_READ_ERRORS = (zipfile.BadZipFile, EOFError, OSError, zlib.error, RuntimeError, NotImplementedError)
try:
    from lzma import LZMAError
    _ZIP_READ_ERRORS += (LZMAError,)
except ImportError:  # a Python built without lzma: zipfile cannot read such members at all
    pass


def _read_limited(f, size, limit, source, member):
    """At most ``limit`` bytes from ``f``, which declares ``size``; refused (ValueError) beyond, read or declared."""
    if size > limit:
        received = f"{size} bytes (declared)"
    else:
        data = f.read(limit + 1)  # the declared size may lie: never read more than the limit allows
        if len(data) <= limit:
            return data
        received = f"more than {limit} bytes (read; {size} declared)"
    raise ValueError(f"{source}: refusing the member '{member}', larger than it can legitimately be: expected at "
                     f"most {limit} bytes. Received: {received}. The file is corrupt or crafted to exhaust memory.")


def _read_member(z, member, source, limit):
    try:
        info = z.getinfo(member)
    except KeyError:
        raise ValueError(f"{source} is not a complete .keras file: the member '{member}' is missing. "
                         f"Members found: {z.namelist()}") from None
    try:
        with z.open(info) as f:
            return _read_limited(f, info.file_size, limit, source, member)
    except _ZIP_READ_ERRORS as e:
        raise ValueError(f"{source}: the member '{member}' cannot be read; the file is truncated or corrupt "
                         f"({type(e).__name__}: {e}).") from None


def _weights_limit(model):
    """The most bytes a weights member for ``model`` can legitimately hold (see ``_WEIGHT_COPIES``)."""
    nbytes = sum(int(np.prod(v.shape)) * np.dtype(v.dtype.as_numpy_dtype).itemsize for v in model.weights)
    return _MEMBER_LIMIT + _WEIGHT_COPIES * nbytes


def _parse_json(data, member, source):
    config = json_loads(data, f"{source}: {member}")
    if not isinstance(config, dict):
        raise ValueError(f"{source}: {member} must hold a JSON object (the serialized model). "
                         f"Received: {type(config).__name__}")
    return config


def _model_from_config_json(config, source, custom_objects, compile, safe_mode):
    """The built (not yet loaded) model a ``config.json`` describes."""
    ctx = Ctx(custom_objects, safe_mode, source=source)
    if not compile:
        config = dict(config, compile_config=None)
    model = deserialize_top(config, ctx, compile=compile)
    if not isinstance(model, Model):
        raise ValueError(f"{source}: config.json describes a {type(model).__name__}, not a model.")
    if not model.built:
        raise ValueError(f"{source}: the model '{model.name}' could not be built from its config (no Input layer "
                         "and no build_config), so its weights cannot be restored.")
    return model


def load(zip_source, source, custom_objects, compile, safe_mode):
    """A model from a ``.keras`` archive: config first, then the weights, each member read within its limit."""
    with _open_zip(zip_source) as z:
        config = _parse_json(_read_member(z, _CONFIG, source, _MEMBER_LIMIT), _CONFIG, source)
        model = _model_from_config_json(config, source, custom_objects, compile, safe_mode)
        weights = _read_member(z, _WEIGHTS, source, _weights_limit(model))
        assets = {m: _read_member(z, m, source, _MEMBER_LIMIT) for m in z.namelist() if m.startswith(_ASSETS)}
    with weights_h5.open_h5(weights, f"{source} (member {_WEIGHTS})") as f:
        weights_h5.load(model, f, source)
    _load_assets(model, assets)  # after the variables, as Keras (a tf_idf vocabulary needs its idf weights)
    return model


def load_dir(folder, custom_objects, compile, safe_mode):
    """A model from a ``zipped=False`` folder: ``config.json`` read within its limit, the weights from disk."""
    missing = [m for m in (_CONFIG, _WEIGHTS) if not os.path.isfile(os.path.join(folder, m))]
    if missing:
        raise ValueError(f"{folder} is a folder but not a saved Keras model: {missing} missing.")
    with open(os.path.join(folder, _CONFIG), "rb") as f:
        data = _read_limited(f, os.fstat(f.fileno()).st_size, _MEMBER_LIMIT, folder, _CONFIG)
    model = _model_from_config_json(_parse_json(data, _CONFIG, folder), folder, custom_objects, compile, safe_mode)
    weights = os.path.join(folder, _WEIGHTS)
    with weights_h5.open_h5(weights, weights) as f:  # read from disk as needed, not whole
        weights_h5.load(model, f, folder)
    return model


def save(model, filepath):
    """Writes ``model`` as a ``.keras`` archive at ``filepath`` (a resolved destination), atomically."""
    atomic.write(filepath, lambda tmp: _write_zip(model, tmp))


def load_weights(model, filepath, skip_mismatch=False):
    """Loads the weights of the archive at ``filepath`` into ``model`` (``load_weights`` of a ``.keras`` file),
    the member read within what ``model``'s weights can legitimately need.

    Raises:
        ValueError: not a zip archive; the member is missing, unreadable or too large; weights that do not fit
            (see :func:`.weights_h5.load`).
    """
    with _open_zip(filepath) as z:
        data = _read_member(z, _WEIGHTS, filepath, _weights_limit(model))
    with weights_h5.open_h5(data, f"{filepath} (member {_WEIGHTS})") as f:
        weights_h5.load(model, f, filepath, skip_mismatch)
