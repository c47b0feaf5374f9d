"""The seed CNN trained a few steps on the CUDA backend (here: the CPU emulator running the .cu kernels)
follows the NumPy run's losses within float32 tolerance, and the profiler shows our kernels ran."""
import numpy as np
import pytest

import gpuflow as tf
from gpuflow.zoo import build_seed_cnn
from gpuflow.device import probe_emulator

pytestmark = pytest.mark.gpu
keras = tf.keras

ok, why = probe_emulator()


def _data():
    try:
        (x, y), _ = keras.datasets.fashion_mnist.load_data()
        x, y = x[:48], y[:48]
    except (FileNotFoundError, OSError):  # the comparison needs no real data; use a fixed random set
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, 256, (48, 28, 28), dtype=np.uint8), rng.integers(0, 10, 48)
    return (x.astype("float32") / 255.0)[..., None], y


def _train(device, weights, x, y):
    with tf.device(device):
        model = build_seed_cnn(keras)
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        losses = [model.train_on_batch(x[i:i + 16], y[i:i + 16])[0] for i in range(0, 48, 16)]
        return np.array(losses), model.get_weights()


@pytest.mark.skipif(not ok, reason=f"emulator unavailable: {why}")
def test_seed_cnn_on_the_emulator_matches_cpu_and_runs_our_kernels():
    x, y = _data()
    weights = build_seed_cnn(keras).get_weights()
    cpu_losses, cpu_w = _train("cpu", weights, x, y)
    with tf.profiler.profile() as prof:
        emu_losses, emu_w = _train("emulator", weights, x, y)
    np.testing.assert_allclose(emu_losses, cpu_losses, rtol=2e-4)
    for a, b in zip(emu_w, cpu_w):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    ran = prof.kernel_names()
    # Conv2D(relu) + MaxPooling2D run fused forward (conv2d_maxpool_fwd_f32), backward as pooling + conv gradients
    for kernel in ("conv2d_maxpool_fwd_f32", "conv2d_bwd_data_f32", "max_pool2d_bwd_f32",
                   "dense_bias_relu_fwd_f32", "dense_bias_relu_bwd_f32"):
        assert kernel in ran, (kernel, prof.table())
    assert {"conv2d_bwd_filter_f32", "conv2d_bwd_filter_splitk_f32"} & ran, prof.table()
    assert "Calls" in prof.table()
