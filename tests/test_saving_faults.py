"""Saving and loading under faults (killed or interrupted saves) and hostile files (gpuflow.keras.saving).

The kill tests run a child Python that blocks inside a save at a known point (a patched writer
prints "ready" and sleeps) and then gets the signal, so they never race a timer; the child also
exits by itself after a minute whatever happens.
"""
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import gpuflow as tf  # noqa: E402
from gpuflow.keras import saving  # noqa: E402
from gpuflow.keras.saving import atomic, keras_zip, weights_h5  # noqa: E402

keras = tf.keras
layers = keras.layers
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def tiny_model(fill=None):
    model = keras.Sequential([keras.Input((3,)), layers.Dense(4, activation="relu", name="dense"),
                              layers.Dense(2, name="dense_1")])
    if fill is not None:
        for v in model.weights:
            v.assign(np.full(v.shape, fill, "float32"))
    return model


def weights_of(model):
    return [v.numpy().copy() for v in model.weights]


def same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# -- a child process stopped inside a save ------------------------------------------------------------------------
_CHILD = textwrap.dedent("""
    import faulthandler, os, signal, sys, time
    faulthandler.dump_traceback_later(60, exit=True)  # a stuck child never outlives the test by long
    signal.signal(signal.SIGINT, signal.default_int_handler)  # not inherited as ignored from a background shell
    import numpy as np
    from gpuflow.keras import saving
    from gpuflow.keras.saving import keras_zip
    path, where, zipped = sys.argv[1], sys.argv[2], sys.argv[3] == "zip"

    def block():
        print("ready", flush=True)
        time.sleep(60)

    if where == "weights":  # the temporary file holds metadata and config, the weights are being written
        real = keras_zip.weights_bytes
        def blocked(model):
            data = real(model)
            block()
            return data
        keras_zip.weights_bytes = blocked
    else:  # "swap": the old folder was moved aside, the new one is not in place yet
        real_replace = os.replace
        def blocked_replace(src, dst):
            real_replace(src, dst)
            if os.path.realpath(src) == os.path.realpath(path):
                block()
        os.replace = blocked_replace
    model = saving.load_model(path)
    for v in model.weights:
        v.assign(np.zeros(v.shape, "float32"))
    saving.save_model(model, path, zipped=zipped)
    print("saved", flush=True)
""")


def stop_child_in_save(path, sig, where="weights", zipped=True):
    """Runs a child that re-saves ``path`` with zeroed weights, stops it at ``where`` with ``sig``.

    Returns ``(returncode, stdout, stderr, pid)``.
    """
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), where, "zip" if zipped else "dir"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", f"the child did not reach the save: {line!r} {proc.stderr.read()}"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, line + out, err, proc.pid


def temp_files(folder):
    return sorted(e for e in os.listdir(folder) if re.search(r"\.gpuflow-(tmp|tmpdir|old)$", e))


# =========================================================================================
# Killed saves: the temporaries they leave are removed by the next save
# =========================================================================================
@posix_only
def test_a_killed_save_leaves_the_old_file_and_the_next_save_removes_its_temporary(tmp_path):
    path = tmp_path / "m.keras"
    model = tiny_model(fill=1.0)
    saving.save_model(model, str(path))
    before = path.read_bytes()
    rc, out, _, pid = stop_child_in_save(path, signal.SIGKILL)
    assert rc == -signal.SIGKILL and "saved" not in out
    assert path.read_bytes() == before
    left = temp_files(tmp_path)
    assert len(left) == 1 and re.fullmatch(rf"\.m\.keras\.{pid}\.[0-9a-f]{{12}}\.gpuflow-tmp", left[0]), left
    saving.save_model(tiny_model(fill=2.0), str(path))  # the next save cleans up after the dead one
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]
    assert same_weights(weights_of(saving.load_model(str(path))), weights_of(tiny_model(fill=2.0)))


def test_temporaries_of_live_processes_and_other_files_are_kept(tmp_path):
    path = str(tmp_path / "m.weights.h5")
    alive = os.getppid()  # pytest's parent is running
    keep = [f".m.weights.h5.{alive}.0123456789ab.gpuflow-tmp",  # a live process may still be writing it
            f".ckpt-07.keras.{alive}.0123456789ab.gpuflow-tmpdir",  # that of another file, a live process too
            f".m.weights.h5.x{alive}.0123456789ab.gpuflow-tmp",  # not our pattern
            f".m.weights.h5.{alive}.0123456789ab.gpuflow-tmp.bak",
            "notes.txt"]
    stale = [f".m.weights.h5.{os.getpid()}.0123456789ab.gpuflow-tmp",  # this process is not writing it now
             f".ckpt-03.keras.{os.getpid()}.0123456789ab.gpuflow-tmp",  # a checkpoint saved under another name
             f".m.1.weights.h5.{os.getpid()}.0123456789ab.gpuflow-tmpdir"]
    for name in keep + stale:
        (tmp_path / name).write_bytes(b"partial")
    saving.save_weights(tiny_model(), path)
    assert sorted(os.listdir(tmp_path)) == sorted(keep + ["m.weights.h5"])


