"""Seconds per training epoch of the DeepLab-style segmentation example on the CPU: gpuflow vs PyTorch vs Keras.

The model is ``examples/segmentation_deeplab.py``'s at its full size (32x32x3 images, 3 classes): a frozen
backbone (Conv2D 16 3x3 same relu x2, MaxPool 2, Conv2D 32 3x3 same relu), an ASPP block of dilated 3x3
convolutions (rates 1, 2, 4, 16 filters each) plus an image-pooling branch (global average pool, 1x1
Conv2D 16 relu, upsampled), concatenated, a 1x1 Conv2D 32 relu, bilinear 2x upsampling and a 1x1 Conv2D
per-pixel softmax; Adam lr 1e-2; sparse categorical cross-entropy; float32; ``--samples`` random images
and masks per epoch (the time does not depend on the values) at batch 16. PyTorch's twin has the same
layers (NCHW, ``torch``; or channels_last, ``torch-cl``), its backbone with ``requires_grad=False``, and
``CrossEntropyLoss`` on the logits. Every framework runs in its own subprocess with the same thread count;
the first epoch of each process is warm-up; ``--rounds R`` interleaves R runs of all of them
(``benchmarks/_interleaved.py``); the figure is the median of all rounds' timed epochs.

Usage:
    python benchmarks/bench_segmentation_cpu.py [--epochs 3] [--samples 1200] [--batch-size 16] [--rounds 1]
        [--peers torch,torch-cl,keras] [--keras-python PATH] [--torch-python PATH] [--json out.json]
"""
from __future__ import annotations

import argparse
import sys

import _interleaved as il

SIZE, CLASSES = 32, 3


def _data(samples):
    import numpy as np
    rng = np.random.default_rng(0)
    return (rng.random((samples, SIZE, SIZE, 3), dtype=np.float32),
            rng.integers(0, CLASSES, (samples, SIZE, SIZE)).astype("int32"))


def build_keras(keras):
    """The example's model, built with ``keras`` (gpuflow.keras or Keras 3), compiled."""
    L = keras.layers
    base_in = keras.Input((SIZE, SIZE, 3))
    h = L.Conv2D(16, 3, padding="same", activation="relu")(base_in)
    h = L.Conv2D(16, 3, padding="same", activation="relu")(h)
    h = L.MaxPooling2D(2)(h)
    h = L.Conv2D(32, 3, padding="same", activation="relu")(h)
    base = keras.Model(base_in, h)
    base.trainable = False
    inputs = keras.Input((SIZE, SIZE, 3))
    features = base(inputs, training=False)
    fh = SIZE // 2
    branches = [L.Conv2D(16, 3, padding="same", dilation_rate=d, activation="relu")(features) for d in (1, 2, 4)]
    pool = L.GlobalAveragePooling2D()(features)
    pool = L.Reshape((1, 1, 32))(pool)
    pool = L.Conv2D(16, 1, activation="relu")(pool)
    pool = L.UpSampling2D(size=(fh, fh))(pool)
    x = L.Concatenate()(branches + [pool])
    x = L.Conv2D(32, 1, activation="relu")(x)
    x = L.UpSampling2D(size=2, interpolation="bilinear")(x)
    outputs = L.Conv2D(CLASSES, 1, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    return model


def _keras_epochs(keras, args):
    keras.utils.set_random_seed(0)
    model = build_keras(keras)
    x, y = _data(args.samples)
    return il.epoch_loop(lambda: model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0), args.epochs)


def worker_gpuflow(args):
    sys.path.insert(0, il.ROOT)
    import numpy as np
    import gpuflow as tf
    return {"framework": "gpuflow", "version": tf.__version__, "numpy": np.__version__,
            "epoch_s": _keras_epochs(tf.keras, args)}


def worker_keras(args):
    import keras
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    return {"framework": "keras", "version": keras.__version__, "tensorflow": tf.__version__,
            "epoch_s": _keras_epochs(keras, args)}


def worker_torch(args, channels_last=False):
    import numpy as np
    import torch
    from torch import nn
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    class MiniDeepLab(nn.Module):
        def __init__(self):
            super().__init__()
            self.base = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1),
                                      nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU())
            self.base.requires_grad_(False)
            self.aspp = nn.ModuleList(nn.Conv2d(32, 16, 3, padding=d, dilation=d) for d in (1, 2, 4))
            self.pool_conv = nn.Conv2d(32, 16, 1)
            self.project = nn.Conv2d(64, 32, 1)
            self.head = nn.Conv2d(32, CLASSES, 1)

        def forward(self, v):
            f = self.base(v)
            pool = torch.relu(self.pool_conv(f.mean((2, 3), keepdim=True))).expand(-1, -1, *f.shape[2:])
            x = torch.cat([torch.relu(conv(f)) for conv in self.aspp] + [pool], 1)
            x = nn.functional.interpolate(torch.relu(self.project(x)), scale_factor=2, mode="bilinear",
                                          align_corners=False)
            return self.head(x)
    model = MiniDeepLab().to(memory_format=fmt)
    x, y = _data(args.samples)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).contiguous(memory_format=fmt)
    yt = torch.from_numpy(y.astype("int64"))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2, eps=1e-7)
    return {"framework": "pytorch-channels_last" if channels_last else "pytorch", "version": torch.__version__,
            "threads": torch.get_num_threads(),
            "epoch_s": il.torch_epochs(model, opt, xt, yt, args.batch_size, args.epochs)}


WORKERS = {"gpuflow": worker_gpuflow, "torch": worker_torch, "torch-cl": lambda a: worker_torch(a, True),
           "keras": worker_keras}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    il.add_common_args(p, WORKERS, samples=1200, peers="torch,torch-cl,keras")
    p.set_defaults(batch_size=16)
    args = p.parse_args()
    if args.worker:
        return il.worker_main(WORKERS, args)
    info, names, runs = il.compare(__file__, p, args, WORKERS, il.common_argv(args) + ["--batch-size",
                                                                                     str(args.batch_size)])
    il.report_epochs(args, info, names, runs, "segmentation_deeplab_cpu_train_epoch",
                     "DeepLab-style segmentation (examples/segmentation_deeplab.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
