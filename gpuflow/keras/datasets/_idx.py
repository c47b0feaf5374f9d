"""Find, download and read the IDX files of MNIST-style datasets.

Shared by `mnist` and `fashion_mnist`. A dataset is looked for, in order, in:

1. the gpuflow cache, `$GPUFLOW_HOME/datasets/<name>/` (default
   `~/.gpuflow/datasets/<name>/`); downloads are written here;
2. the Keras cache, `$KERAS_HOME/datasets/...` (default `~/.keras/datasets/`),
   read only, so files tf.keras already downloaded are reused;
3. the system directory `/usr/share/datasets/<name>/`, where Debian's
   `dataset-fashion-mnist` package installs the four `*.gz` files;
4. the network: files are streamed to a temporary file in the gpuflow cache,
   checked against a published checksum and renamed into place atomically.

A directory counts only if it holds the complete set of files. Each file may be
gzip-compressed or not, under its plain name or with `.gz` appended; the
content decides (gzip starts with bytes 1F 8B, IDX with 00 00). Files found on
disk are not checksummed (the Debian package recompresses the upstream `.gz`
files, so their bytes differ from the published ones); every file is instead
validated against its IDX header when it is read.

IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian magic number
`0x0000TTNN` (TT: data type, 0x08 = unsigned byte; NN: number of dimensions),
then NN big-endian 32-bit dimension sizes, then the data, big-endian, in C
order.
"""

import gzip
import os
import struct
import zlib

import numpy as np

from ..utils.file_utils import download  # noqa: F401  (the datasets' downloads: atomic, hash-checked)

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
SYSTEM_DIR = "/usr/share/datasets"

# IDX type byte -> NumPy dtype (big-endian, as stored), from the format spec.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def cache_dir(name):
    """The gpuflow cache directory of dataset `name` (not created here)."""
    home = os.environ.get("GPUFLOW_HOME") or os.path.expanduser("~/.gpuflow")
    return os.path.join(home, "datasets", name)


def keras_dir(*parts):
    """Keras's dataset cache, `$KERAS_HOME/datasets/<parts>` (default `~/.keras`)."""
    home = os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras")
    return os.path.join(home, "datasets", *parts)


def system_dir(name):
    """The system-wide directory of dataset `name`, `/usr/share/datasets/<name>`."""
    return os.path.join(SYSTEM_DIR, name)


def find_file(directory, name):
    """Path of `name` or `name.gz` in `directory` (plain name first), else None."""
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def find_idx_set(directory):
    """Paths of the four `IDX_FILES` in `directory`, or None if any is missing."""
    paths = [find_file(directory, name) for name in IDX_FILES]
    return None if None in paths else paths


def describe(directory, names=IDX_FILES):
    """Why `directory` did not supply the dataset, for error messages."""
    if not os.path.isdir(directory):
        return "directory does not exist"
    missing = [n for n in names if find_file(directory, n) is None]
    return "missing " + ", ".join(missing)


def read_idx(path):
    """Reads one IDX file, gzip-compressed or not.

    Args:
        path: file path. Compression is detected from the content, not the name.

    Returns:
        A NumPy array with the shape from the file's header and the dtype from
        its type byte, in native byte order (uint8 for the MNIST files).

    Raises:
        ValueError: the file is not valid gzip, its magic number is not IDX, or
            its length disagrees with the shape in its header (truncated, or
            trailing bytes). The message names the file.
        OSError: the file cannot be read.
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as e:
            raise ValueError(
                f"{path}: corrupt or truncated gzip data ({e}). Delete the file "
                "and fetch it again."
            ) from None
    if len(data) < 4:
        raise ValueError(
            f"{path}: {len(data)} bytes is too short for an IDX header "
            "(4-byte magic number)."
        )
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file. Expected a magic number 0x0000TTNN with "
            f"type TT in {{08, 09, 0B, 0C, 0D, 0E}}. Received: "
            f"0x{data[:4].hex().upper()}."
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{path}: truncated IDX header. Expected {header} bytes for "
            f"{ndim} dimensions. Received: {len(data)} bytes."
        )
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_DTYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "trailing bytes"
        raise ValueError(
            f"{path}: {problem}. The IDX header declares shape {shape} of "
            f"{dtype.name}, {expected} bytes in all (uncompressed). Received: "
            f"{len(data)} bytes."
        )
    array = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable native copy


def check_split(x, y, x_source, y_source):
    """Checks one split: x uint8 (n, rows, cols), y uint8 (n,); returns (x, y).

    Raises:
        ValueError: naming the source of the offending array, expected vs received.
    """
    for array, ndim, what, source in ((x, 3, "images", x_source), (y, 1, "labels", y_source)):
        if array.dtype != np.uint8 or array.ndim != ndim:
            raise ValueError(
                f"{source}: expected {what} as uint8 with {ndim} dimension(s) "
                f"(IDX magic 0x0000080{ndim}). Received: dtype={array.dtype}, "
                f"shape={array.shape}."
            )
    if len(x) != len(y):
        raise ValueError(
            f"{x_source} holds {len(x)} images but {y_source} holds "
            f"{len(y)} labels; expected the same number."
        )
    return x, y


def load_idx_set(paths):
    """Reads the four files of `find_idx_set` into `((x_train, y_train), (x_test, y_test))`.

    Raises:
        ValueError: a file is corrupt or the files do not fit together.
    """
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
    return (
        check_split(x_train, y_train, paths[0], paths[1]),
        check_split(x_test, y_test, paths[2], paths[3]),
    )


def unavailable_error(title, looked, failed_url, error, hints):
    """A FileNotFoundError listing every place looked in and how to get the data.

    Args:
        title: dataset name for the message, e.g. "Fashion-MNIST".
        looked: list of `(directory, role, why_not)` strings.
        failed_url: the URL whose download failed.
        error: the exception the download raised.
        hints: lines telling the user how to get the data.
    """
    lines = [f"{title} is not on this machine and could not be downloaded. Looked in:"]
    for i, (directory, role, why) in enumerate(looked, 1):
        lines.append(f"  {i}. {directory} ({role}): {why}")
    lines.append(f"  {len(looked) + 1}. download {failed_url}: {error}")
    lines.append("To get the data, do one of:")
    lines.extend(f"  - {hint}" for hint in hints)
    return FileNotFoundError("\n".join(lines))
