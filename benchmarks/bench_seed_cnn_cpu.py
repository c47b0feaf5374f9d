"""Seconds per training epoch of the seed CNN on the CPU: gpuflow vs PyTorch vs Keras, one run.

Each framework trains the same model (Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2,
Flatten, Dense 128 relu, Dense 10; Adam lr 1e-3 eps 1e-7; softmax cross-entropy on logits; float32)
on the same Fashion-MNIST images at the same batch size, in its own subprocess (so peak RSS is its
own, plus that of any helper processes it started: gpuflow's on Linux), with the same thread count. The first epoch of each process is warm-up; the figure is the
median of the timed epochs. A peer that is not installed is reported as "not installed", never
estimated.

Shared machines drift: a neighbour's load can slow every framework by 20-50 % for minutes. With
``--rounds R`` the frameworks run R times, interleaved (gpuflow, torch, keras, gpuflow, ...), so each
is measured across the same stretch of time; the figure is then the median over all rounds' timed
epochs, and each round's medians are kept in the JSON.

Usage:
    python benchmarks/bench_seed_cnn_cpu.py [--epochs 3] [--samples 60000] [--batch-size 128]
        [--rounds 1] [--peers torch,torch-cl,keras] [--keras-python /path/to/venv/bin/python]
        [--json out.json]

Layouts: gpuflow and Keras run NHWC. ``torch`` runs PyTorch's default NCHW (what a PyTorch user
writes); ``torch-cl`` the same model and data in ``channels_last`` memory format, which PyTorch's
CPU convolutions run faster.
"""
from __future__ import annotations

import argparse
import sys

import _interleaved as il

ROOT = il.ROOT


def _data(samples):
    x, y = il.fashion_mnist(samples)
    return x[..., None], y


_epoch_loop = il.epoch_loop


def worker_gpuflow(args):
    sys.path.insert(0, ROOT)
    import gpuflow as tf
    from gpuflow.zoo import build_seed_cnn
    keras = tf.keras
    x, y = _data(args.samples)
    keras.utils.set_random_seed(0)
    model = build_seed_cnn(keras)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    times = _epoch_loop(lambda: model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0), args.epochs)
    import numpy as np
    return {"framework": "gpuflow", "version": tf.__version__, "numpy": np.__version__, "epoch_s": times}


def worker_torch(args, channels_last=False):
    import numpy as np
    import torch
    from torch import nn
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, y = _data(args.samples)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y)
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    if channels_last:
        xt = xt.contiguous(memory_format=torch.channels_last)
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return {"framework": "pytorch-channels_last" if channels_last else "pytorch", "version": torch.__version__,
            "threads": torch.get_num_threads(),
            "epoch_s": il.torch_epochs(model, opt, xt, yt, args.batch_size, args.epochs)}


def worker_keras(args):
    import keras
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    x, y = _data(args.samples)
    keras.utils.set_random_seed(0)
    L = keras.layers
    model = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                              L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(),
                              L.Dense(128, activation="relu"), L.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    times = _epoch_loop(lambda: model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0), args.epochs)
    return {"framework": "keras", "version": keras.__version__, "tensorflow": tf.__version__, "epoch_s": times}


WORKERS = {"gpuflow": worker_gpuflow, "torch": worker_torch, "torch-cl": lambda a: worker_torch(a, True),
           "keras": worker_keras}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    il.add_common_args(p, WORKERS, samples=60000, peers="torch,torch-cl,keras")
    args = p.parse_args()
    if args.worker:
        return il.worker_main(WORKERS, args)
    info, names, runs = il.compare(__file__, p, args, WORKERS, il.common_argv(args) + ["--batch-size",
                                                                                     str(args.batch_size)])
    il.report_epochs(args, info, names, runs, "seed_cnn_cpu_train_epoch", "Seed CNN")
    return 0


if __name__ == "__main__":
    sys.exit(main())
