"""``save_model``/``load_model``/``save_weights``/``load_weights``: each picks the format from the path.

Follows Keras 3's ``keras/src/saving/saving_api.py``: ``.keras`` (a file, or a folder with ``zipped=False``) is
:mod:`.keras_zip`, ``.weights.h5`` is :mod:`.weights_h5`, ``.h5``/``.hdf5`` is :mod:`.legacy_h5`; every write is
atomic (:mod:`.atomic`). Nothing in a file is executed when loading (see :mod:`.serialization`).
"""
from __future__ import annotations

import io
import os
import warnings

from . import atomic, keras_zip, legacy_h5, weights_h5

__all__ = ["save_model", "load_model", "save_weights", "load_weights"]


class _NoSuchFile(FileNotFoundError, ValueError):
    """A missing file: a FileNotFoundError, and the ValueError that Keras 3's ``load_model`` raises for a missing
    ``.keras`` file ("File not found: filepath=..."), so code written for either catches it."""


def save_weights(model, filepath, overwrite=True):
    """Writes the model's (and its optimizer's) weights in Keras 3's ``.weights.h5`` layout.

    Layout (``keras/src/saving/saving_lib.py``, ``save_weights_only``): ``/vars`` for the model
    itself, ``/layers/<class name>/vars/<i>`` for each layer (``dense``, ``dense_1``, ... in
    Keras's layer order), ``/optimizer/vars/<i>`` for the optimizer; see :mod:`.weights_h5`.
    Keras 3 reads the file with ``model.load_weights``. The write is atomic.

    Args:
        model: a built gpuflow model.
        filepath: a path ending in ``.weights.h5``.
        overwrite: replace an existing file.

    Raises:
        ValueError: wrong extension, or the model is not built.
        FileExistsError: the file exists and ``overwrite`` is False.
    """
    h5py = weights_h5.h5py()
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError(f"save_weights: the filename must end in `.weights.h5`. Received: filepath={filepath}")
    if not model.built:
        raise ValueError(f"save_weights: model '{model.name}' is not built yet, so it has no weights. Call it on data "
                         "or give it an Input first.")
    filepath = atomic.destination(filepath, overwrite, "save_weights")

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            weights_h5.write(model, f)
    atomic.write(filepath, write)


