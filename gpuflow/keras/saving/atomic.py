"""Crash-safe writes for every saving format: a temporary beside the target, flushed, renamed over it.

A save writes to ``.<name>.<pid>.<12 hex digits>.gpuflow-tmp`` (a file) or ``...gpuflow-tmpdir`` (a folder)
beside its target, flushes it to disk, then ``os.replace``-s it over the target and flushes the folder: a
failed, interrupted (Ctrl-C included) or killed save leaves the previous file intact. A save killed by a signal
leaves its temporary behind; the next save in that folder removes those whose process is gone (of any target: a
checkpoint's name often changes from one save to the next). A Ctrl-C that comes after the rename is raised once
the save has finished. A save keeps the permission bits of the file it replaces and writes through a symbolic
link to the link's target. Keras 3 (``keras/src/saving/saving_lib.py``) writes in place; this module is
gpuflow's own.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import stat
import threading
import uuid

_TEMP_NAME = re.compile(r"\.(.+)\.(\d+)\.[0-9a-f]{12}\.gpuflow-tmp(?:dir)?")  # groups: target's name, pid
_WINDOWS = os.name == "nt"
IN_FLIGHT = set()  # temporary paths this process is writing now

# A file name holds at most 255 bytes on most file systems; a temporary's name adds to its target's up to
# 2 dots, a 10-digit pid, 13 characters of hex and ".gpuflow-tmpdir".
_STEM_BYTES = 255 - 2 - 10 - 13 - len(".gpuflow-tmpdir")


def stem(name):
    """``name`` as the names of its temporaries start: whole when it leaves room for what they add, else cut to
    ``_STEM_BYTES`` bytes, ending with a hash of the whole name (so two long names sharing a start still differ)."""
    raw = name.encode("utf-8", "surrogateescape")
    if len(raw) <= _STEM_BYTES:
        return name
    return raw[:_STEM_BYTES - 9].decode("utf-8", "ignore") + "~" + hashlib.sha1(raw).hexdigest()[:8]


def temp_path(target, suffix=".gpuflow-tmp"):
    """A fresh temporary's path beside ``target`` (nothing is created)."""
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{stem(name)}.{os.getpid()}.{uuid.uuid4().hex[:12]}{suffix}")


def _process_alive(pid):
    """True when process ``pid`` may still be running (always True where that cannot be asked safely)."""
    if _WINDOWS:  # os.kill(pid, 0) would terminate the process on Windows: keep its files
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to another user
        return True
    return True


