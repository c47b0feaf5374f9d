"""MNIST handwritten digits dataset, as `keras.datasets.mnist`."""

import os
import zipfile
import zlib

import numpy as np

from gpuflow.keras.datasets import _idx

NAME = "mnist"
URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
# SHA-256 of mnist.npz, from Keras (keras/src/datasets/mnist.py, `file_hash`).
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


def load_data(path="mnist.npz"):
    """Loads the MNIST dataset.

    60,000 training and 10,000 test 28x28 grayscale images of the digits 0..9
    (http://yann.lecun.com/exdb/mnist/). Same API and result as
    `keras.datasets.mnist.load_data()` (https://keras.io/api/datasets/).

    Each of these directories is tried in order; the first holding either the
    file `path` (Keras's `mnist.npz`) or the four IDX files
    (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or `.gz`)
    is used: `$GPUFLOW_HOME/datasets/mnist/` (default `~/.gpuflow/...`),
    `$KERAS_HOME/datasets/` (default `~/.keras/...`, where tf.keras caches
    `mnist.npz`), `/usr/share/datasets/mnist/`. Otherwise `mnist.npz` is
    downloaded from Keras's bucket into the first, checked against its
    SHA-256.

    Args:
        path: file name of the `.npz` archive, relative to each directory above
            (an absolute path names one file). Defaults to `"mnist.npz"`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x_train` uint8 (60000, 28, 28)
        and `x_test` uint8 (10000, 28, 28), pixel values 0..255; `y_train`
        uint8 (60000,) and `y_test` uint8 (10000,), labels 0..9.

    Raises:
        FileNotFoundError: the data is nowhere on disk and the download
            failed; the message lists every place looked in and how to get
            the data.
        ValueError: a file is corrupt or truncated (the message names it), or
            the download did not match its checksum (nothing is kept).

    License: MNIST is copyright Yann LeCun and Corinna Cortes, CC BY-SA 3.0.
    """
    cache = _idx.cache_dir(NAME)
    places = [
        (cache, "gpuflow cache, $GPUFLOW_HOME/datasets/" + NAME),
        (_idx.keras_dir(), "Keras cache, $KERAS_HOME/datasets"),
        (_idx.system_dir(NAME), "system"),
    ]
    for directory, _ in places:
        npz = os.path.join(directory, path)
        if os.path.isfile(npz):
            return _load_npz(npz)
        paths = _idx.find_idx_set(directory)
        if paths:
            return _idx.load_idx_set(paths)

    dest = os.path.join(cache, path)
    try:
        _idx.download(URL, dest, SHA256)
    except OSError as e:
        raise _idx.unavailable_error(
            "MNIST",
            [(d, role, _why_not(d, path)) for d, role in places],
            URL,
            e,
            [
                f"copy {URL} to {dest}",
                f"or copy the four IDX files (raw or .gz) into {cache}/",
                "or connect to the network and call load_data() again",
            ],
        ) from e
    return _load_npz(dest)


def _why_not(directory, path):
    if not os.path.isdir(directory):
        return "directory does not exist"
    return f"no {path}; {_idx.describe(directory)}"


def _load_npz(path):
    """Reads Keras's mnist.npz (arrays x_train, y_train, x_test, y_test)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, zlib.error) as e:
        raise ValueError(
            f"{path}: not a valid mnist.npz (expected a NumPy .npz archive with "
            f"arrays x_train, y_train, x_test, y_test): {e}"
        ) from None
    x_train, y_train, x_test, y_test = arrays
    return (
        _idx.check_split(x_train, y_train, f"{path}[x_train]", f"{path}[y_train]"),
        _idx.check_split(x_test, y_test, f"{path}[x_test]", f"{path}[y_test]"),
    )
