"""Tests for gpuflow.keras.datasets: IDX parsing, search order, downloads, errors.

No test touches the network: `file_utils.open_url` is replaced in every test.
"""

import gzip
import hashlib
import io
import os
import struct
import urllib.error

import numpy as np
import pytest

from gpuflow.keras import datasets
from gpuflow.keras.datasets import _idx, fashion_mnist, mnist
from gpuflow.keras.utils import file_utils

REAL_FASHION = "/usr/share/datasets/fashion-mnist"
IDX_TYPES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype(">i2"): 0x0B,
             np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(array):
    """Encodes `array` as IDX, written independently of the reader under test."""
    array = np.asarray(array)
    big = array.astype(array.dtype.newbyteorder(">"))
    header = struct.pack(">HBB", 0, IDX_TYPES[big.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + big.tobytes()


def write(path, data, gz):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def tiny(seed=0, n_train=5, n_test=3):
    """A tiny MNIST-style dataset: ((x_train, y_train), (x_test, y_test)), uint8."""
    rng = np.random.default_rng(seed)
    return ((rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             rng.integers(0, 10, n_train, dtype=np.uint8)),
            (rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             rng.integers(0, 10, n_test, dtype=np.uint8)))


def make_set(directory, seed=0, gz=True):
    """Writes tiny(seed) as the four IDX files in `directory`; returns the arrays."""
    want = tiny(seed)
    (x_train, y_train), (x_test, y_test) = want
    for name, array in zip(_idx.IDX_FILES, (x_train, y_train, x_test, y_test)):
        write(directory / (name + (".gz" if gz else "")), idx_bytes(array), gz)
    return want


def assert_same(result, expected):
    (xa, ya), (xb, yb) = result
    (ea, fa), (eb, fb) = expected
    for got, want in ((xa, ea), (ya, fa), (xb, eb), (yb, fb)):
        assert got.dtype == np.uint8 and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def no_network(url):
    raise AssertionError(f"test tried to open {url}")


@pytest.fixture(autouse=True)
def places(tmp_path, monkeypatch):
    """Points every search location into tmp_path and forbids the network."""
    dirs = {"home": tmp_path / "gpuflow", "keras": tmp_path / "keras",
            "system": tmp_path / "system"}
    monkeypatch.setenv("GPUFLOW_HOME", str(dirs["home"]))
    monkeypatch.setenv("KERAS_HOME", str(dirs["keras"]))
    monkeypatch.setattr(_idx, "SYSTEM_DIR", str(dirs["system"]))
    monkeypatch.setattr(file_utils, "open_url", no_network)
    dirs["fashion_cache"] = dirs["home"] / "datasets" / "fashion-mnist"
    dirs["mnist_cache"] = dirs["home"] / "datasets" / "mnist"
    return dirs


def serve(monkeypatch, files):
    """Makes `file_utils.open_url` serve `files` ({url: bytes}); returns the list of URLs opened."""
    opened = []

    def fake_open(url):
        opened.append(url)
        if url not in files:
            raise urllib.error.HTTPError(url, 404, "Not Found", None, None)
        return io.BytesIO(files[url])

    monkeypatch.setattr(file_utils, "open_url", fake_open)
    return opened


# --- IDX reader -------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype,shape", [("u1", (4, 3, 2)), ("i1", (5,)), (">i2", (2, 3)),
                                         (">i4", (3,)), (">f4", (2, 2)), (">f8", (1, 2, 1, 2))])
def test_read_idx_round_trip(tmp_path, gz, dtype, shape):
    want = (np.arange(np.prod(shape)) * 7 - 5).astype(dtype).reshape(shape)
    got = _idx.read_idx(write(tmp_path / "f", idx_bytes(want), gz))
    assert got.shape == shape and got.dtype == want.dtype.newbyteorder("=")
    assert got.dtype.isnative and got.flags.writeable
    np.testing.assert_array_equal(got, want)


def test_compression_is_detected_from_content_not_name(tmp_path):
    want = np.arange(12, dtype=np.uint8).reshape(3, 4)
    raw_named_gz = write(tmp_path / "a.gz", idx_bytes(want), gz=False)
    gz_named_raw = write(tmp_path / "b", idx_bytes(want), gz=True)
    np.testing.assert_array_equal(_idx.read_idx(raw_named_gz), want)
    np.testing.assert_array_equal(_idx.read_idx(gz_named_raw), want)


GOOD = idx_bytes(np.zeros((2, 28, 28), np.uint8))


@pytest.mark.parametrize("data,gz,match", [
    (b"", False, "too short"),
    (b"\x00\x00\x08", False, "too short"),
    (b"\x00\x00\x07\x03" + GOOD[4:], False, "not an IDX file.*0x00000703"),
    (b"\x12\x34\x08\x03" + GOOD[4:], False, "not an IDX file.*0x12340803"),
    (GOOD[:10], False, "truncated IDX header"),
    (GOOD[:-1], False, r"truncated.*shape \(2, 28, 28\).*1584 bytes.*1583 bytes"),
    (GOOD + b"\x00", False, "trailing bytes"),
    (GOOD[:-100], True, "truncated"),
], ids=["empty", "short-magic", "bad-type", "bad-magic", "short-header", "truncated-data",
        "trailing", "truncated-payload-in-gz"])