def load_weights(model, filepath, skip_mismatch=False, by_name=False):
    """Loads weights written by gpuflow or Keras into a built model (``keras.Model.load_weights``).

    Reads ``.weights.h5`` (Keras 3 layout), the weights inside a ``.keras`` archive, and legacy
    Keras 2 ``.h5`` files (whole-model or weights-only; layers matched by position among those
    with weights, as Keras, or by name with ``by_name=True``). Optimizer state in the file is
    restored when the model is compiled with a matching optimizer. Loading is all or nothing:
    every dataset is checked, then read, before any variable is assigned, so an error leaves the
    model and its optimizer as they were.

    Args:
        model: a built gpuflow model.
        filepath: ``*.weights.h5``, ``*.keras`` or legacy ``*.h5``/``*.hdf5``.
        skip_mismatch: warn about layers whose variables do not match, instead of raising.
        by_name: legacy ``.h5`` only: match layers by name.

    Raises:
        FileNotFoundError: no such file (also a ValueError, as for :func:`load_model`).
        ValueError: unknown extension, unbuilt model, a corrupt file, or a layer whose variable
            count, shapes or dtypes differ (naming the layer, both shapes and the dataset's path
            in the file; checked from each dataset's header before any data is read).
    """
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise _NoSuchFile(f"load_weights: no such file: {filepath}")
    if not model.built:
        raise ValueError(f"load_weights: model '{model.name}' is not built yet; call it on data or give it an Input "
                         "first, so its weights exist.")
    if filepath.endswith(".keras"):
        keras_zip.load_weights(model, filepath, skip_mismatch)
    elif filepath.endswith(".weights.h5"):
        with weights_h5.open_h5(filepath, filepath) as f:
            weights_h5.load(model, f, filepath, skip_mismatch)
    elif filepath.endswith((".h5", ".hdf5")):
        legacy_h5.load_weights(model, filepath, by_name, skip_mismatch)
    else:
        raise ValueError(f"load_weights: the filename must end in `.weights.h5`, `.keras` or `.h5`. "
                         f"Received: filepath={filepath}")


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """Saves a model as Keras 3 does (``keras.saving.save_model`` / ``Model.save``).

    ``*.keras``: the zip archive described in :mod:`.keras_zip` (``metadata.json``,
    ``config.json``, ``model.weights.h5``), which Keras 3's ``load_model`` reads.
    ``zipped=False``: the same three files in a folder. ``*.h5``/``*.hdf5``: Keras's legacy
    HDF5 format (with Keras's warning that it is legacy). The optimizer's state is included, so
    ``fit`` continues where it stopped after :func:`load_model`. Every write is atomic: the
    previous file stays intact if the save fails.

    Args:
        model: a gpuflow model (Sequential, functional, or subclassed with ``get_config``).
        filepath: destination path.
        overwrite: replace an existing file (else ``FileExistsError``).
        zipped: None or True for a ``.keras`` file, False for a folder.
        **kwargs: ``include_optimizer`` (legacy ``.h5`` only) and the deprecated ``save_format``.

    Raises:
        ValueError: an extension other than ``.keras``/``.h5`` (or ``.keras`` with ``zipped=False``),
            unknown keyword arguments, or an object that cannot be serialized (a lambda).
        FileExistsError: the destination exists and ``overwrite`` is False.
    """
    include_optimizer = kwargs.pop("include_optimizer", True)
    kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    filepath = os.fspath(filepath)
    if not model.built:
        warnings.warn("You are saving a model that has not yet been built. It might not contain any weights yet. "
                      "Consider building the model first by calling it on some data.", stacklevel=2)
    if filepath.endswith((".h5", ".hdf5")) and zipped is not False:
        warnings.warn("You are saving your model as an HDF5 file via `model.save()` or "
                      "`keras.saving.save_model(model)`. This file format is considered legacy. We recommend using "
                      "instead the native Keras format, e.g. `model.save('my_model.keras')` or "
                      "`keras.saving.save_model(model, 'my_model.keras')`.", stacklevel=2)
        filepath = atomic.destination(filepath, overwrite, "save_model")
        atomic.write(filepath, lambda tmp: legacy_h5.save(model, tmp, include_optimizer))
        return
    if zipped is False:
        if filepath.endswith(".keras"):
            raise ValueError("When using `zipped=False`, the `filepath` argument should not end in `.keras`. "
                             f"Received: filepath={filepath}")
        keras_zip.recover_dir(filepath)
        keras_zip.save_dir(model, atomic.destination(filepath, overwrite, "save_model", folder=True))
        return
    if not filepath.endswith(".keras"):
        raise ValueError("Invalid filepath extension for saving. Please add either a `.keras` extension for the "
                         f"native Keras format (recommended) or a `.h5` extension. Received: filepath={filepath}.")
    keras_zip.save(model, atomic.destination(filepath, overwrite, "save_model"))


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved by gpuflow or Keras (``keras.saving.load_model``).

    Reads Keras 3 ``.keras`` archives (and unzipped ``.keras`` folders) and legacy Keras 2/3
    ``.h5`` files: architecture, weights, and (with ``compile=True``) the compile settings and
    the optimizer's state, so ``fit`` resumes where it stopped. Nothing in the file is executed.
    A folder that a ``zipped=False`` save killed mid-swap left moved aside is moved back first.

    Args:
        filepath: path to a ``.keras`` file or folder, or an ``.h5``/``.hdf5`` file; or a binary
            file object holding a ``.keras`` archive.
        custom_objects: ``{name: class or function}`` for custom layers, losses, ...
        compile: restore the compile settings and optimizer state.
        safe_mode: as Keras; lambdas and Lambda layers are refused in either case.

    Returns:
        The model.

    Raises:
        FileNotFoundError: no such file; the error is also a ValueError, which Keras 3 raises for
            a missing ``.keras`` file.
        ValueError: an unsupported file, a corrupt or truncated file (bad zip, missing member,
            bad or too deeply nested JSON, a config or HDF5 layout holding values of the wrong
            kind, wrong weight shapes; the message names the file and the problem), a member
            larger than it can legitimately be (``config.json`` over 64 MiB; see
            :mod:`.keras_zip`), a layer whose weights would not fit in memory (naming it and its
            config), an unknown class, or a Lambda layer.

    Warns:
        UserWarning: the compile settings could not be rebuilt (the model comes back uncompiled),
            or the optimizer's saved state does not fit (it starts fresh); as Keras.
    """
    if isinstance(filepath, io.IOBase):
        return keras_zip.load(filepath, "the file object", custom_objects, compile, safe_mode)
    filepath = keras_zip.recover_dir(os.fspath(filepath))
    if os.path.isdir(filepath):
        return keras_zip.load_dir(filepath, custom_objects, compile, safe_mode)
    if not os.path.exists(filepath):
        raise _NoSuchFile(f"load_model: no such file: {filepath}")
    if filepath.endswith((".h5", ".hdf5")):
        return legacy_h5.load(filepath, custom_objects, compile, safe_mode)
    if not filepath.endswith(".keras"):
        raise ValueError(f"File format not supported: filepath={filepath}. gpuflow (as Keras 3) reads `.keras` files "
                         "and legacy `.h5` files.")
    return keras_zip.load(filepath, filepath, custom_objects, compile, safe_mode)
