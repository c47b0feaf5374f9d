"""Conv2D, pooling and Dense through the public Keras layers on the CUDA backend (the emulator, or a GPU)
match PyTorch computing the same thing in float64, outputs and gradients, within 1e-4 relative error."""
import numpy as np
import pytest

import gpuflow as tf
from gpuflow.device import probe_emulator

torch = pytest.importorskip("torch")
F = torch.nn.functional
keras = tf.keras
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not probe_emulator()[0], reason="emulator unavailable")]


def rel_err(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / max(np.max(np.abs(b)), 1e-12))


def run_gpuflow(layer, x, r):
    with tf.device("emulator"):
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt)
            loss = tf.reduce_sum(y * tf.constant(r))
        grads = tape.gradient(loss, [xt] + layer.trainable_weights)
    return y.numpy(), [g.numpy() for g in grads]


def torch_grads(fn, x, params, r):
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ps = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params]
    y = fn(xt, *ps)
    (y * torch.tensor(r, dtype=torch.float64)).sum().backward()
    return y.detach().numpy(), [xt.grad.numpy()] + [p.grad.numpy() for p in ps]


@pytest.mark.parametrize("kwargs", [dict(kernel_size=3), dict(kernel_size=3, strides=2, padding="same"),
                                    dict(kernel_size=(2, 3), dilation_rate=2, padding="same")])
def test_conv2d_layer(kwargs):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 8, 3)).astype("float32")
    layer = keras.layers.Conv2D(5, activation="relu", **kwargs)
    with tf.device("emulator"):
        layer.build(x.shape)
    k, b = layer.get_weights()
    probe = run_gpuflow(layer, x, np.ones((1,), "float32"))[0]
    r = rng.standard_normal(probe.shape).astype("float32")
    with tf.profiler.profile() as prof:
        y, grads = run_gpuflow(layer, x, r)
    assert "conv2d_fwd_f32" in prof.kernel_names() and "conv2d_bwd_data_f32" in prof.kernel_names()
    s = layer.strides
    d = layer.dilation_rate

    def fn(xt, kt, bt):
        xc = xt.permute(0, 3, 1, 2)
        if layer.padding == "same":  # TensorFlow's SAME: extra padding after
            pads = []
            for size, kk, st, dd in zip(xc.shape[2:], k.shape[:2], s, d):
                out = -(-size // st)
                total = max((out - 1) * st + (kk - 1) * dd + 1 - size, 0)
                pads.append((total // 2, total - total // 2))
            xc = F.pad(xc, (pads[1][0], pads[1][1], pads[0][0], pads[0][1]))
        out = F.conv2d(xc, kt.permute(3, 2, 0, 1), bt, stride=s, dilation=d)
        return torch.relu(out).permute(0, 2, 3, 1)
    ty, tg = torch_grads(fn, x, [k, b], r)
    assert rel_err(y, ty) < 1e-4
    for g, t in zip(grads, tg):
        assert rel_err(g, t) < 1e-4


@pytest.mark.parametrize("cls, torch_fn", [(keras.layers.MaxPooling2D, F.max_pool2d),
                                           (keras.layers.AveragePooling2D, F.avg_pool2d)])
def test_pooling_layers(cls, torch_fn):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8, 6, 4)).astype("float32")
    layer = cls(2)
    r = rng.standard_normal((2, 4, 3, 4)).astype("float32")
    y, grads = run_gpuflow(layer, x, r)
    ty, tg = torch_grads(lambda xt: torch_fn(xt.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1), x, [], r)
    assert rel_err(y, ty) < 1e-4 and rel_err(grads[0], tg[0]) < 1e-4


def test_dense_relu_layer():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((7, 13)).astype("float32")
    layer = keras.layers.Dense(6, activation="relu")
    with tf.device("emulator"):
        layer.build(x.shape)
    k, b = layer.get_weights()
    r = rng.standard_normal((7, 6)).astype("float32")
    y, grads = run_gpuflow(layer, x, r)
    ty, tg = torch_grads(lambda xt, kt, bt: torch.relu(xt @ kt + bt), x, [k, b], r)
    assert rel_err(y, ty) < 1e-4
    for g, t in zip(grads, tg):
        assert rel_err(g, t) < 1e-4
