"""``tf.io``: the file part — ``tf.io.gfile`` (TensorFlow 2.21's ``file_io`` API on local files) and
``read_file`` / ``write_file``.

Only local paths are supported (plain paths, path-like objects and ``file://`` URLs); another scheme (``gs://``,
``s3://``, ``hdfs://`` ...) raises :class:`gpuflow.errors.UnimplementedError` naming the path. Failures raise
TensorFlow's error types, which are also the matching Python exceptions (see :mod:`gpuflow.errors`):
``NotFoundError`` (a ``FileNotFoundError``), ``AlreadyExistsError`` (a ``FileExistsError``),
``PermissionDeniedError`` (a ``PermissionError``), ``FailedPreconditionError`` (a ``RuntimeError``).
"""
from __future__ import annotations

import contextlib
import glob as _glob
import os
import re
import shutil
import stat as _stat
import types

from . import errors

__all__ = ["gfile", "read_file", "write_file", "local_path"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def local_path(path):
    """The local path for ``path`` (str, bytes or path-like; a ``file://`` prefix is dropped): gpuflow's check that
    ``path`` is a local file, used by its file functions and ``tf.summary`` (TensorFlow has no such function).

    Raises:
        UnimplementedError: a path with another scheme.
    """
    path = os.fsdecode(os.fspath(path))
    m = _SCHEME.match(path)
    if m and m.group(1) != "file":
        raise errors.UnimplementedError(
            None, None, f"File system scheme '{m.group(1)}' is not supported: gpuflow's tf.io reads and writes local "
                        f"files only. Received: path='{path}'")
    return path[len("file://"):] if m else path


@contextlib.contextmanager
def _tf_errors():
    # An OSError as TensorFlow's error of the same kind, with TensorFlow's "<path>; <reason>" message
    try:
        yield
    except OSError as e:
        if isinstance(e, errors.OpError):
            raise
        kind = {FileNotFoundError: errors.NotFoundError, FileExistsError: errors.AlreadyExistsError,
                PermissionError: errors.PermissionDeniedError, IsADirectoryError: errors.FailedPreconditionError,
                NotADirectoryError: errors.FailedPreconditionError}.get(type(e), errors.UnknownError)
        raise kind(None, None, f"{e.filename}; {e.strerror}" if e.filename else str(e)) from e


class GFile:
    """A file object on a local path (``tf.io.gfile.GFile``, also ``tf.io.gfile.Open`` as in TF 1's
    ``tf.gfile``), opened on first use as TensorFlow's is: a missing file raises at the first read, and a file
    opened for writing is created (or truncated) at the first write.

    As in TensorFlow, offsets and sizes count bytes in every mode: ``read(n)`` reads ``n`` bytes, which text modes
    decode as UTF-8 to ``str``; ``"b"`` modes return ``bytes``. ``write`` takes ``str`` (written as UTF-8) or
    ``bytes`` in either mode. Iterating yields lines.

    Args:
        name: the path (str or path-like).
        mode: ``"r"``, ``"w"``, ``"a"``, ``"r+"``, ``"w+"`` or ``"a+"``, each with an optional ``"b"``.

    Raises:
        InvalidArgumentError: an unknown mode.
        UnimplementedError: a non-local path.
        NotFoundError: reading a missing file (at the first read).
        PermissionDeniedError: reading a file opened for writing only, or the reverse.
    """

    def __init__(self, name, mode="r"):
        self._path = local_path(name)
        self.__name = os.fsdecode(os.fspath(name))
        if mode.replace("b", "", 1) not in ("r", "w", "a", "r+", "w+", "a+"):
            raise errors.InvalidArgumentError(None, None, "mode is not 'r' or 'w' or 'a' or 'r+' or 'w+' or 'a+'")
        self.__mode = mode
        self._binary = "b" in mode
        self._file = None

    @property
    def name(self):
        """The path given."""
        return self.__name

    @property
    def mode(self):
        """The mode given."""
        return self.__mode

    def _open(self, reading):
        if reading and not ("r" in self.__mode or "+" in self.__mode):
            raise errors.PermissionDeniedError(None, None, "File isn't open for reading")
        if not reading and self.__mode.startswith("r") and "+" not in self.__mode:
            raise errors.PermissionDeniedError(None, None, "File isn't open for writing")
        if self._file is None:
            with _tf_errors():
                self._file = open(self._path, self.__mode.replace("b", "") + "b")
        return self._file

    def _value(self, data):
        return data if self._binary else data.decode("utf-8")

    def read(self, n=-1):
        """Reads ``n`` bytes (all the rest when ``n`` is -1): ``str`` in text modes, ``bytes`` in ``"b"`` modes."""
        return self._value(self._open(True).read(n))

    def readline(self):
        """The next line, with its newline (empty at the end)."""
        return self._value(self._open(True).readline())

    def readlines(self):
        """The remaining lines, as a list."""
        return [self._value(line) for line in self._open(True).readlines()]

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    next = __next__

    def write(self, file_content):
        """Writes ``file_content`` (``str``, written as UTF-8, or ``bytes``).

        Raises:
            TypeError: anything else.
        """
        if isinstance(file_content, str):
            file_content = file_content.encode("utf-8")
        elif not isinstance(file_content, (bytes, bytearray, memoryview)):
            raise TypeError(f"Expected binary or unicode string, got {file_content!r}")
        self._open(False).write(file_content)

    def seek(self, offset=None, whence=0, position=None):
        """Moves to byte ``offset`` from the start (``whence=0``), the current position (1) or the end (2).
        ``position`` is TensorFlow's deprecated name for ``offset``."""
        offset = position if offset is None else offset
        self._open("r" in self.__mode or "+" in self.__mode).seek(offset, whence)

    def tell(self):
        """The current byte offset (0 before the file is opened)."""
        return 0 if self._file is None else self._file.tell()

    def size(self):
        """The file's size in bytes (what was written so far included).

        Raises:
            NotFoundError: the file does not exist.
        """
        self.flush()
        return stat(self._path).length

    def seekable(self):
        """True: local files are seekable."""
        return True

    def flush(self):
        """Writes buffered data to the file."""
        if self._file is not None:
            self._file.flush()

    def close(self):
        """Closes the file; a later read or write opens it again, as TensorFlow's GFile does."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def exists(path):
    """True if ``path`` exists (``tf.io.gfile.exists``)."""
    return os.path.exists(local_path(path))


def isdir(path):
    """True if ``path`` is a directory (``tf.io.gfile.isdir``)."""
    return os.path.isdir(local_path(path))


def listdir(path):
    """The names of the entries in directory ``path``, not sorted (``tf.io.gfile.listdir``).

    Raises:
        NotFoundError: ``path`` is not a directory.
    """
    if not isdir(path):
        raise errors.NotFoundError(None, None, f"Could not find directory {os.fsdecode(os.fspath(path))}")
    return os.listdir(local_path(path))


def glob(pattern):
    """The paths matching ``pattern`` (``*``, ``?``, ``[...]``), or matching any of a list of patterns
    (``tf.io.gfile.glob``)."""
    patterns = [pattern] if isinstance(pattern, (str, bytes, os.PathLike)) else pattern
    return [p for pat in patterns for p in _glob.glob(local_path(pat))]


def mkdir(path):
    """Creates directory ``path``; if ``path`` exists (a file too, as in TensorFlow) nothing happens
    (``tf.io.gfile.mkdir``).

    Raises:
        NotFoundError: the parent directory does not exist.
    """
    path = local_path(path)
    if not os.path.exists(path):
        with _tf_errors():
            os.mkdir(path)


def makedirs(path):
    """Creates directory ``path`` and any missing parents; an existing directory is fine (``tf.io.gfile.makedirs``).

    Raises:
        FailedPreconditionError: a component of ``path`` is a file.
    """
    path = local_path(path)
    try:
        os.makedirs(path, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise errors.FailedPreconditionError(None, None, f"{path} is not a directory") from None


def remove(path):
    """Deletes the file ``path`` (``tf.io.gfile.remove``).

    Raises:
        NotFoundError: ``path`` does not exist.
        FailedPreconditionError: ``path`` is a directory (see :func:`rmtree`).
    """
    path = local_path(path)
    if os.path.isdir(path):
        raise errors.FailedPreconditionError(None, None, f"{path}; Is a directory")
    with _tf_errors():
        os.remove(path)


def rmtree(path):
    """Deletes ``path``: a directory with everything in it, or a file (``tf.io.gfile.rmtree``).

    Raises:
        NotFoundError: ``path`` does not exist.
    """
    path = local_path(path)
    if not os.path.lexists(path):
        raise errors.NotFoundError(None, None, f"{path} not found")
    with _tf_errors():
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def _check_target(dst, overwrite):
    if not overwrite and os.path.exists(dst):
        raise errors.AlreadyExistsError(None, None, f"file already exists: {dst}")


def rename(src, dst, overwrite=False):
    """Renames (moves) file or directory ``src`` to ``dst`` (``tf.io.gfile.rename``).

    Raises:
        NotFoundError: ``src`` does not exist.
        AlreadyExistsError: ``dst`` exists and ``overwrite`` is False.
    """
    src, dst = local_path(src), local_path(dst)
    _check_target(dst, overwrite)
    with _tf_errors():
        os.replace(src, dst)


def copy(src, dst, overwrite=False):
    """Copies file ``src`` to ``dst`` (``tf.io.gfile.copy``).

    Raises:
        NotFoundError: ``src`` does not exist.
        AlreadyExistsError: ``dst`` exists (a directory included) and ``overwrite`` is False.
    """
    src, dst = local_path(src), local_path(dst)
    _check_target(dst, overwrite)
    with _tf_errors():
        shutil.copyfile(src, dst)


class FileStatistics:
    """What :func:`stat` returns (TensorFlow's ``FileStatistics``): ``length`` (bytes), ``mtime_nsec`` (the
    modification time in nanoseconds since the epoch) and ``is_directory``."""

    def __init__(self, length, mtime_nsec, is_directory):
        self.length, self.mtime_nsec, self.is_directory = length, mtime_nsec, is_directory

    def __repr__(self):
        return (f"FileStatistics(length={self.length}, mtime_nsec={self.mtime_nsec}, "
                f"is_directory={self.is_directory})")


def stat(path):
    """The :class:`FileStatistics` of ``path`` (``tf.io.gfile.stat``).

    Raises:
        NotFoundError: ``path`` does not exist.
    """
    with _tf_errors():
        st = os.stat(local_path(path))
    return FileStatistics(st.st_size, st.st_mtime_ns, _stat.S_ISDIR(st.st_mode))


def walk(top, topdown=True, onerror=None):
    """Walks the tree under directory ``top`` (``tf.io.gfile.walk``): yields ``(dirname, subdirs, filenames)`` for
    each directory, parents first when ``topdown`` (then editing ``subdirs`` in place prunes the walk), else children
    first. A missing ``top`` yields nothing; ``onerror``, if given, is called with the error of a directory that
    cannot be listed."""
    top = local_path(top)
    try:
        names = listdir(top)
    except errors.NotFoundError as e:
        if onerror is not None:
            onerror(e)
        return
    subdirs = [n for n in names if os.path.isdir(os.path.join(top, n))]
    files = [n for n in names if n not in subdirs]
    if topdown:
        yield top, subdirs, files
    for sub in subdirs:
        yield from walk(os.path.join(top, sub), topdown, onerror)
    if not topdown:
        yield top, subdirs, files


def get_registered_schemes():
    """The URL schemes gpuflow's gfile reads (``tf.io.gfile.get_registered_schemes``): ``"file"`` and ``""`` (plain
    paths)."""
    return ["file", ""]


def join(path, *paths):
    """Joins path components with ``/`` (``tf.io.gfile.join``; ``os.path.join`` rules, URL schemes kept)."""
    return os.path.join(path, *paths)


gfile = types.SimpleNamespace(
    GFile=GFile, Open=GFile, exists=exists, isdir=isdir, listdir=listdir, glob=glob, mkdir=mkdir, makedirs=makedirs,
    remove=remove, rmtree=rmtree, rename=rename, copy=copy, stat=stat, walk=walk, join=join,
    get_registered_schemes=get_registered_schemes)
gfile.__doc__ = "``tf.io.gfile``: file operations on local paths (see :mod:`gpuflow.io`)."


def read_file(filename, name=None):
    """The whole contents of ``filename`` (``tf.io.read_file``). gpuflow has no string tensors, so this returns
    Python ``bytes`` where TensorFlow returns a scalar ``tf.string`` tensor.

    Raises:
        NotFoundError: the file does not exist.
        UnimplementedError: a non-local path.
    """
    del name
    with GFile(filename, "rb") as f:
        return f.read()


def write_file(filename, contents, name=None):
    """Writes ``contents`` (``bytes``, or ``str`` written as UTF-8) to ``filename``, replacing the file and creating
    missing parent directories (``tf.io.write_file``).

    Raises:
        TypeError: ``contents`` is not bytes or str.
        UnimplementedError: a non-local path.
    """
    del name
    parent = os.path.dirname(local_path(filename))
    if parent:
        makedirs(parent)
    with GFile(filename, "wb") as f:
        f.write(contents)