@pytest.mark.parametrize("target", ["m.keras", "m.weights.h5", "m_folder"])
def test_a_folder_that_takes_no_new_file_is_an_error_naming_the_target(tmp_path, monkeypatch, target):
    import errno
    def refusing(real):  # as a folder this process cannot write in (the tests may run as root)
        def create(path, *args, **kwargs):
            if ".gpuflow-tmp" in os.fspath(path):
                raise PermissionError(errno.EACCES, "Permission denied", path)
            return real(path, *args, **kwargs)
        return create
    monkeypatch.setattr(os, "open", refusing(os.open))
    monkeypatch.setattr(os, "mkdir", refusing(os.mkdir))
    path = tmp_path / target
    save = saving.save_weights if target.endswith(".weights.h5") else saving.save_model
    with pytest.raises(PermissionError, match=rf"Permission denied: cannot save {re.escape(str(path))}, as no "
                                              r"temporary can be created beside it"):
        save(tiny_model(), str(path), **({"zipped": False} if target == "m_folder" else {}))


@pytest.mark.parametrize("target", ["k" * 240 + ".keras", "w" * 240 + ".weights.h5", "é" * 120 + "_folder"])
def test_a_file_name_near_the_length_limit_still_saves(tmp_path, target):
    path = tmp_path / target  # a name of up to 255 bytes is valid; its temporary's name must fit too
    save = saving.save_weights if target.endswith(".weights.h5") else saving.save_model
    kwargs = {"zipped": False} if target.endswith("_folder") else {}
    save(tiny_model(fill=1.0), str(path), **kwargs)
    save(tiny_model(fill=2.0), str(path), **kwargs)  # over the first: a folder is swapped through its old path
    assert os.listdir(tmp_path) == [target]
    loaded = tiny_model()
    saving.load_weights(loaded, str(path / "model.weights.h5" if kwargs else path))
    assert same_weights(weights_of(loaded), weights_of(tiny_model(fill=2.0)))


# =========================================================================================
# Ctrl-C stops a save and leaves the old file
# =========================================================================================
@posix_only
def test_ctrl_c_in_a_save_stops_it_and_leaves_the_old_file(tmp_path):
    path = tmp_path / "m.keras"
    saving.save_model(tiny_model(fill=1.0), str(path))
    before = path.read_bytes()
    rc, out, err, _ = stop_child_in_save(path, signal.SIGINT)
    assert rc != 0 and "KeyboardInterrupt" in err and "saved" not in out
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["m.keras"]