def test_read_idx_rejects_corrupt_files(tmp_path, data, gz, match):
    path = write(tmp_path / "train-images-idx3-ubyte", data, gz)
    with pytest.raises(ValueError, match=match) as info:
        _idx.read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("cut", [30, -5], ids=["truncated-stream", "missing-trailer"])
def test_read_idx_rejects_truncated_gzip(tmp_path, cut):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(GOOD)[:cut])
    with pytest.raises(ValueError, match="corrupt or truncated gzip") as info:
        _idx.read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_rejects_corrupt_gzip_crc(tmp_path):
    data = bytearray(gzip.compress(GOOD))
    data[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    path = tmp_path / "x.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{path}: corrupt or truncated gzip"):
        _idx.read_idx(path)


def test_load_rejects_wrong_kind_of_file(places):
    make_set(places["fashion_cache"])
    labels = places["fashion_cache"] / "train-labels-idx1-ubyte.gz"
    images = places["fashion_cache"] / "train-images-idx3-ubyte.gz"
    images.write_bytes(labels.read_bytes())
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz: expected images as "
                       r"uint8 with 3 dimension.*0x00000803.*shape=\(5,\)"):
        fashion_mnist.load_data()


def test_load_rejects_count_mismatch(places):
    make_set(places["fashion_cache"])
    write(places["fashion_cache"] / "t10k-labels-idx1-ubyte.gz",
          idx_bytes(np.zeros(4, np.uint8)), gz=True)
    with pytest.raises(ValueError, match="holds 3 images but .*t10k-labels.* holds 4 labels"):
        fashion_mnist.load_data()


# --- search order -----------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_fashion_loads_from_cache(places, gz):
    want = make_set(places["fashion_cache"], gz=gz)
    assert_same(fashion_mnist.load_data(), want)


def test_mixed_raw_and_gz_files(places):
    want = make_set(places["fashion_cache"], gz=True)
    path = places["fashion_cache"] / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.unlink()
    (places["fashion_cache"] / "t10k-images-idx3-ubyte").write_bytes(raw)
    assert_same(fashion_mnist.load_data(), want)


def test_search_order_cache_then_keras_then_system(places):
    system = make_set(places["system"] / "fashion-mnist", seed=1)
    assert_same(fashion_mnist.load_data(), system)
    keras = make_set(places["keras"] / "datasets" / "fashion-mnist", seed=2)
    assert_same(fashion_mnist.load_data(), keras)
    cache = make_set(places["fashion_cache"], seed=3)
    assert_same(fashion_mnist.load_data(), cache)


def test_incomplete_cache_falls_back_to_system(places):
    make_set(places["fashion_cache"], seed=1)
    (places["fashion_cache"] / "t10k-labels-idx1-ubyte.gz").unlink()
    system = make_set(places["system"] / "fashion-mnist", seed=2)
    assert_same(fashion_mnist.load_data(), system)


def test_gpuflow_home_default_is_under_user_home(monkeypatch, tmp_path):
    monkeypatch.delenv("GPUFLOW_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _idx.cache_dir("mnist") == str(tmp_path / ".gpuflow" / "datasets" / "mnist")


# --- downloads --------------------------------------------------------------

def upstream_files(seed=0):
    """Fake upstream .gz files and their SHA-256s."""
    rng = np.random.default_rng(seed)
    shapes = {"train-images-idx3-ubyte": (4, 28, 28), "train-labels-idx1-ubyte": (4,),
              "t10k-images-idx3-ubyte": (2, 28, 28), "t10k-labels-idx1-ubyte": (2,)}
    arrays = {n: rng.integers(0, 10, s, dtype=np.uint8) for n, s in shapes.items()}
    blobs = {n: gzip.compress(idx_bytes(a)) for n, a in arrays.items()}
    sha = {n: hashlib.sha256(b).hexdigest() for n, b in blobs.items()}
    urls = {fashion_mnist.BASE_URL + n + ".gz": b for n, b in blobs.items()}
    want = ((arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]),
            (arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]))
    return urls, sha, want


def test_download_verifies_and_caches(places, monkeypatch):
    urls, sha, want = upstream_files()
    monkeypatch.setattr(fashion_mnist, "SHA256", sha)
    opened = serve(monkeypatch, urls)
    assert_same(fashion_mnist.load_data(), want)
    assert sorted(opened) == sorted(urls)
    assert sorted(os.listdir(places["fashion_cache"])) == sorted(n + ".gz" for n in sha)
    monkeypatch.setattr(file_utils, "open_url", no_network)  # second load: from the cache
    assert_same(fashion_mnist.load_data(), want)


def test_download_fetches_only_what_the_cache_lacks(places, monkeypatch):
    urls, sha, want = upstream_files()
    monkeypatch.setattr(fashion_mnist, "SHA256", sha)
    cache = places["fashion_cache"]
    cache.mkdir(parents=True)
    for url, blob in list(urls.items())[:2]:
        (cache / url.rsplit("/", 1)[1]).write_bytes(blob)
    opened = serve(monkeypatch, urls)
    assert_same(fashion_mnist.load_data(), want)
    assert opened == list(urls)[2:]