def remove_path(path):
    """Removes a file or a folder tree, ignoring errors."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.remove(path)
        except OSError:
            pass


def temporaries(folder):
    """``(path, target's name, stale)`` for each save temporary in ``folder``.

    A temporary is stale when the process that wrote it is gone, or is this one and no longer writing it (a
    restarted container may get the pid its predecessor had); one of a live process may still be written.
    """
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return
    for entry in entries:
        match = _TEMP_NAME.fullmatch(entry)
        if match is None:
            continue
        path, pid = os.path.join(folder, entry), int(match.group(2))
        live = path in IN_FLIGHT or (pid != os.getpid() and _process_alive(pid))
        yield path, match.group(1), not live


def remove_stale(folder):
    """Removes the temporaries in ``folder`` of saves whose process died (or was interrupted) before cleaning up."""
    for path, _, stale in temporaries(folder):
        if stale:
            remove_path(path)


def fsync(path):
    """Flushes a file, or (POSIX) a folder's entries, i.e. the renames done in it, to disk.

    On Windows a file must be writable here: ``os.fsync`` (FlushFileBuffers) needs a handle open for writing.

    Raises:
        OSError: the file cannot be flushed (a folder that cannot be is skipped).
    """
    is_dir = os.path.isdir(path)
    if is_dir and _WINDOWS:  # Windows cannot open a folder this way; NTFS journals renames
        return
    fd = os.open(path or ".", os.O_RDWR | getattr(os, "O_BINARY", 0) if _WINDOWS else os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        if not is_dir:  # some file systems refuse to flush a folder; a file that cannot be flushed is an error
            raise
    finally:
        os.close(fd)


class _CtrlC:
    """What ``ctrl_c_noted`` yields: the Ctrl-Cs (SIGINT) noted in its block, and ``commit()``."""

    def __init__(self):
        self.hits, self.deferred = [], False

    def commit(self):
        """Raises KeyboardInterrupt for a Ctrl-C noted so far; from now on a Ctrl-C is only noted, and raised
        when the block ends (a save calls this just before its rename: what follows is finished, not undone)."""
        if self.hits:
            raise KeyboardInterrupt
        self.deferred = True


@contextlib.contextmanager
def ctrl_c_noted():
    """Yields a ``_CtrlC`` that notes each Ctrl-C (SIGINT) until the block ends.

    Ctrl-C still raises KeyboardInterrupt at once until ``commit()``. The note is for one that lands in a
    finalizer or weakref callback, where Python only prints "Exception ignored in: ..." and carries on: h5py
    runs such callbacks mid-write (its datatype cache is a WeakValueDictionary), so ``commit()`` raises it.
    After ``commit()`` a Ctrl-C waits for the end of the block (the rename, the folder flush and removing what
    the save replaced), where a noted one is raised. Active only in the main thread over Python's default
    SIGINT handler.
    """
    state = _CtrlC()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield state
        return

    def handler(signum, frame):
        state.hits.append(signum)
        if not state.deferred:
            signal.default_int_handler(signum, frame)
    signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if state.hits:
        raise KeyboardInterrupt


def create_temp(tmp, target, folder=False):
    """Creates the temporary file (or folder) ``tmp``.

    Raises:
        OSError: it cannot be created (a folder this process cannot write in); the message names ``target``,
            the path being saved, besides the temporary's own name.
    """
    try:
        if folder:
            os.mkdir(tmp)
        else:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as e:
        raise type(e)(e.errno, f"{e.strerror}: cannot save {target}, as no temporary can be created beside it",
                      tmp) from None


def write(filepath, write_to):
    """Calls ``write_to(tmp_path)`` for a new file beside ``filepath``, then renames it over ``filepath``.

    The temporary file is created with the usual permissions (0o666 less the umask), flushed to
    disk before the rename, and removed if ``write_to`` fails or is interrupted; one left by a killed
    save is removed by the next save in that folder (see ``remove_stale``). The folder is
    flushed after the rename, so a crash cannot undo it.
    """
    remove_stale(os.path.dirname(filepath))
    tmp = temp_path(filepath)
    IN_FLIGHT.add(tmp)
    try:
        with ctrl_c_noted() as ctrl_c:
            create_temp(tmp, filepath)
            write_to(tmp)
            fsync(tmp)  # before keep_mode: on Windows a read-only mode would forbid the handle flushing needs
            keep_mode(filepath, tmp)
            ctrl_c.commit()
            os.replace(tmp, filepath)
            fsync(os.path.dirname(filepath))
    except BaseException:
        remove_path(tmp)
        raise
    finally:
        IN_FLIGHT.discard(tmp)


def destination(filepath, overwrite, op, folder=False):
    """The path a save writes: ``filepath`` with symbolic links resolved (a link stays a link to the new file).

    Creates missing parent folders.

    Raises:
        FileExistsError: it exists and ``overwrite`` is False.
        IsADirectoryError: it is a folder where a file belongs (NotADirectoryError for the reverse, when
            ``folder``, a ``zipped=False`` save); raised before anything is written.
    """
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{op}: {filepath} exists and overwrite=False. Pass overwrite=True to replace it.")
    target = os.path.realpath(filepath)
    if os.path.exists(target) and os.path.isdir(target) != folder:
        error, want, found = (NotADirectoryError, "a folder", "a file") if folder else (IsADirectoryError, "a file",
                                                                                         "a folder")
        raise error(f"{op}: {filepath} is {found}, which a save{' with zipped=False' if folder else ''} does not "
                    f"replace. Expected a path to {want}. Received: filepath={filepath}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    return target


def keep_mode(existing, new):
    """Gives ``new`` the permission bits of ``existing`` if that exists (a fresh file keeps those of the umask)."""
    try:
        mode = stat.S_IMODE(os.stat(existing).st_mode)
    except FileNotFoundError:
        return
    os.chmod(new, mode)
