"""Data-parallel scaling of the seed CNN on the CPU: 1 process x 1 thread against N processes x 1 thread
(MultiWorkerMirroredStrategy over MPI), and the all-reduce's share of a training step.

    python benchmarks/bench_distributed.py [--processes 2] [--batch-size 128] [--steps 40] [--rounds 3]
                                           [--json benchmarks/results/distributed-cpu-DATE.json]

Weak scaling, as data parallelism is used: every process trains on ``--batch-size`` samples per step, so N
processes train on N times the samples per step (the global batch). The 1-process run uses no strategy (plain
``fit``). Each configuration runs ``--rounds`` times, interleaved (1, N, 1, N, ...), so that both are measured
across the same stretch of a shared machine's time. In a run, the first ``--warmup`` steps are not timed; the
step time is the median of the timed steps' wall time on worker 0, samples/s the global batch over it, and the
all-reduce time the median over steps of the time spent in the gradient all-reduce (``all_reduce_many``; it
includes waiting for the slower peer, so imbalance between processes shows there too) and, separately, in
the metrics' all-reduce. CPU share: worker 0's CPU time over its wall time in the timed steps (below 1 when
it waited for its peer or, on a shared machine, was not scheduled). Scaling efficiency = samples/s(N) /
(N x samples/s(1)). On a machine shared with other work the wall-clock figures say more about the other work
than about the code, so the speed-up is also given from CPU time per step, N x cpu(1) / cpu(N): what it would
be with a free core per process (CPU time includes memory stalls, and a rank spinning while it waits for its
peer; it misses contention between the two processes when the scheduler did not run them at the same time),
and from the runs that had their cores (worker 0's CPU share >= 0.9) alone.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import _interleaved  # noqa: E402

# A run whose worker 0 was on the CPU this share of its wall time had its core (it neither waited for a
# descheduled peer nor for other work on the machine).
QUIET_CPU_SHARE = 0.9


def worker(args):
    """One process of a run: trains the seed CNN for warmup + steps steps; worker 0 prints a JSON line."""
    import numpy as np
    import gpuflow as tf
    from gpuflow import keras
    from gpuflow.zoo import build_seed_cnn
    strategy = tf.distribute.MultiWorkerMirroredStrategy() if args.distributed else tf.distribute.get_strategy()
    n = strategy.num_replicas_in_sync
    global_batch = args.batch_size * n
    steps = args.warmup + args.steps
    try:
        x, y = _interleaved.fashion_mnist(global_batch * steps)
        data = "Fashion-MNIST"
    except (OSError, ValueError):
        rng = np.random.default_rng(0)
        x, y = rng.random((global_batch * steps, 28, 28), dtype=np.float32), rng.integers(0, 10, global_batch * steps)
        data = "random images"
    x = x[..., None]
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_seed_cnn(keras)
        model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    collectives = strategy._collectives
    spent = {"grads": [], "metrics": []}
    if n > 1:  # time the collectives: all_reduce_many is the gradients', a plain all_reduce the metrics'
        many, one = collectives.all_reduce_many, collectives.all_reduce
        inside = []

        def timed_many(*a, **k):
            inside.append(1)
            t = time.perf_counter()
            try:
                return many(*a, **k)
            finally:
                spent["grads"][-1] += time.perf_counter() - t
                inside.pop()

        def timed_one(*a, **k):
            t = time.perf_counter()
            out = one(*a, **k)
            if not inside:
                spent["metrics"][-1] += time.perf_counter() - t
            return out
        collectives.all_reduce_many, collectives.all_reduce = timed_many, timed_one
    step_s, cpu_s = [], []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            spent["grads"].append(0.0)
            spent["metrics"].append(0.0)
            self.t, self.cpu = time.perf_counter(), time.process_time()

        def on_train_batch_end(self, batch, logs=None):
            step_s.append(time.perf_counter() - self.t)
            cpu_s.append(time.process_time() - self.cpu)
    model.fit(x, y, batch_size=global_batch, epochs=1, shuffle=False, verbose=0, callbacks=[Clock()])
    if collectives.rank == 0:
        timed = slice(args.warmup, None)
        step = statistics.median(step_s[timed])
        grads = statistics.median(spent["grads"][timed]) if n > 1 else 0.0
        metrics = statistics.median(spent["metrics"][timed]) if n > 1 else 0.0
        cpu_share = sum(cpu_s[timed]) / sum(step_s[timed])  # below 1: the process waited, or was not scheduled
        print(json.dumps({"processes": n, "global_batch": global_batch, "data": data, "steps": args.steps,
                          "median_step_s": step, "samples_per_s": global_batch / step,
                          "grad_all_reduce_s": grads, "metrics_all_reduce_s": metrics,
                          "cpu_share": cpu_share, "median_step_cpu_s": statistics.median(cpu_s[timed]),
                          "grad_bytes": int(sum(v.numpy().nbytes for v in model.trainable_variables)),
                          "step_s": step_s}))
    return 0


def run(args, processes):
    env = dict(os.environ, GPUFLOW_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               GPUFLOW_DEVICE="cpu", PYTHONPATH=ROOT)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--batch-size", str(args.batch_size),
           "--steps", str(args.steps), "--warmup", str(args.warmup)]
    if processes > 1:
        from gpuflow.distribute.mpi import mpiexec_command, root_env
        launcher = mpiexec_command(processes)
        if launcher is None:
            raise SystemExit("bench_distributed: no mpiexec; pip install 'gpuflow[distributed]'")
        env.update(root_env())
        binding = ["--bind-to", args.bind_to] if "--oversubscribe" in launcher else []  # Open MPI's option
        cmd = [*launcher, *binding, *cmd, "--distributed"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"bench_distributed: the {processes}-process run failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128, help="samples per process per step")
    p.add_argument("--steps", type=int, default=40, help="timed steps per run")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--bind-to", choices=["core", "none"], default="core",
                   help="Open MPI's process binding (core: one core per process; none: the OS scheduler moves them)")
    p.add_argument("--json", default=None)
    p.add_argument("--note", default="", help="a remark stored with the results (e.g. the machine was shared)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--distributed", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    runs = _interleaved.interleave([1, args.processes], args.rounds, lambda n: run(args, n))
    summary = {}
    for n, results in runs.items():
        summary[n] = {"samples_per_s": statistics.median(r["samples_per_s"] for r in results),
                      "median_step_s": statistics.median(r["median_step_s"] for r in results),
                      "grad_all_reduce_s": statistics.median(r["grad_all_reduce_s"] for r in results),
                      "metrics_all_reduce_s": statistics.median(r["metrics_all_reduce_s"] for r in results),
                      "cpu_share": statistics.median(r["cpu_share"] for r in results),
                      "median_step_cpu_s": statistics.median(r["median_step_cpu_s"] for r in results),
                      "rounds_samples_per_s": [round(r["samples_per_s"], 1) for r in results]}
    one, many = summary[1], summary[args.processes]
    speedup = many["samples_per_s"] / one["samples_per_s"]
    print(f"seed CNN, {args.batch_size} samples per process per step, {runs[1][0]['data']}, 1 thread per process")
    print(f"{'processes':>9} {'samples/s':>10} {'step ms':>8} {'grad all-reduce ms':>19} {'(% of step)':>11} "
          f"{'metrics all-reduce ms':>21} {'CPU share':>9} {'CPU ms/step':>11} {'rounds samples/s':>24}")
    for n, s in summary.items():
        print(f"{n:>9} {s['samples_per_s']:>10.1f} {s['median_step_s'] * 1e3:>8.1f} "
              f"{s['grad_all_reduce_s'] * 1e3:>19.2f} {100 * s['grad_all_reduce_s'] / s['median_step_s']:>10.1f}% "
              f"{s['metrics_all_reduce_s'] * 1e3:>21.2f} {s['cpu_share']:>9.2f} {s['median_step_cpu_s'] * 1e3:>11.1f} "
              f"{' '.join(map(str, s['rounds_samples_per_s'])):>24}")
    projected = args.processes * one["median_step_cpu_s"] / many["median_step_cpu_s"]
    quiet = {n: [r["samples_per_s"] for r in results if r["cpu_share"] >= QUIET_CPU_SHARE] for n, results in runs.items()}
    quiet_speedup = (statistics.median(quiet[args.processes]) / statistics.median(quiet[1])
                     if quiet[1] and quiet[args.processes] else None)
    print(f"speed-up {speedup:.2f}x with {args.processes} processes (scaling efficiency "
          f"{speedup / args.processes:.0%}); gradients {runs[1][0]['grad_bytes'] / 1e6:.2f} MB per all-reduce")
    print(f"from CPU time per step (what the speed-up would be with a free core per process): {projected:.2f}x")
    if quiet_speedup is not None:
        print(f"runs that had their cores (CPU share >= {QUIET_CPU_SHARE}): {len(quiet[1])} x 1 process at "
              f"{statistics.median(quiet[1]):.0f} samples/s, {len(quiet[args.processes])} x {args.processes} at "
              f"{statistics.median(quiet[args.processes]):.0f}: speed-up {quiet_speedup:.2f}x")
    else:
        print(f"no run of each configuration had its cores (CPU share >= {QUIET_CPU_SHARE}): the wall-clock "
              "speed-up above measures the other work on the machine")
    _interleaved.write_json(args.json, {"benchmark": "bench_distributed", "machine": _interleaved.machine_info(),
                                        "note": args.note, "args": {k: v for k, v in vars(args).items()
                                                                    if k not in ("worker", "distributed")},
                                        "summary": {str(k): v for k, v in summary.items()}, "speedup": speedup,
                                        "scaling_efficiency": speedup / args.processes,
                                        "speedup_from_cpu_time": projected,
                                        "quiet_runs_samples_per_s": {str(k): v for k, v in quiet.items()},
                                        "speedup_quiet_runs": quiet_speedup,
                                        "load_average": os.getloadavg(),
                                        "runs": {str(k): v for k, v in runs.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
