"""Seconds to predict 10,000 images with the seed CNN on the CPU: gpuflow vs PyTorch vs Keras, interleaved.

Each framework builds the seed CNN (Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2,
Flatten, Dense 128 relu, Dense 10; float32, untrained weights: the time does not depend on them) and
runs inference over the first ``--samples`` Fashion-MNIST images at each of ``--batch-sizes``:
gpuflow and Keras with ``model.predict(x, batch_size=B)``, PyTorch with the batches in a loop under
``torch.inference_mode()`` (``torch`` NCHW, ``torch-cl`` channels_last). Every framework runs in its
own subprocess with the same thread count; each pass over the images is timed, the first of each
process and batch size is warm-up; ``--rounds R`` interleaves R runs of all of them
(``benchmarks/_interleaved.py``); the figure is the median of all rounds' timed passes.

Usage:
    python benchmarks/bench_predict_cpu.py [--batch-sizes 32,256] [--epochs 3] [--samples 10000]
        [--rounds 1] [--peers torch,torch-cl,keras] [--keras-python PATH] [--torch-python PATH] [--json out.json]
"""
from __future__ import annotations

import argparse
import sys

import _interleaved as il


def _images(args):
    x, _ = il.fashion_mnist(args.samples)
    return x[..., None]


def _by_batch(args, predict):
    """``{"epoch_s": {batch size: [seconds of each pass]}}`` for ``predict(x, batch_size)``."""
    x = _images(args)
    return {"epoch_s": {b: il.epoch_loop(lambda: predict(x, b), args.epochs) for b in args.batch_sizes}}


def worker_gpuflow(args):
    sys.path.insert(0, il.ROOT)
    import numpy as np
    import gpuflow as tf
    from gpuflow.zoo import build_seed_cnn
    tf.keras.utils.set_random_seed(0)
    model = build_seed_cnn(tf.keras)
    return {"framework": "gpuflow", "version": tf.__version__, "numpy": np.__version__,
            **_by_batch(args, lambda x, b: model.predict(x, batch_size=b, verbose=0))}


def worker_keras(args):
    import keras
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(0)
    L = keras.layers
    model = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                              L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(),
                              L.Dense(128, activation="relu"), L.Dense(10)])
    return {"framework": "keras", "version": keras.__version__, "tensorflow": tf.__version__,
            **_by_batch(args, lambda x, b: model.predict(x, batch_size=b, verbose=0))}


def worker_torch(args, channels_last=False):
    import numpy as np
    import torch
    from torch import nn
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10)).eval()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)

    def predict(x, b):
        xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).contiguous(memory_format=fmt)
        with torch.inference_mode():
            return np.concatenate([model(xt[i:i + b]).numpy() for i in range(0, len(xt), b)])
    return {"framework": "pytorch-channels_last" if channels_last else "pytorch", "version": torch.__version__,
            "threads": torch.get_num_threads(), **_by_batch(args, predict)}


WORKERS = {"gpuflow": worker_gpuflow, "torch": worker_torch, "torch-cl": lambda a: worker_torch(a, True),
           "keras": worker_keras}


def _batch_sizes(text):
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, received {text!r}")
    return sizes


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    il.add_common_args(p, WORKERS, samples=10000, peers="torch,torch-cl,keras")
    p.add_argument("--batch-sizes", type=_batch_sizes, default=[32, 256], help="comma-separated, e.g. 1,32,256")
    args = p.parse_args()
    if args.worker:
        return il.worker_main(WORKERS, args)
    info, names, runs = il.compare(__file__, p, args, WORKERS, il.common_argv(args) + [
        "--batch-sizes", ",".join(map(str, args.batch_sizes))])
    report = {"benchmark": "seed_cnn_cpu_predict", "machine": info, "samples": args.samples, "epochs": args.epochs,
              "rounds": args.rounds, "threads": args.threads, "batch_sizes": args.batch_sizes, "results": {}}
    for b in args.batch_sizes:
        per_batch = {name: [dict(r, epoch_s=r["epoch_s"][str(b)]) if r["status"] == "ok" else r for r in runs[name]]
                     for name in names}
        results = [il.merge_rounds(per_batch[name], -(-args.samples // b)) for name in names]
        report["results"][str(b)] = results
        il.print_table(f"Seed CNN predict, {args.samples} images at batch {b} (s/epoch: one pass; ms/step: one batch), "
                       f"{args.threads} threads, {args.rounds} interleaved round(s), {il.machine_line(info)}", results)
    il.write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
