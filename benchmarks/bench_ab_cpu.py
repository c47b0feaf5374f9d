"""A/B of two versions of gpuflow on the CPU, interleaved: wall and CPU time per training step or predict call.

On a shared machine absolute timings drift with the neighbours' load, so a change is measured against
the code before it in the same run: ``--old REV`` (a git revision, unpacked with ``git archive`` into a
temporary folder) and ``--new`` (the working tree, or another revision) run in alternating subprocesses
(A, B, B, A, A, B, ...), ``--rounds`` times; each process times its workload after a warm-up (3 s) and
reports the median; the table gives the median over rounds of each side and the ratio B/A. CPU time
(``time.process_time``, all threads) is steadier than wall time when the cores are oversubscribed.

Workloads (random data of the real shapes; the time does not depend on the values):
``seed_cnn`` training step at batch 128; ``lstm``, ``gru``, ``simple_rnn``: the recurrent model of
``bench_rnn_cpu.py`` (28 steps of 28 features, 128 units, Dense(10)), training step at batch 128;
``segmentation``: ``bench_segmentation_cpu.py``'s model, training step at batch 16; ``predict1``,
``predict32``, ``predict256``: the seed CNN's ``model(x)`` on one image, ``predict`` at batch 32 and 256.

Usage:
    python benchmarks/bench_ab_cpu.py --old HEAD~1 [--new WORKTREE|REV] [--workloads lstm,predict32]
        [--rounds 6] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import _interleaved as il

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOADS = ("seed_cnn", "lstm", "gru", "simple_rnn", "segmentation", "predict1", "predict32", "predict256")


WARM_UP_S = 3.0  # at least this long of warm-up calls: gpuflow starts its helper processes (about a second) after
# its first few training steps, and the steady state is what is compared


def _timed(fn, repeats):
    """Median (wall s, CPU s) of ``repeats`` calls of ``fn`` after warm-up calls (one at least, ``WARM_UP_S``
    seconds of them)."""
    start = time.perf_counter()
    fn()
    while time.perf_counter() - start < WARM_UP_S:
        fn()
    times = []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - w, time.process_time() - c))
    return [statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)]


def _fit_step(model, x, y, batch):
    steps = 10
    return lambda: model.fit(x[:steps * batch], y[:steps * batch], batch_size=batch, epochs=1, verbose=0), steps


def worker(workload):
    """In a subprocess whose sys.path starts with the tree under test: (wall, CPU) seconds of the workload."""
    import numpy as np
    import gpuflow as tf
    keras = tf.keras
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    per = 1
    if workload in ("seed_cnn",) or workload.startswith("predict"):
        from gpuflow.zoo import build_seed_cnn
        model = build_seed_cnn(keras)
        x = rng.random((2560, 28, 28, 1), dtype=np.float32)
        if workload == "predict1":
            fn = lambda: model(x[:1])  # noqa: E731
        elif workload.startswith("predict"):
            fn = lambda: model.predict(x[:1024], batch_size=int(workload[7:]), verbose=0)  # noqa: E731
        else:
            model.compile(optimizer=keras.optimizers.Adam(1e-3),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            fn, per = _fit_step(model, x, rng.integers(0, 10, len(x)), 128)
    elif workload == "segmentation":
        sys.path.insert(0, HERE)
        import bench_segmentation_cpu as seg
        model = seg.build_keras(keras)
        fn, per = _fit_step(model, *seg._data(160), 16)
    else:
        cls = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}[workload]
        model = keras.Sequential([keras.Input((28, 28)), getattr(keras.layers, cls)(128), keras.layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3, epsilon=1e-7),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        fn, per = _fit_step(model, rng.random((1280, 28, 28), dtype=np.float32), rng.integers(0, 10, 1280), 128)
    wall, cpu = _timed(fn, 5 if workload.startswith("predict") or workload == "segmentation" else 3)
    return {"wall_s": wall / per, "cpu_s": cpu / per, "gpuflow": tf.__file__}


def _tree(rev, tmp):
    """The folder holding the gpuflow package of ``rev`` ("WORKTREE": the repository itself)."""
    if rev == "WORKTREE":
        return ROOT
    dest = os.path.join(tmp, rev.replace("/", "_"))
    os.makedirs(dest)
    archive = subprocess.run(["git", "archive", rev, "gpuflow"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return dest


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", required=True, help="git revision A (e.g. HEAD~1)")
    p.add_argument("--new", default="WORKTREE", help="git revision B (default: the working tree)")
    p.add_argument("--workloads", default="lstm,seed_cnn,predict32")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--json", default=None)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return 0
    workloads = [w for w in args.workloads.split(",") if w]
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown or args.rounds < 1:
        p.error(f"expected --workloads from {','.join(WORKLOADS)} and --rounds >= 1; received {args.workloads!r}, "
                f"{args.rounds}")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"A": _tree(args.old, tmp), "B": _tree(args.new, tmp)}
        runs = {(w, side): [] for w in workloads for side in "AB"}
        for r in range(args.rounds):
            for w in workloads:
                for side in ("AB" if r % 2 == 0 else "BA"):
                    print(f"round {r + 1}/{args.rounds}: {w} {side}", file=sys.stderr, flush=True)
                    env = dict(os.environ, PYTHONPATH=trees[side])
                    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--old", "-", "--worker", w],
                                         env=env, cwd=tmp, capture_output=True, text=True, check=True).stdout
                    result = json.loads(out.strip().splitlines()[-1])
                    if not result["gpuflow"].startswith(trees[side]):
                        raise RuntimeError(f"{side} imported {result['gpuflow']}, not the tree {trees[side]}")
                    runs[(w, side)].append(result)
    print(f"A = {args.old}, B = {args.new}, {args.rounds} interleaved rounds; medians per step or call; "
          f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'workload':<14} {'A wall ms':>10} {'B wall ms':>10} {'B/A':>6} {'A CPU ms':>10} {'B CPU ms':>10} "
          f"{'B/A':>6}")
    report = {"benchmark": "cpu_ab", "old": args.old, "new": args.new, "rounds": args.rounds,
              "machine": il.machine_info(), "load_average_1min": [load_before[0], os.getloadavg()[0]], "results": {}}
    for w in workloads:
        med = {(side, k): statistics.median(x[k] for x in runs[(w, side)])
               for side in "AB" for k in ("wall_s", "cpu_s")}
        report["results"][w] = {f"{side}_{k}": v for (side, k), v in med.items()}
        print(f"{w:<14} {med['A', 'wall_s'] * 1e3:>10.2f} {med['B', 'wall_s'] * 1e3:>10.2f} "
              f"{med['B', 'wall_s'] / med['A', 'wall_s']:>6.3f} {med['A', 'cpu_s'] * 1e3:>10.2f} "
              f"{med['B', 'cpu_s'] * 1e3:>10.2f} {med['B', 'cpu_s'] / med['A', 'cpu_s']:>6.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
