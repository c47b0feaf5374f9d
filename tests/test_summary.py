"""tf.summary: the events written are read back with an independent TFRecord reader (lengths and masked CRC32C
checked, as TensorBoard does) and tensorboardX's Event proto; values are checked against hand-computed ones."""
import io
import os
import struct
import sys
import threading

import numpy as np
import pytest

import gpuflow as tf
from gpuflow import summary as summary_mod

pytest.importorskip("tensorboardX")
from tensorboardX.crc32c import crc32c  # noqa: E402
from tensorboardX.proto import event_pb2  # noqa: E402

_NP = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}


def _masked_crc(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(folder):
    """[(step, tag, plugin, description, value)] from every event file in ``folder``, records CRC-checked."""
    out = []
    for name in sorted(os.listdir(folder)):
        data, i = open(os.path.join(folder, name), "rb").read(), 0
        while i < len(data):
            header = data[i:i + 8]
            (n,) = struct.unpack("<Q", header)
            assert struct.unpack("<I", data[i + 8:i + 12])[0] == _masked_crc(header)
            record = data[i + 12:i + 12 + n]
            assert struct.unpack("<I", data[i + 12 + n:i + 16 + n])[0] == _masked_crc(record)
            i += 16 + n
            ev = event_pb2.Event.FromString(record)
            for v in ev.summary.value:
                t = v.tensor
                shape = tuple(d.size for d in t.tensor_shape.dim)
                if t.dtype == 7:
                    value = np.array(list(t.string_val), dtype=object).reshape(shape)
                else:
                    value = np.frombuffer(t.tensor_content, dtype=np.dtype(_NP[t.dtype]).newbyteorder("<")).reshape(shape)
                out.append((ev.step, v.tag, v.metadata.plugin_data.plugin_name, v.metadata.summary_description, value))
    return out


@pytest.fixture(autouse=True)
def _fresh_summary_state():
    yield
    summary_mod._state.writer = summary_mod._state.step = summary_mod._state.is_recording = None


def test_typed_summaries_round_trip(tmp_path):
    w = tf.summary.create_file_writer(str(tmp_path))
    images = np.zeros((4, 2, 3, 3), np.float32)
    images[0, 0, 0] = [0.999, 0.5, 2.0]  # x * 255.5 truncated: 255.24 -> 255, 127.75 -> 127; 2.0 saturates
    step = tf.Variable(5, dtype="int64")
    with w.as_default(step=step):
        assert tf.summary.scalar("loss", tf.constant(0.25), description="the *loss*") is True
        step.assign(6)  # a Variable step is read at each write
        with tf.name_scope("layer1"):
            assert tf.get_current_name_scope() == "layer1"
            assert tf.summary.histogram("w", np.arange(10.0), buckets=3)
        assert tf.summary.text("note", [["a", "b"], ["c", "é"]], step=np.int64(7))
        assert tf.summary.image("img", images, step=8, max_outputs=2)
        assert tf.summary.image("gray8", np.full((1, 1, 2, 1), 9, np.uint8), step=8)
    w.close()
    ev = {tag: (s, plugin, desc, v) for s, tag, plugin, desc, v in read_events(tmp_path)}
    assert set(ev) == {"loss", "layer1/w", "note", "img", "gray8"}
    s, plugin, desc, v = ev["loss"]
    assert (s, plugin, desc, v.dtype, v.shape, float(v)) == (5, "scalars", "the *loss*", np.float32, (), 0.25)
    s, plugin, _, v = ev["layer1/w"]
    # three buckets of width 3 over [0, 9], the last one closed: {0,1,2}, {3,4,5}, {6,7,8,9}
    assert (s, plugin, v.dtype) == (6, "histograms", np.float64)
    np.testing.assert_array_equal(v, [[0, 3, 3], [3, 6, 3], [6, 9, 4]])
    s, plugin, _, v = ev["note"]
    assert (s, plugin, v.tolist()) == (7, "text", [[b"a", b"b"], [b"c", "é".encode()]])
    s, plugin, _, v = ev["img"]
    assert (s, plugin, v.shape, v[0], v[1]) == (8, "images", (4,), b"3", b"2")  # width, height, then 2 PNGs
    image = pytest.importorskip("PIL.Image")
    first = np.asarray(image.open(io.BytesIO(v[2])))
    assert first.shape == (2, 3, 3) and first[0, 0].tolist() == [255, 127, 255] and first[1].max() == 0
    gray = np.asarray(image.open(io.BytesIO(ev["gray8"][3][2])))
    assert gray.tolist() == [[9, 9]]


def test_histogram_edge_cases(tmp_path):
    tf.summary.create_file_writer(tmp_path).set_as_default(step=1)
    tf.summary.histogram("same", [2.0, 2.0, 2.0], buckets=4)
    tf.summary.histogram("empty", np.zeros((0,)), buckets=2)
    tf.summary.histogram("none", [1.0, 2.0], buckets=0)
    tf.summary.histogram("default", np.linspace(-1, 1, 61))
    tf.summary.flush()
    ev = {tag: v for _, tag, _, _, v in read_events(tmp_path)}
    np.testing.assert_array_equal(ev["same"], [[2, 2, 0], [2, 2, 0], [2, 2, 0], [2, 2, 3]])
    np.testing.assert_array_equal(ev["empty"], np.zeros((2, 3)))
    assert ev["none"].shape == (0, 3)
    assert ev["default"].shape == (30, 3) and ev["default"][:, 2].sum() == 61
    assert ev["default"][0, 0] == -1 and ev["default"][-1, 1] == 1


def test_no_writer_record_if_and_step_rules(tmp_path):
    assert tf.summary.scalar("x", 1.0) is False  # no default writer: nothing written, no step needed
    assert tf.summary.should_record_summaries() is False
    tf.summary.flush()  # nothing to flush
    w = tf.summary.create_file_writer(tmp_path)
    with w.as_default():
        assert tf.summary.should_record_summaries() is True
        with pytest.raises(ValueError, match="No step set"):
            tf.summary.scalar("x", 1.0)
        with pytest.raises(TypeError, match="step=2.5"):
            tf.summary.scalar("x", 1.0, step=2.5)
        with tf.summary.record_if(False):
            assert tf.summary.scalar("x", 1.0, step=1) is False and not tf.summary.should_record_summaries()
        calls = []
        with tf.summary.record_if(lambda: calls.append(1) or len(calls) % 2 == 0):
            assert [tf.summary.scalar("y", 1.0, step=s) for s in range(4)] == [False, True, False, True]
        tf.summary.experimental.set_step(3)
        with w.as_default(step=10):
            assert tf.summary.experimental.get_step() == 10
        assert tf.summary.experimental.get_step() == 3
        assert tf.summary.scalar("z", 2.0)
    with tf.summary.create_noop_writer().as_default():
        assert tf.summary.scalar("x", 1.0, step=1) is False
    assert [(s, tag) for s, tag, *_ in read_events(tmp_path)] == [(1, "y"), (3, "y"), (3, "z")]
    with pytest.raises(ValueError, match="Invalid argument to flush"):
        tf.summary.flush("writer")


def test_default_writer_and_step_are_per_thread(tmp_path):
    tf.summary.create_file_writer(tmp_path).set_as_default(step=1)
    seen = []
    t = threading.Thread(target=lambda: seen.append((tf.summary.should_record_summaries(),
                                                      tf.summary.experimental.get_step())))
    t.start()
    t.join()
    assert seen == [(False, None)] and tf.summary.experimental.get_step() == 1


def test_writer_files_flush_and_close(tmp_path):
    a = tf.summary.create_file_writer(tmp_path)
    b = tf.summary.create_file_writer(tmp_path, filename_suffix=".mine", max_queue=100, flush_millis=10 ** 7)
    names = sorted(os.listdir(tmp_path))  # created at once, one file per writer
    assert len(names) == 2 and all(n.startswith("events.out.tfevents.") for n in names)
    assert names[0].endswith(".mine") or names[1].endswith(".mine")
    with b.as_default(step=4):
        tf.summary.scalar("q", 1.0)
        assert read_events(tmp_path) == []  # queued: max_queue and flush_millis not reached
    assert [tag for _, tag, *_ in read_events(tmp_path)] == ["q"]  # leaving as_default flushes
    c = tf.summary.create_file_writer(tmp_path / "c", max_queue=1, flush_millis=10 ** 7)
    c.set_as_default(step=1)
    tf.summary.scalar("r", 1.0)
    tf.summary.scalar("s", 1.0)  # more than max_queue events wait: flushed
    assert [tag for _, tag, *_ in read_events(tmp_path / "c")] == ["r", "s"]
    a.close()
    a.close()
    a.flush()
    with pytest.raises(RuntimeError, match="already closed"):
        a.as_default()
    with pytest.raises(ValueError, match="logdir"):
        tf.summary.create_file_writer(None)
    with pytest.raises(tf.errors.UnimplementedError, match="gs://bucket/logs"):
        tf.summary.create_file_writer("gs://bucket/logs")


def test_bad_data():
    tf.summary.create_noop_writer().set_as_default()
    with pytest.raises(ValueError, match=r"Expected scalar shape, saw shape: \(2,\)"):
        tf.summary.scalar("x", [1.0, 2.0], step=1)
    with pytest.raises(TypeError, match="str or bytes"):
        tf.summary.text("x", 3.0, step=1)


def test_bad_image_data(tmp_path):
    tf.summary.create_file_writer(tmp_path).set_as_default(step=0)
    with pytest.raises(ValueError, match=r"data.shape=\(2, 2, 2\)"):
        tf.summary.image("x", np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match=r"\(k, h, w, c\) with 1 to 4 channels"):
        tf.summary.image("x", np.ones((1, 2, 2, 5)))


def test_missing_tensorboardx_names_the_extra(monkeypatch, tmp_path):
    for name in [m for m in sys.modules if m.split(".")[0] == "tensorboardX"]:
        monkeypatch.setitem(sys.modules, name, None)
    summary_mod._tbx.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"gpuflow\[tensorboard\]"):
            tf.summary.create_file_writer(tmp_path)
    finally:
        summary_mod._tbx.cache_clear()
