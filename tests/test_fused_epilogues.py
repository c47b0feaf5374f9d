"""Fused epilogues on the CUDA backend (emulator-verified): Conv2D's bias and ReLU run in the convolution
kernel's GEMM epilogue, and Conv2D(relu) + MaxPooling2D runs as one kernel (conv2d_maxpool_fwd_f32), with the
CPU backend's results and gradients; the profiler counts the launches."""
import numpy as np
import pytest

import gpuflow as tf
from gpuflow.device import probe_emulator

keras = tf.keras
ok, why = probe_emulator()
pytestmark = pytest.mark.skipif(not ok, reason=f"emulator unavailable: {why}")


def _run(device, x, weights, r):
    with tf.device(device):
        model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Conv2D(4, 3, activation="relu"),
                                  keras.layers.MaxPooling2D(2)])
        model.set_weights(weights)
        with tf.GradientTape() as tape:
            with tf.profiler.profile() as forward:
                y = model(x)
            loss = tf.reduce_sum(y * r)
        grads = tape.gradient(loss, model.trainable_variables)
        launches = {row["name"]: row["calls"] for row in forward.key_averages()}
        return y.numpy(), [g.numpy() for g in grads], launches


def test_conv_relu_maxpool_is_one_launch_with_the_cpu_results(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 10, 9, 3)).astype("float32")
    weights = [rng.standard_normal((3, 3, 3, 4)).astype("float32"), rng.standard_normal(4).astype("float32")]
    r = rng.standard_normal((2, 4, 3, 4)).astype("float32")
    y_cpu, g_cpu, _ = _run("cpu", x, weights, r)
    y, g, fused = _run("emulator", x, weights, r)
    monkeypatch.setenv("GPUFLOW_FUSION", "0")
    y_unfused, _, unfused = _run("emulator", x, weights, r)
    assert fused == {"conv2d_maxpool_fwd_f32": 1}  # no conv output written, no bias or ReLU pass
    assert unfused == {"conv2d_fwd_f32": 1, "max_pool2d_fwd_f32": 1}  # bias and ReLU in the conv epilogue
    np.testing.assert_allclose(y, y_cpu, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(y, y_unfused)
    for a, b in zip(g, g_cpu):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
