"""gpuflow.profiler counts the CUDA backend's host contacts (device-to-host and host-to-device copies,
explicit synchronizations) with their bytes, on the emulator as on a GPU; the CPU backend has none."""
import numpy as np
import pytest

import gpuflow as tf
from gpuflow.device import probe_emulator

ok, why = probe_emulator()
needs_emulator = pytest.mark.skipif(not ok, reason=f"emulator unavailable: {why}")


@needs_emulator
def test_host_contacts_are_counted_with_their_bytes_and_listed_in_the_table():
    with tf.device("emulator"):
        with tf.profiler.profile() as prof:
            t = tf.constant(np.ones((3, 4), np.float32))      # 48 bytes up
            s = tf.reduce_sum(t * t)                          # stays on the device
            assert float(s) == 12.0                           # 4 bytes down
            t.numpy()                                         # 48 bytes down
            t.backend.synchronize()
    hc = prof.host_contacts()
    assert hc["h2d"]["count"] >= 1 and hc["h2d"]["bytes"] >= 48
    assert hc["d2h"] == {"count": 2, "bytes": 52}
    assert hc["sync"] == {"count": 1, "bytes": 0}
    table = prof.table()
    assert "Device-to-host copies" in table and "Synchronizations" in table
    row = next(line for line in table.splitlines() if line.startswith("Device-to-host copies"))
    assert row.split()[-2:] == ["2", "52"]


@needs_emulator
def test_contacts_outside_the_profile_are_not_counted():
    with tf.device("emulator"):
        t = tf.constant([1.0, 2.0])
        with tf.profiler.profile() as prof:
            pass
        t.numpy()
    assert all(v["count"] == 0 for v in prof.host_contacts().values())


def test_the_cpu_backend_has_no_host_contacts():
    with tf.device("cpu"):
        with tf.profiler.profile() as prof:
            float(tf.reduce_sum(tf.constant([1.0, 2.0])))
    assert all(v == {"count": 0, "bytes": 0} for v in prof.host_contacts().values())