class _CtrlCInFinalizer:
    """Sends SIGINT when collected: the KeyboardInterrupt lands in ``__del__``, where Python only prints it."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


@posix_only
@pytest.mark.parametrize("target,module,patch", [("m.keras", keras_zip, "weights_bytes"),
                                                 ("m.weights.h5", weights_h5, "write"),
                                                 ("m_folder", keras_zip, "weights_bytes")])
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_ctrl_c_swallowed_by_a_finalizer_still_stops_the_save(tmp_path, monkeypatch, target, module, patch):
    path = str(tmp_path / target)
    save = saving.save_weights if target.endswith(".weights.h5") else saving.save_model
    kwargs = {"zipped": False} if target == "m_folder" else {}
    save(tiny_model(fill=1.0), path, **kwargs)
    before = weights_of(tiny_model(fill=1.0))
    real = getattr(module, patch)

    def interrupted_in_a_finalizer(*args):
        _CtrlCInFinalizer()  # collected at once; its KeyboardInterrupt is printed, not raised
        return real(*args)
    monkeypatch.setattr(module, patch, interrupted_in_a_finalizer)
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: None)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            save(tiny_model(fill=2.0), path, **kwargs)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sorted(os.listdir(tmp_path)) == [target]
    loaded = tiny_model()
    saving.load_weights(loaded, path if not kwargs else os.path.join(path, "model.weights.h5"))
    assert same_weights(weights_of(loaded), before)


# =========================================================================================
# A save keeps the mode of the file it replaces and writes through symbolic links
# =========================================================================================
@posix_only
@pytest.mark.parametrize("target", ["m.keras", "m.weights.h5", "m.h5", "m_folder"])
def test_a_save_keeps_the_mode_of_the_file_it_replaces(tmp_path, target):
    path = tmp_path / target
    save = saving.save_weights if target.endswith(".weights.h5") else saving.save_model
    kwargs = {"zipped": False} if target == "m_folder" else {}
    old_umask = os.umask(0o027)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy .h5 warning
            save(tiny_model(), str(path), **kwargs)
            assert os.stat(path).st_mode & 0o777 == (0o750 if kwargs else 0o640)  # a fresh file follows the umask
            os.chmod(path, 0o700 if kwargs else 0o600)
            save(tiny_model(), str(path), **kwargs)
    finally:
        os.umask(old_umask)
    assert os.stat(path).st_mode & 0o777 == (0o700 if kwargs else 0o600)


@posix_only
@pytest.mark.parametrize("target", ["m.keras", "m.weights.h5", "m_folder"])
def test_a_save_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path, target):
    real = tmp_path / "store" / target
    real.parent.mkdir()
    link = tmp_path / ("link_" + target)
    save = saving.save_weights if target.endswith(".weights.h5") else saving.save_model
    kwargs = {"zipped": False} if target == "m_folder" else {}
    save(tiny_model(fill=1.0), str(real), **kwargs)
    os.symlink(real, link)
    save(tiny_model(fill=2.0), str(link), **kwargs)
    assert os.path.islink(link) and os.readlink(link) == str(real)
    assert sorted(os.listdir(tmp_path)) == sorted(["store", link.name])
    assert os.listdir(real.parent) == [target]
    loaded = tiny_model()
    saving.load_weights(loaded, str(real) if not kwargs else str(real / "model.weights.h5"))
    assert same_weights(weights_of(loaded), weights_of(tiny_model(fill=2.0)))


@pytest.mark.parametrize("target, kwargs, error, found", [
    ("m.keras", {}, IsADirectoryError, "a folder"), ("m.weights.h5", {}, IsADirectoryError, "a folder"),
    ("m.h5", {}, IsADirectoryError, "a folder"), ("m_folder", {"zipped": False}, NotADirectoryError, "a file")])
def test_a_save_onto_a_folder_where_a_file_belongs_fails_before_writing(tmp_path, monkeypatch, target, kwargs, error,
                                                                          found):
    path = tmp_path / target
    path.mkdir() if found == "a folder" else path.write_text("keep")
    save = saving.save_weights if target.endswith(".weights.h5") else saving.save_model
    for module, name in ((weights_h5, "write"), (keras_zip, "weights_bytes")):
        monkeypatch.setattr(module, name, lambda *a: pytest.fail("the model was written"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=rf"{re.escape(str(path))} is {found}.*Received: filepath="):
            save(tiny_model(), str(path), **kwargs)
    assert os.listdir(tmp_path) == [target]


# =========================================================================================
# Renames reach the disk; a zipped=False save killed between its two renames is recovered
# =========================================================================================
@posix_only
@pytest.mark.parametrize("target", ["m.keras", "m.weights.h5", "m.h5", "m_folder"])
def test_the_folder_is_flushed_after_the_rename(tmp_path, monkeypatch, target):
    path = str(tmp_path / target)
    save = saving.save_weights if target.endswith(".weights.h5") else saving.save_model
    kwargs = {"zipped": False} if target == "m_folder" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save(tiny_model(), path, **kwargs)
    events = []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src, dst):
        real_replace(src, dst)
        events.append(("replace", os.path.realpath(dst)))

    def fsync(fd):
        real_fsync(fd)
        st = os.fstat(fd)
        events.append(("fsync folder" if stat.S_ISDIR(st.st_mode) else "fsync file", st.st_ino))
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save(tiny_model(), path, **kwargs)
    last = max(i for i, e in enumerate(events) if e == ("replace", path))
    assert ("fsync folder", os.stat(tmp_path).st_ino) in events[last + 1:], events


@posix_only  # emulates Windows with fcntl
@pytest.mark.parametrize("target", ["m.keras", "m.weights.h5", "m_folder"])
def test_saves_flush_through_a_writable_handle_as_windows_needs(tmp_path, monkeypatch, target):
    import errno
    import fcntl
    real_open, real_fsync = os.open, os.fsync

    def windows_open(path, flags, *args):  # a read-only file cannot be opened for writing, even by an administrator
        if flags & (os.O_WRONLY | os.O_RDWR) and os.path.isfile(path) and not os.stat(path).st_mode & 0o200:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args)

    def windows_fsync(fd):  # FlushFileBuffers needs a handle open for writing
        if stat.S_ISREG(os.fstat(fd).st_mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            raise OSError(errno.EBADF, "Bad file descriptor")
        return real_fsync(fd)
    monkeypatch.setattr(atomic, "_WINDOWS", True)
    monkeypatch.setattr(os, "open", windows_open)
    monkeypatch.setattr(os, "fsync", windows_fsync)
    path = tmp_path / target
    save = saving.save_weights if target.endswith(".weights.h5") else saving.save_model
    kwargs = {"zipped": False} if target == "m_folder" else {}
    save(tiny_model(fill=1.0), str(path), **kwargs)
    file = path / "model.weights.h5" if kwargs else path
    os.chmod(file, 0o444)
    save(tiny_model(fill=2.0), str(path), **kwargs)  # over a read-only file, whose mode it keeps
    assert os.stat(file).st_mode & 0o777 == 0o444
    loaded = tiny_model()
    saving.load_weights(loaded, str(file))
    assert same_weights(weights_of(loaded), weights_of(tiny_model(fill=2.0)))


@posix_only
def test_a_folder_save_killed_between_its_renames_is_recovered_by_the_next_load(tmp_path):
    path = tmp_path / "m_folder"
    saving.save_model(tiny_model(fill=1.0), str(path), zipped=False)
    rc, out, _, _ = stop_child_in_save(path, signal.SIGTERM, where="swap", zipped=False)
    assert rc == -signal.SIGTERM and "saved" not in out
    assert not path.exists() and (tmp_path / ".m_folder.gpuflow-old").is_dir()  # what the kill leaves
    loaded = saving.load_model(str(path))
    assert same_weights(weights_of(loaded), weights_of(tiny_model(fill=1.0)))  # the previous save, complete
    assert path.is_dir() and not (tmp_path / ".m_folder.gpuflow-old").exists()
    saving.save_model(tiny_model(fill=2.0), str(path), zipped=False)  # and the next save cleans up the rest
    assert sorted(os.listdir(tmp_path)) == ["m_folder"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_while_the_replaced_folder_is_removed_leaves_nothing_a_load_would_recover(tmp_path, monkeypatch):
    path = tmp_path / "m_folder"
    saving.save_model(tiny_model(fill=1.0), str(path), zipped=False)
    real_rmtree = shutil.rmtree

    def interrupted_rmtree(folder, ignore_errors=False):
        os.remove(os.path.join(folder, "config.json"))  # removed in part, then Ctrl-C
        raise KeyboardInterrupt
    monkeypatch.setattr(shutil, "rmtree", interrupted_rmtree)
    with pytest.raises(KeyboardInterrupt):
        saving.save_model(tiny_model(fill=2.0), str(path), zipped=False)
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    assert not (tmp_path / ".m_folder.gpuflow-old").exists()  # the half-removed folder is a stale temporary
    assert same_weights(weights_of(saving.load_model(str(path))), weights_of(tiny_model(fill=2.0)))
    saving.save_model(tiny_model(fill=3.0), str(path), zipped=False)  # which the next save removes
    assert sorted(os.listdir(tmp_path)) == ["m_folder"]


@posix_only
def test_a_ctrl_c_after_the_swap_waits_for_the_save_to_finish_cleaning_up(tmp_path, monkeypatch):
    path = tmp_path / "m_folder"
    saving.save_model(tiny_model(fill=1.0), str(path), zipped=False)
    real_rmtree = shutil.rmtree

    def ctrl_c_then_rmtree(folder, ignore_errors=False):  # Ctrl-C while the replaced folder is being removed
        signal.raise_signal(signal.SIGINT)
        real_rmtree(folder, ignore_errors=ignore_errors)
    monkeypatch.setattr(shutil, "rmtree", ctrl_c_then_rmtree)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):  # raised once the save is complete
            saving.save_model(tiny_model(fill=2.0), str(path), zipped=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sorted(os.listdir(tmp_path)) == ["m_folder"]
    assert same_weights(weights_of(saving.load_model(str(path))), weights_of(tiny_model(fill=2.0)))


def test_a_load_during_a_live_folder_swap_reads_the_old_folder_where_it_is(tmp_path):
    path = tmp_path / "m_folder"
    old = tmp_path / ".m_folder.gpuflow-old"
    saving.save_model(tiny_model(fill=1.0), str(path), zipped=False)
    os.rename(path, old)  # a live process (pytest's parent, by the name of its temporary) is between its renames
    (tmp_path / f".m_folder.{os.getppid()}.0123456789ab.gpuflow-tmpdir").mkdir()
    assert same_weights(weights_of(saving.load_model(str(path))), weights_of(tiny_model(fill=1.0)))
    assert old.is_dir() and not path.exists()  # moving it back would make that save's second rename fail


def test_a_folder_save_recovers_a_folder_left_aside(tmp_path):
    path = tmp_path / "m_folder"
    old = tmp_path / ".m_folder.gpuflow-old"
    saving.save_model(tiny_model(fill=1.0), str(path), zipped=False)
    os.rename(path, old)  # as a save killed between its two renames leaves it
    with pytest.raises(FileExistsError):  # the model is still there, so overwrite=False refuses
        saving.save_model(tiny_model(fill=2.0), str(path), zipped=False, overwrite=False)
    assert path.is_dir() and not old.exists()
    saving.save_model(tiny_model(fill=1.0), str(tmp_path / "copy"), zipped=False)
    os.rename(tmp_path / "copy", old)  # as a save killed after its renames leaves it
    saving.save_model(tiny_model(fill=2.0), str(path), zipped=False)
    assert sorted(os.listdir(tmp_path)) == ["m_folder"]
    assert same_weights(weights_of(saving.load_model(str(path))), weights_of(tiny_model(fill=2.0)))


# =========================================================================================
# Hostile .keras archives: each member is read only as far as it can legitimately need
# =========================================================================================
def _declare_size(data, member, size):
    """The zip ``data`` with the uncompressed size its central directory declares for ``member`` set to ``size``."""
    data = bytearray(data)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_len = int.from_bytes(data[at + 28:at + 30], "little")
        if data[at + 46:at + 46 + name_len] == member.encode():
            data[at + 24:at + 28] = size.to_bytes(4, "little")
            return bytes(data)
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{member} not in the archive")


def _keras_zip_with(tmp_path, name, member, payload, compression=zipfile.ZIP_DEFLATED):
    """A .keras file from a real save, with ``member`` replaced by ``payload`` (deflated: tiny on disk)."""
    good = tmp_path / "good.keras"
    saving.save_model(tiny_model(), str(good))
    path = tmp_path / name
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w") as z:
        for info in src.infolist():
            z.writestr(info.filename, payload if info.filename == member else src.read(info.filename),
                       compress_type=compression if info.filename == member else zipfile.ZIP_STORED)
    return path


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("lie", ["none", "small"])
def test_a_config_member_larger_than_the_limit_is_refused_without_being_read(tmp_path, monkeypatch, lie):
    monkeypatch.setattr(keras_zip, "_MEMBER_LIMIT", 64 << 10)
    path = _keras_zip_with(tmp_path, "bomb.keras", "config.json", b" " * (4 << 20))  # 4 MiB of spaces, 4 KiB stored
    assert path.stat().st_size < 64 << 10
    if lie == "small":  # the directory claims 100 bytes: the stream's real size is found while reading
        path.write_bytes(_declare_size(path.read_bytes(), "config.json", 100))
    errors = []

    def load():
        with pytest.raises(ValueError) as e:
            saving.load_model(str(path))
        errors.append(str(e.value))
    assert _peak_bytes(load) < 1 << 20
    assert "bomb.keras" in errors[0] and "'config.json'" in errors[0]
    if lie == "none":
        assert "at most 65536 bytes" in errors[0] and f"{4 << 20} bytes (declared)" in errors[0]
    else:
        assert "corrupt" in errors[0]


def test_a_member_whose_size_lies_is_never_read_past_the_limit():
    with pytest.raises(ValueError, match=r"m.keras: refusing the member 'config.json'.*at most 50 bytes.*"
                                         r"more than 50 bytes \(read; 10 declared\)"):
        keras_zip._read_limited(io.BytesIO(b"x" * 1000), 10, 50, "m.keras", "config.json")


def test_a_weights_member_is_bounded_by_the_model_it_fills(tmp_path):
    path = _keras_zip_with(tmp_path, "w.keras", "model.weights.h5", b"\0" * 1024, compression=zipfile.ZIP_STORED)
    path.write_bytes(_declare_size(path.read_bytes(), "model.weights.h5", 3 << 30))  # 3 GiB for a 40-weight model
    with pytest.raises(ValueError, match=r"w.keras: refusing the member 'model.weights.h5'.*"
                                         r"Received: 3221225472 bytes \(declared\)"):
        saving.load_model(str(path))
    with pytest.raises(ValueError, match=r"w.keras: refusing the member 'model.weights.h5'"):
        saving.load_weights(tiny_model(), str(path))


def _patch_headers(data, fn):
    """The zip ``data`` with ``fn(data, offset, central)`` applied at every local and central directory header."""
    data = bytearray(data)
    for signature, central in ((b"PK\x03\x04", False), (b"PK\x01\x02", True)):
        at = data.find(signature)
        while at != -1:
            fn(data, at, central)
            at = data.find(signature, at + 4)
    return bytes(data)


def _encrypted(data, at, central):
    data[at + (8 if central else 6)] |= 1  # general purpose flag bit 0


def _method_99(data, at, central):  # AES, which zipfile does not implement
    data[at + (10 if central else 8):at + (12 if central else 10)] = (99).to_bytes(2, "little")


def _non_utf8_name(data, at, central):
    if central:
        data[at + 9] |= 0x08  # flag bit 11: the name is UTF-8 ...
        data[at + 46] = 0xFF  # ... but it is not


def _corrupt_stream(data, at, central):
    if not central and data[at + 30:at + 41] == b"config.json":
        data[at + 45:at + 65] = b"\xff" * 20


@pytest.mark.parametrize("compression, patch, needle", [
    (zipfile.ZIP_STORED, _encrypted, "RuntimeError: File <ZipInfo filename='config.json'"),
    (zipfile.ZIP_STORED, _method_99, "NotImplementedError: That compression method is not supported"),
    (zipfile.ZIP_STORED, _non_utf8_name, "not a valid .keras file: it is not a zip archive (UnicodeDecodeError"),
    (zipfile.ZIP_LZMA, _corrupt_stream, "LZMAError"),
    (zipfile.ZIP_BZIP2, _corrupt_stream, "OSError: Invalid data stream"),
    (zipfile.ZIP_DEFLATED, _corrupt_stream, "error: Error -3 while decompressing"),
])
def test_a_zip_that_zipfile_cannot_read_is_a_value_error_naming_the_file(tmp_path, compression, patch, needle):
    path = _keras_zip_with(tmp_path, "bad.keras", "config.json", json.dumps(saving.serialize_keras_object(tiny_model())),
                           compression=compression)
    path.write_bytes(_patch_headers(path.read_bytes(), patch))
    with pytest.raises(ValueError) as e:
        saving.load_model(str(path))
    assert str(e.value).startswith(str(path)) and needle in str(e.value), e.value


def test_a_config_file_in_a_folder_is_bounded_too(tmp_path, monkeypatch):
    path = tmp_path / "m_folder"
    saving.save_model(tiny_model(), str(path), zipped=False)
    monkeypatch.setattr(keras_zip, "_MEMBER_LIMIT", 64 << 10)
    (path / "config.json").write_bytes(b" " * (1 << 20))
    with pytest.raises(ValueError, match=r"m_folder: refusing the member 'config.json'.*1048576 bytes \(declared\)"):
        saving.load_model(str(path))


# =========================================================================================
# Hostile weight files: every dataset's header is checked against the model before its data is read
# =========================================================================================
HUGE = (976562, 1024)  # 3.9 GB of float32 that an unwritten chunked dataset claims in a few KB


def _replace_dataset(path, name, shape, dtype="float32"):
    with h5py.File(path, "a") as f:
        del f[name]
        f.create_dataset(name, shape=shape, dtype=dtype, chunks=(1,) * len(shape))  # no chunk written: tiny file


@pytest.fixture
def no_read_of_huge_datasets(monkeypatch):
    real = h5py.Dataset.__getitem__

    def getitem(self, key):
        assert int(np.prod(self.shape or ())) < 10 ** 6, f"the data of {self.name} {self.shape} was read"
        return real(self, key)
    monkeypatch.setattr(h5py.Dataset, "__getitem__", getitem)


@pytest.mark.parametrize("shape", [HUGE, (10 ** 15,)])
def test_a_weights_file_claiming_a_huge_dataset_fails_before_reading_it(tmp_path, no_read_of_huge_datasets, shape):
    path = str(tmp_path / "m.weights.h5")
    saving.save_weights(tiny_model(), path)
    _replace_dataset(path, "layers/dense/vars/0", shape)
    assert os.path.getsize(path) < 100_000
    with pytest.raises(ValueError) as e:
        saving.load_weights(tiny_model(), path)
    msg = str(e.value)
    assert "m.weights.h5" in msg and "'/layers/dense/vars/0'" in msg
    assert "Expected: (3, 4)" in msg and f"Received: {shape}" in msg


def test_a_dataset_stored_in_chunks_larger_than_itself_is_refused_before_reading(tmp_path, monkeypatch):
    path = str(tmp_path / "m.weights.h5")
    saving.save_weights(tiny_model(), path)
    with h5py.File(path, "a") as f:  # a (3, 4) kernel whose one chunk would be 4 MiB (1 GiB in the probe) to inflate
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", shape=(3, 4), maxshape=(None, None), chunks=(1024, 1024),
                         dtype="float32", compression="gzip")
    monkeypatch.setattr(h5py.Dataset, "__getitem__", lambda self, key: pytest.fail(f"read {self.name}"))
    with pytest.raises(ValueError, match=r"(?s)m.weights.h5.*'/layers/dense/vars/0' for 'dense/kernel' is stored in "
                                         r"chunks larger.*at most 1048576 bytes. Received: chunks=\(1024, 1024\)"):
        saving.load_weights(tiny_model(), path)


def test_small_chunks_still_load(tmp_path):
    path = str(tmp_path / "m.weights.h5")
    model = tiny_model(fill=3.0)
    saving.save_weights(model, path)
    with h5py.File(path, "a") as f:  # as h5py writes with compression: automatic chunks, under 1 MiB
        del f["layers/dense/vars/0"]
        f.create_dataset("layers/dense/vars/0", data=np.full((3, 4), 3.0, "float32"), maxshape=(None, None),
                         compression="gzip")
    loaded = tiny_model()
    saving.load_weights(loaded, path)
    assert same_weights(weights_of(loaded), weights_of(model))


def test_a_dataset_that_does_not_hold_numbers_is_refused(tmp_path):
    path = str(tmp_path / "m.weights.h5")
    saving.save_weights(tiny_model(), path)
    with h5py.File(path, "a") as f:
        del f["layers/dense_1/vars/1"]
        f["layers/dense_1/vars/1"] = np.array([b"ab", b"cd"])
    with pytest.raises(ValueError, match=r"(?s)m.weights.h5.*'/layers/dense_1/vars/1'.* does not hold numbers. "
                                         r"Expected: dtype=float32. Received: dtype=\|S2"):
        saving.load_weights(tiny_model(), path)


def test_a_legacy_h5_claiming_a_huge_dataset_fails_before_reading_it(tmp_path, no_read_of_huge_datasets):
    path = str(tmp_path / "m.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saving.save_model(tiny_model(), path)
    with h5py.File(path, "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f["model_weights/dense"].attrs["weight_names"]]
    kernel = [n for n in names if "kernel" in n][0]
    _replace_dataset(path, f"model_weights/dense/{kernel}", HUGE)
    for load in (lambda: saving.load_model(path), lambda: saving.load_weights(tiny_model(), path)):
        with pytest.raises(ValueError) as e:
            load()
        msg = str(e.value)
        assert "m.h5" in msg and f"/model_weights/dense/{kernel}" in msg
        assert "Expected: (3, 4)" in msg and f"Received: {HUGE}" in msg


@pytest.mark.parametrize("units", [10 ** 17, 10 ** 19])  # 2.8 EiB: no memory has it; past NumPy's largest array
def test_a_config_asking_for_weights_larger_than_memory_is_a_clear_error(tmp_path, units):
    path = tmp_path / "m.keras"
    saving.save_model(tiny_model(), str(path))
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    config["config"]["layers"][1]["config"]["units"] = units
    hostile = tmp_path / "huge.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(hostile, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", src.read("model.weights.h5"))
    for load in (lambda: saving.load_model(str(hostile)), lambda: saving.model_from_json(json.dumps(config))):
        with pytest.raises(ValueError) as e:
            load()
        msg = str(e.value)
        assert "Could not build Dense 'dense'" in msg and f'"units": {units}' in msg
    with pytest.raises(ValueError, match=r"Could not build Dense 'dense' in .*huge.keras"):
        saving.load_model(str(hostile))


# =========================================================================================
# Loading is all or nothing
# =========================================================================================
def deep_model(last=2, fill=None):
    model = keras.Sequential([keras.Input((3,))] + [layers.Dense(4, name=f"d{i}") for i in range(3)]
                             + [layers.Dense(last, name="d3")])
    model.compile(keras.optimizers.Adam(), "mse")
    if fill is not None:
        for v in model.weights:
            v.assign(np.full(v.shape, fill, "float32"))
    return model


def _reads_fail_after(monkeypatch, n):
    """Makes the (n+1)-th read of a dataset's data fail as a corrupt file would."""
    real, calls = h5py.Dataset.__getitem__, []

    def getitem(self, key):
        calls.append(self.name)
        if len(calls) > n:
            raise OSError("Can't synchronously read data (wrong B-tree signature)")
        return real(self, key)
    monkeypatch.setattr(h5py.Dataset, "__getitem__", getitem)


