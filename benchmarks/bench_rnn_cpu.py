"""Seconds per training epoch of a recurrent model on the CPU: gpuflow vs PyTorch vs Keras, interleaved.

The model reads each Fashion-MNIST image as a sequence of its 28 rows (28 features per step):
LSTM(128) (or GRU(128), SimpleRNN(128) with ``--cell``) -> last output -> Dense(10) logits; Adam lr
1e-3 eps 1e-7; softmax cross-entropy; float32; ``--samples`` images (default 12,800) per epoch at
batch 128. Keras's GRU runs with ``reset_after=True`` (its default), PyTorch's ``nn.GRU`` has the same
form; ``nn.RNN`` is tanh. Every framework runs in its own subprocess with the same thread count; the
first epoch of each process is warm-up; ``--rounds R`` interleaves R runs of all of them
(``benchmarks/_interleaved.py``); the figure is the median of all rounds' timed epochs.

``gpuflow-perstep`` is gpuflow with its fused recurrent op switched off (the per-step path of
differentiable ops that custom cells and second derivatives use), for a before/after in one run.

Usage:
    python benchmarks/bench_rnn_cpu.py [--cell lstm|gru|simple_rnn] [--epochs 3] [--samples 12800]
        [--batch-size 128] [--rounds 1] [--peers gpuflow-perstep,torch,keras] [--keras-python PATH]
        [--json out.json]
"""
from __future__ import annotations

import argparse
import sys

import _interleaved as il

UNITS = 128
KERAS_CLASS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}
TORCH_CLASS = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "RNN"}


def _keras_fit(keras, args, x, y):
    L = keras.layers
    model = keras.Sequential([keras.Input((28, 28)), getattr(L, KERAS_CLASS[args.cell])(UNITS), L.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-7),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return il.epoch_loop(lambda: model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0), args.epochs)


def worker_gpuflow(args, fused=True):
    sys.path.insert(0, il.ROOT)
    import numpy as np
    import gpuflow as tf
    if not fused:
        from gpuflow.keras.layers import rnn
        rnn._fused_kind = lambda cell, masks: None
    tf.keras.utils.set_random_seed(0)
    x, y = il.fashion_mnist(args.samples)
    return {"framework": "gpuflow" if fused else "gpuflow-perstep", "version": tf.__version__,
            "numpy": np.__version__, "epoch_s": _keras_fit(tf.keras, args, x, y)}


def worker_torch(args):
    import torch
    from torch import nn
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, y = il.fashion_mnist(args.samples)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, TORCH_CLASS[args.cell])(28, UNITS, batch_first=True)
            self.fc = nn.Linear(UNITS, 10)

        def forward(self, v):
            return self.fc(self.rnn(v)[0][:, -1])
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    return {"framework": "pytorch", "version": torch.__version__, "threads": torch.get_num_threads(),
            "epoch_s": il.torch_epochs(model, opt, xt, yt, args.batch_size, args.epochs)}


def worker_keras(args):
    import keras
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(0)
    x, y = il.fashion_mnist(args.samples)
    return {"framework": "keras", "version": keras.__version__, "tensorflow": tf.__version__,
            "epoch_s": _keras_fit(keras, args, x, y)}


WORKERS = {"gpuflow": worker_gpuflow, "gpuflow-perstep": lambda a: worker_gpuflow(a, fused=False),
           "torch": worker_torch, "keras": worker_keras}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", choices=sorted(KERAS_CLASS), default="lstm")
    il.add_common_args(p, WORKERS, samples=12800, peers="gpuflow-perstep,torch,keras")
    args = p.parse_args()
    if args.worker:
        return il.worker_main(WORKERS, args)
    argv = ["--cell", args.cell, "--batch-size", str(args.batch_size)] + il.common_argv(args)
    info, names, runs = il.compare(__file__, p, args, WORKERS, argv)
    il.report_epochs(args, info, names, runs, f"{args.cell}_cpu_train_epoch",
                     f"{KERAS_CLASS[args.cell]}({UNITS}) over 28 rows -> Dense(10)",
                     model=f"{KERAS_CLASS[args.cell]}({UNITS}) over 28 rows of 28 -> Dense(10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
