"""keras.utils.get_file: Keras 3's cache layout, hash rules and extraction folders; atomic downloads; safe
extraction. No test touches the network: ``file_utils.open_url`` is replaced in every test."""
import hashlib
import io
import os
import tarfile
import urllib.error
import zipfile

import pytest

import gpuflow as tf
from gpuflow.keras.utils import file_utils


class _Response(io.BytesIO):
    pass


@pytest.fixture
def net(monkeypatch, tmp_path):
    """KERAS_HOME in tmp_path and a fake network serving ``files`` ({url: bytes}); returns (files, opened)."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    files, opened = {}, []

    def fake_open(url):
        opened.append(url)
        if url not in files:
            raise urllib.error.URLError("network is unreachable (test)")
        return _Response(files[url])
    monkeypatch.setattr(file_utils, "open_url", fake_open)
    return files, opened


def _tar(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_downloads_into_keras_cache_once_and_checks_the_hash(net, tmp_path):
    files, opened = net
    url = "https://example.invalid/data/set.npz"
    files[url] = b"payload"
    sha = hashlib.sha256(b"payload").hexdigest()
    path = tf.keras.utils.get_file(origin=url, file_hash=sha)  # fname from the URL, cache_subdir "datasets"
    assert path == str(tmp_path / "keras" / "datasets" / "set.npz") and open(path, "rb").read() == b"payload"
    assert tf.keras.utils.get_file("set.npz", url, file_hash=sha) == path and opened == [url]  # cached
    md5 = hashlib.md5(b"payload").hexdigest()
    assert tf.keras.utils.get_file("set.npz", url, md5_hash=md5) == path and len(opened) == 1  # md5, deprecated arg
    tf.keras.utils.get_file("set.npz", url, force_download=True)
    assert len(opened) == 2


def test_a_stale_file_is_downloaded_again_and_a_bad_download_is_discarded(net, tmp_path, capsys):
    files, opened = net
    url = "https://example.invalid/w.h5"
    files[url] = b"new"
    target = tmp_path / "keras" / "models" / "w.h5"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"old")
    md5 = hashlib.md5(b"new").hexdigest()
    assert file_utils.get_file("w.h5", url, file_hash=md5, cache_subdir="models") == str(target)
    assert target.read_bytes() == b"new" and "re-download" in capsys.readouterr().out
    with pytest.raises(ValueError, match="Checksum mismatch .* expected MD5 0+"):
        file_utils.get_file("w.h5", url, file_hash="0" * 32, cache_subdir="models", force_download=True)
    assert target.read_bytes() == b"new"  # the old file survives a bad download
    assert sorted(os.listdir(target.parent)) == ["w.h5"]  # and no temporary file is left


def test_offline_error_says_where_it_looked_and_where_to_put_the_file(net, tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        file_utils.get_file("x.bin", "https://example.invalid/x.bin", file_hash="a" * 64)
    msg = str(e.value)
    assert str(tmp_path / "keras" / "datasets" / "x.bin") in msg and "https://example.invalid/x.bin" in msg
    assert "sha256 " + "a" * 64 in msg


def test_argument_errors_follow_keras(net):
    with pytest.raises(ValueError, match='specify the "origin" argument'):
        file_utils.get_file("a")
    with pytest.raises(ValueError, match="Paths are no longer accepted as the `fname` argument"):
        file_utils.get_file(os.path.join("sub", "a"), "https://example.invalid/a")
    with pytest.raises(ValueError, match="Can't parse the file name"):
        file_utils.get_file(origin="https://example.invalid/")
    with pytest.raises(ValueError, match="hash_algorithm='crc'"):
        file_utils.get_file("a", "https://example.invalid/a", file_hash="0", hash_algorithm="crc")


def test_extract_uses_keras_folders(net, tmp_path):
    files, _ = net
    files["https://example.invalid/pack.tar.gz"] = _tar({"pack/a.txt": b"A"})
    out = file_utils.get_file("pack.tar.gz", "https://example.invalid/pack.tar.gz", extract=True)
    assert out == str(tmp_path / "keras" / "datasets" / "pack_extracted")
    assert open(os.path.join(out, "pack", "a.txt"), "rb").read() == b"A"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("b.txt", b"B")
    files["https://example.invalid/zipped"] = buf.getvalue()
    out = file_utils.get_file(origin="https://example.invalid/zipped", extract=True)  # no fname: "<name>_archive"
    assert out == str(tmp_path / "keras" / "datasets" / "zipped")
    assert os.path.isfile(out + "_archive") and open(os.path.join(out, "b.txt"), "rb").read() == b"B"


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/evil.txt", "a/../../evil.txt"])
def test_extraction_refuses_members_outside_the_folder(tmp_path, member):
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(_tar({"ok.txt": b"ok", member: b"x"}))
    dest = tmp_path / "out"
    with pytest.raises(ValueError, match="outside"):
        file_utils.extract_archive(str(archive), str(dest))
    assert not (tmp_path / "evil.txt").exists() and not dest.exists()  # nothing extracted


def test_extraction_refuses_a_link_out_of_the_folder(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        t.addfile(link)
    (tmp_path / "bad.tar").write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="outside"):
        file_utils.extract_archive(str(tmp_path / "bad.tar"), str(tmp_path / "out"))
    assert file_utils.extract_archive(str(tmp_path / "bad.tar"), str(tmp_path / "out"), archive_format="zip") is False