@pytest.mark.parametrize("ext", ["weights.h5", "h5"])
def test_a_load_weights_that_fails_on_the_last_layer_changes_nothing(tmp_path, ext):
    path = str(tmp_path / f"m.{ext}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (saving.save_weights if ext == "weights.h5" else saving.save_model)(deep_model(last=3, fill=2.0), path)
    model = deep_model(fill=1.0)
    before = weights_of(model)
    assert len(before) == 8
    with pytest.raises(ValueError, match=r"(?s)'d3'.*Expected: \(4, 2\). Received: \(4, 3\).*No variable was changed"):
        saving.load_weights(model, path)
    assert same_weights(weights_of(model), before)


@pytest.mark.parametrize("ext", ["weights.h5", "h5", "keras"])
def test_a_read_error_midway_changes_no_variable(tmp_path, monkeypatch, ext):
    path = str(tmp_path / f"m.{ext}")
    trained = deep_model(fill=2.0)
    trained.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), epochs=1, verbose=0)  # optimizer state too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (saving.save_weights if ext == "weights.h5" else saving.save_model)(trained, path)
    model = deep_model(fill=1.0)
    model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    before, opt_before = weights_of(model), [v.numpy().copy() for v in model.optimizer.variables]
    _reads_fail_after(monkeypatch, 12)  # the model's 8 variables read, the optimizer's being read
    with pytest.raises(ValueError, match=r"m\..*the dataset '/.*' cannot be read; the file is truncated or corrupt"):
        saving.load_weights(model, path)
    assert same_weights(weights_of(model), before)
    assert same_weights([v.numpy() for v in model.optimizer.variables], opt_before)


