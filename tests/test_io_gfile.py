"""tf.io.gfile and tf.io.read_file / write_file on local files (TensorFlow 2.21's behaviour: byte offsets in text
mode, lazy opening, TensorFlow's error types)."""
import os

import pytest

import gpuflow as tf

gfile = tf.io.gfile


def test_gfile_text_and_binary_modes(tmp_path):
    p = tmp_path / "a.txt"
    with gfile.GFile(p, "w") as f:
        assert f.name == str(p) and f.mode == "w"
        f.write("héllo\nworld\n")
        f.write(b"last")
        assert f.tell() == 17  # bytes: "é" is two
        with pytest.raises(tf.errors.PermissionDeniedError, match="open for reading"):
            f.read()
    with gfile.GFile(str(p)) as f:
        assert f.size() == 17 and f.read(3) == "hé" and f.tell() == 3
        assert f.readline() == "llo\n" and f.readlines() == ["world\n", "last"]
        f.seek(0)
        assert list(f) == ["héllo\n", "world\n", "last"]
        f.seek(-4, 2)
        assert f.read() == "last"
        with pytest.raises(tf.errors.PermissionDeniedError, match="open for writing"):
            f.write("x")
    with gfile.Open(p, "rb") as f:
        assert f.read(3) == "hé".encode() and f.readline() == b"llo\n" and next(f) == b"world\n"
    with gfile.GFile(p, "a") as f:
        f.write("!")
    assert p.read_bytes() == "héllo\nworld\nlast!".encode()
    with pytest.raises(TypeError, match="Expected binary or unicode string, got 5"):
        gfile.GFile(p, "w").write(5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="mode is not"):
        gfile.GFile(p, "x")


def test_gfile_opens_lazily(tmp_path):
    missing = tmp_path / "nope"
    f = gfile.GFile(missing)  # no error until the first read, as in TensorFlow
    with pytest.raises(tf.errors.NotFoundError, match=f"{missing}; No such file"):
        f.read()
    with pytest.raises(FileNotFoundError):  # TensorFlow's error is also Python's
        f.read()
    gfile.GFile(missing, "w").close()
    assert not gfile.exists(missing)  # nothing written, nothing created
    w = gfile.GFile(missing, "w")
    w.write("x")
    w.close()
    w.close()
    assert missing.read_text() == "x"


def test_directories_listing_walk_and_stat(tmp_path):
    gfile.makedirs(tmp_path / "x" / "y")
    gfile.makedirs(tmp_path / "x" / "y")  # an existing directory is fine
    gfile.mkdir(tmp_path / "sub")
    gfile.mkdir(tmp_path / "sub")
    with pytest.raises(tf.errors.NotFoundError):
        gfile.mkdir(tmp_path / "no" / "parent")
    (tmp_path / "f.txt").write_bytes(b"12345")
    (tmp_path / "x" / "g.txt").write_bytes(b"")
    with pytest.raises(tf.errors.FailedPreconditionError, match="not a directory"):
        gfile.makedirs(tmp_path / "f.txt" / "q")
    assert sorted(gfile.listdir(tmp_path)) == ["f.txt", "sub", "x"]
    with pytest.raises(tf.errors.NotFoundError, match="Could not find directory"):
        gfile.listdir(tmp_path / "f.txt")
    assert gfile.isdir(tmp_path / "x") and not gfile.isdir(tmp_path / "f.txt") and not gfile.isdir(tmp_path / "z")
    assert gfile.glob(str(tmp_path / "*.txt")) == [str(tmp_path / "f.txt")]
    assert sorted(gfile.glob([str(tmp_path / "*.txt"), str(tmp_path / "x" / "*")])) == sorted(
        [str(tmp_path / "f.txt"), str(tmp_path / "x" / "g.txt"), str(tmp_path / "x" / "y")])
    st = gfile.stat(tmp_path / "f.txt")
    assert (st.length, st.is_directory, st.mtime_nsec) == (5, False, os.stat(tmp_path / "f.txt").st_mtime_ns)
    assert gfile.stat(tmp_path / "x").is_directory
    with pytest.raises(tf.errors.NotFoundError):
        gfile.stat(tmp_path / "z")
    walked = {d: (sorted(s), sorted(f)) for d, s, f in gfile.walk(str(tmp_path))}
    assert walked == {str(tmp_path): (["sub", "x"], ["f.txt"]), str(tmp_path / "sub"): ([], []),
                      str(tmp_path / "x"): (["y"], ["g.txt"]), str(tmp_path / "x" / "y"): ([], [])}
    bottom_up = [d for d, _, _ in gfile.walk(str(tmp_path), topdown=False)]
    assert bottom_up.index(str(tmp_path / "x" / "y")) < bottom_up.index(str(tmp_path / "x")) < len(bottom_up) - 1
    assert list(gfile.walk(tmp_path / "missing")) == []
    assert gfile.join("a", "b", "c.txt") == os.path.join("a", "b", "c.txt")


def test_rename_copy_remove_rmtree(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_text("A")
    b.write_text("B")
    with pytest.raises(tf.errors.AlreadyExistsError, match="already exists"):
        gfile.rename(a, b)
    with pytest.raises(tf.errors.AlreadyExistsError):
        gfile.copy(a, b)
    gfile.copy(a, c)
    gfile.copy(b, c, overwrite=True)
    gfile.rename(a, b, overwrite=True)
    assert (b.read_text(), c.read_text(), a.exists()) == ("A", "B", False)
    with pytest.raises(tf.errors.NotFoundError):
        gfile.rename(a, tmp_path / "d")
    with pytest.raises(tf.errors.NotFoundError):
        gfile.copy(a, tmp_path / "d")
    gfile.remove(c)
    with pytest.raises(tf.errors.NotFoundError):
        gfile.remove(c)
    (tmp_path / "t" / "u").mkdir(parents=True)
    (tmp_path / "t" / "u" / "f").write_text("f")
    with pytest.raises(tf.errors.FailedPreconditionError, match="Is a directory"):
        gfile.remove(tmp_path / "t")
    gfile.rmtree(tmp_path / "t")
    gfile.rmtree(b)  # a file too, as in TensorFlow
    assert os.listdir(tmp_path) == []
    with pytest.raises(tf.errors.NotFoundError, match="not found"):
        gfile.rmtree(tmp_path / "t")


def test_read_file_write_file(tmp_path):
    p = tmp_path / "new" / "dir" / "f.bin"
    tf.io.write_file(str(p), b"\x00\xffdata")  # missing parents are created
    assert tf.io.read_file(p) == b"\x00\xffdata"
    tf.io.write_file(p, "é")
    assert tf.io.read_file(p) == "é".encode()
    with pytest.raises(tf.errors.NotFoundError, match="No such file"):
        tf.io.read_file(tmp_path / "missing")


@pytest.mark.parametrize("path", ["gs://bucket/x", "s3://bucket/x", "hdfs://host/x"])
def test_only_local_paths(path):
    for call in (lambda: gfile.exists(path), lambda: gfile.GFile(path), lambda: tf.io.read_file(path)):
        with pytest.raises(tf.errors.UnimplementedError, match=f"only.*Received: path='{path}'"):
            call()


def test_file_url_is_local(tmp_path):
    (tmp_path / "f").write_text("x")
    assert gfile.exists(f"file://{tmp_path}/f") and gfile.get_registered_schemes() == ["file", ""]