def test_checksum_mismatch_is_rejected_and_nothing_is_kept(places, monkeypatch):
    urls, sha, _ = upstream_files()
    monkeypatch.setattr(fashion_mnist, "SHA256", sha)
    first = next(iter(urls))
    serve(monkeypatch, {**urls, first: urls[first] + b"tampered"})
    with pytest.raises(ValueError, match=f"Checksum mismatch for {first}: expected SHA-256 "):
        fashion_mnist.load_data()
    assert os.listdir(places["fashion_cache"]) == []


def test_interrupted_download_leaves_no_partial_file(places, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell():
                raise ConnectionResetError("connection reset by peer")
            return super().read(10)

    monkeypatch.setattr(file_utils, "open_url", lambda url: Broken(b"x" * 100))
    with pytest.raises(FileNotFoundError, match="connection reset by peer"):
        fashion_mnist.load_data()
    assert os.listdir(places["fashion_cache"]) == []


def offline(url):
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def test_offline_error_lists_every_place_and_how_to_get_the_data(places, monkeypatch):
    monkeypatch.setattr(file_utils, "open_url", offline)
    with pytest.raises(FileNotFoundError) as info:
        fashion_mnist.load_data()
    message = str(info.value)
    for place in (places["fashion_cache"], places["keras"] / "datasets" / "fashion-mnist",
                  places["system"] / "fashion-mnist"):
        assert str(place) in message
    assert "directory does not exist" in message
    assert fashion_mnist.BASE_URL + "train-images-idx3-ubyte.gz" in message
    assert "Name or service not known" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    assert os.listdir(places["fashion_cache"]) == []


def test_offline_error_says_which_files_are_missing(places, monkeypatch):
    monkeypatch.setattr(file_utils, "open_url", offline)
    make_set(places["system"] / "fashion-mnist")
    (places["system"] / "fashion-mnist" / "train-labels-idx1-ubyte.gz").unlink()
    missing = "fashion-mnist .*: missing train-labels-idx1-ubyte"
    with pytest.raises(FileNotFoundError, match=missing):
        fashion_mnist.load_data()


# --- MNIST ------------------------------------------------------------------

def write_npz(path, want):
    path.parent.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = want
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def test_mnist_search_order(places):
    system = make_set(places["system"] / "mnist", seed=1)
    assert_same(mnist.load_data(), system)
    write_npz(places["keras"] / "datasets" / "mnist.npz", tiny(2))
    assert_same(mnist.load_data(), tiny(2))
    write_npz(places["mnist_cache"] / "mnist.npz", tiny(3))
    assert_same(mnist.load_data(), tiny(3))


def test_mnist_path_names_the_npz(places, tmp_path):
    write_npz(places["mnist_cache"] / "digits.npz", tiny(4))
    assert_same(mnist.load_data(path="digits.npz"), tiny(4))
    write_npz(tmp_path / "elsewhere" / "m.npz", tiny(5))
    assert_same(mnist.load_data(path=str(tmp_path / "elsewhere" / "m.npz")), tiny(5))


def test_mnist_corrupt_npz(places):
    write_npz(places["mnist_cache"] / "mnist.npz", tiny())
    path = places["mnist_cache"] / "mnist.npz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a valid mnist.npz"):
        mnist.load_data()


def test_mnist_download(places, monkeypatch):
    want = tiny()
    buffer = io.BytesIO()
    (x_train, y_train), (x_test, y_test) = want
    np.savez(buffer, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(buffer.getvalue()).hexdigest())
    serve(monkeypatch, {mnist.URL: buffer.getvalue()})
    assert_same(mnist.load_data(), want)
    assert os.listdir(places["mnist_cache"]) == ["mnist.npz"]


def test_mnist_offline_error(places, monkeypatch):
    monkeypatch.setattr(file_utils, "open_url", offline)
    with pytest.raises(FileNotFoundError) as info:
        mnist.load_data()
    message = str(info.value)
    for place in (places["mnist_cache"], places["keras"] / "datasets", places["system"] / "mnist"):
        assert str(place) in message
    assert mnist.URL in message and "Name or service not known" in message
    assert os.listdir(places["mnist_cache"]) == []


def test_package_exports():
    assert datasets.mnist.load_data is mnist.load_data
    assert datasets.fashion_mnist.load_data is fashion_mnist.load_data


# --- the real data ----------------------------------------------------------

@pytest.mark.skipif(_idx.find_idx_set(REAL_FASHION) is None,
                    reason=f"Fashion-MNIST not installed in {REAL_FASHION} "
                           "(apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist(monkeypatch):
    monkeypatch.setattr(_idx, "SYSTEM_DIR", os.path.dirname(REAL_FASHION))
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
    assert y_train.min() == 0 and y_train.max() == 9
    assert y_test.min() == 0 and y_test.max() == 9
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [1000] * 10)
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [6000] * 10)
    assert x_train.max() == 255 and x_train.min() == 0