def test_optimizer_state_that_does_not_fit_is_skipped_whole(tmp_path):
    path = str(tmp_path / "m.weights.h5")
    trained = deep_model(fill=2.0)
    trained.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), epochs=1, verbose=0)
    saving.save_weights(trained, path)
    with h5py.File(path, "a") as f:  # the last slot does not fit; the ones before it would
        last = str(len(f["optimizer/vars"]) - 1)
        del f[f"optimizer/vars/{last}"]
        f[f"optimizer/vars/{last}"] = np.zeros((5,), "float32")
    model = deep_model(fill=1.0)
    model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    opt_before = [v.numpy().copy() for v in model.optimizer.variables]
    with pytest.warns(UserWarning, match="optimizer starts fresh"):
        saving.load_weights(model, path)
    assert same_weights(weights_of(model), weights_of(trained))  # the model's weights still load
    assert same_weights([v.numpy() for v in model.optimizer.variables], opt_before)


# =========================================================================================
# A config or HDF5 layout holding values of the wrong kind is a ValueError naming the file
# =========================================================================================
def _functional_config():
    inp = keras.Input((4,))
    return saving.serialize_keras_object(keras.Model(inp, layers.Dense(2, name="out")(inp)))


def _set_history(c, value):
    c["config"]["layers"][1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = value


@pytest.mark.parametrize("mutate, needle", [
    (lambda c: c["config"]["layers"][1]["inbound_nodes"].__setitem__(0, "x"), "AttributeError"),  # a node: a dict
    (lambda c: _set_history(c, [c["config"]["layers"][0]["name"], 0, 5]), "IndexError"),  # no tensor 5
    (lambda c: c["config"]["layers"][1]["config"].__setitem__("name", {"class_name": "__bytes__", "config": {"value": 5}}),
     "Could not rebuild Dense"),
    (lambda c: c.update(class_name="__numpy__", config="x"), "Invalid config"),
])
def test_a_config_with_values_of_the_wrong_kind_is_a_value_error_naming_the_file(tmp_path, mutate, needle):
    config = _functional_config()
    mutate(config)
    path = tmp_path / "bad.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", b"")
    with pytest.raises(ValueError, match=re.escape(str(path))) as e:
        saving.load_model(str(path))
    assert needle in str(e.value)


def test_a_compile_config_that_is_not_a_dict_leaves_the_model_uncompiled_with_a_warning(tmp_path):
    model = tiny_model()
    model.compile("adam", "mse")
    path = tmp_path / "m.keras"
    saving.save_model(model, str(path))
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    config["compile_config"] = "adam"
    hostile = _keras_zip_with(tmp_path, "hostile.keras", "config.json", json.dumps(config))
    with pytest.warns(UserWarning, match=r"hostile.keras was loaded but not compiled"):
        assert saving.load_model(str(hostile)).optimizer is None
    legacy = str(tmp_path / "m.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saving.save_model(model, legacy)
    with h5py.File(legacy, "a") as f:
        f.attrs["training_config"] = b"[1]"
    with pytest.warns(UserWarning, match=r"m.h5 was loaded but not compiled"):
        saving.load_model(legacy)


def test_hdf5_layouts_of_the_wrong_kind_are_value_errors_naming_the_file(tmp_path):
    path = str(tmp_path / "m.weights.h5")
    saving.save_weights(tiny_model(), path)
    with h5py.File(path, "a") as f:  # a dataset where the group of the layer's variables belongs
        del f["layers/dense/vars"]
        f["layers/dense/vars"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"(?s)m.weights.h5.*Layer 'dense': expected an HDF5 group at "
                                         r"'/layers/dense/vars', found Dataset.*No variable was changed"):
        saving.load_weights(tiny_model(), path)
    legacy = str(tmp_path / "m.h5")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saving.save_model(tiny_model(), legacy)
    with h5py.File(legacy, "a") as f:
        f["model_weights/dense"].attrs["weight_names"] = 5
    for load in (lambda: saving.load_model(legacy), lambda: saving.load_weights(tiny_model(), legacy)):
        with pytest.raises(ValueError, match=r"m.h5: the attribute `weight_names` of '/model_weights/dense' must be "
                                             r"a list of names"):
            load()
    with h5py.File(legacy, "a") as f:
        del f["model_weights"]
        f["model_weights"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"m.h5: expected an HDF5 group at '/model_weights', found Dataset"):
        saving.load_model(legacy)


# =========================================================================================
# JSON nested too deeply is a ValueError, not a RecursionError
# =========================================================================================
DEEP = '{"a": ' * 5000 + "1" + "}" * 5000


def test_deeply_nested_json_is_a_value_error_naming_the_file(tmp_path):
    path = tmp_path / "deep.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", DEEP)
        z.writestr("model.weights.h5", b"")
    with pytest.raises(ValueError, match=r"deep.keras: config.json is nested too deeply"):
        saving.load_model(str(path))
    with pytest.raises(ValueError, match=r"model_from_json: the string is nested too deeply"):
        saving.model_from_json(DEEP)
    legacy = str(tmp_path / "deep.h5")
    with h5py.File(legacy, "w") as f:
        f.attrs["model_config"] = DEEP.encode()
    with pytest.raises(ValueError, match=r"deep.h5: the `model_config` attribute is nested too deeply"):
        saving.load_model(legacy)


def test_a_config_too_deep_to_rebuild_is_a_value_error():
    deep = 1
    for _ in range(5000):
        deep = {"class_name": "Sequential", "config": {"layers": [deep]}, "module": "keras"}
    with pytest.raises(ValueError, match="nested too deeply to be rebuilt"):
        saving.deserialize_keras_object(deep)
    deep = [1]
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deeply to be rebuilt"):
        saving.deserialize_keras_object(deep)


def test_model_save_passes_include_optimizer_and_refuses_unknown_arguments(tmp_path):
    import h5py
    from gpuflow import keras
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), epochs=1, verbose=0)
    with_opt, without = str(tmp_path / "a.h5"), str(tmp_path / "b.h5")
    model.save(with_opt)
    model.save(without, include_optimizer=False)
    with h5py.File(with_opt, "r") as f:
        assert "optimizer_weights" in f
    with h5py.File(without, "r") as f:
        assert "optimizer_weights" not in f
    with pytest.raises(ValueError, match="not supported"):
        model.save(str(tmp_path / "c.keras"), no_such_option=1)
