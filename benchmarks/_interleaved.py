"""Shared machinery of the CPU peer benchmarks (``bench_seed_cnn_cpu.py``, ``bench_rnn_cpu.py``,
``bench_segmentation_cpu.py``, ``bench_predict_cpu.py``).

Each framework runs in its own subprocess (the script itself, with ``--worker NAME``), which prints one
JSON line; the frameworks run R times, interleaved (a, b, c, a, b, c, ...), so that each is measured
across the same stretch of a shared machine's time; the figure is the median over all rounds' timed
epochs (the first epoch of each process is warm-up), and each round's median is kept.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def fashion_mnist(samples):
    """``(x, y)``: the first ``samples`` Fashion-MNIST training images as float32 in [0, 1], (N, 28, 28), and
    their int64 labels."""
    sys.path.insert(0, ROOT)
    from gpuflow.keras.datasets import fashion_mnist as fm
    (x, y), _ = fm.load_data()
    return x[:samples].astype("float32") / 255.0, y[:samples].astype("int64")


def epoch_loop(run_epoch, epochs):
    """Seconds of each of ``epochs`` calls of ``run_epoch``."""
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        run_epoch()
        times.append(time.perf_counter() - t)
    return times


def torch_epochs(model, opt, xt, yt, batch_size, epochs):
    """Seconds of each of ``epochs`` PyTorch training epochs of ``model``: shuffled batches of ``batch_size``,
    ``zero_grad`` / cross-entropy forward / ``backward`` / ``opt.step()`` each (the loop a PyTorch user writes)."""
    import torch
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
    return epoch_loop(epoch, epochs)


def worker_main(workers, args):
    """In a worker process: runs ``workers[args.worker]`` and prints its result (with peak RSS) as JSON."""
    result = workers[args.worker](args)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    helpers = _children_peak_rss_mb()
    if helpers:  # helper processes (gpuflow's, on Linux): their peaks count too (shared pages in each)
        result["helper_processes_peak_rss_mb"] = helpers
        result["peak_rss_mb"] += sum(helpers)
    print(json.dumps(result))
    return 0


def _children_peak_rss_mb():
    """Peak RSS (MB, VmHWM) of each live child process of this one (Linux; [] elsewhere)."""
    peaks = []
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as f:
            pids = f.read().split()
    except OSError:
        return peaks
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                peaks += [int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:")]
        except OSError:  # it ended meanwhile
            pass
    return peaks


def run_worker(script, name, argv, threads, python):
    """Runs ``python script --worker name *argv`` with ``threads`` BLAS/OpenMP threads; its JSON result with
    ``status`` "ok", or "not installed" / "failed" and the last line of its error output."""
    cmd = [python, script, "--worker", name, *argv]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        if "No module named" in tail[0]:
            return {"framework": name, "status": "not installed", "detail": tail[0]}
        return {"framework": name, "status": "failed", "detail": tail[0]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["status"] = "ok"
    return result


def interleave(names, rounds, run):
    """``{name: [result of run(name) for each round]}``, the names run in turn within each round."""
    runs = {name: [] for name in names}
    for r in range(rounds):
        for name in names:
            print(f"round {r + 1}/{rounds}: running {name} ...", file=sys.stderr, flush=True)
            runs[name].append(run(name))
    return runs


def merge_rounds(runs, steps_per_epoch):
    """One result per framework from its R interleaved runs: median over every run's timed epochs."""
    ok = [r for r in runs if r["status"] == "ok"]
    if not ok:
        return runs[0]
    result = dict(ok[-1])
    timed = [t for r in ok for t in (r["epoch_s"][1:] or r["epoch_s"])]
    result["epoch_s"] = [r["epoch_s"] for r in ok]
    result["round_median_epoch_s"] = [statistics.median(r["epoch_s"][1:] or r["epoch_s"]) for r in ok]
    result["median_epoch_s"] = statistics.median(timed)
    result["steps_per_epoch"] = steps_per_epoch
    result["ms_per_step"] = 1000 * result["median_epoch_s"] / steps_per_epoch
    result["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
    return result


def machine_info():
    """Date, CPU model and vector extensions, cores, versions, NumPy's BLAS and the kernel it runs
    (OpenBLAS's config string ends with it, e.g. "SkylakeX" or "Haswell"), and the commit."""
    sys.path.insert(0, ROOT)
    import numpy as np
    from gpuflow.bench import env
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    blas = env.blas_info()
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "cpu": env.cpu_name(), "cpu_vector_extensions": env.cpu_vector_extensions(), "cores": os.cpu_count(),
            "python": platform.python_version(), "numpy": np.__version__,
            "blas": f"{blas['library']} {blas['version']}", "blas_config": blas["config"],
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"), "git_commit": commit.stdout.strip()}


def print_table(title, results, base_name="gpuflow"):
    """The results as a table: median s/epoch and ms/step, each round's median, peak RSS, ratio to ``base_name``."""
    base = next((r for r in results if r["framework"] == base_name and r["status"] == "ok"), None)
    print(title)
    print(f"{'framework':<22} {'version':<12} {'s/epoch':>8} {'ms/step':>8} {'rounds s/epoch':>22} "
          f"{'peak RSS MB':>12} {'vs ' + base_name:>11}")
    for r in results:
        if r["status"] != "ok":
            print(f"{r['framework']:<22} {r['status']}: {r.get('detail', '')}")
            continue
        ratio = r["median_epoch_s"] / base["median_epoch_s"] if base else float("nan")
        rounds = " ".join(f"{t:.2f}" for t in r["round_median_epoch_s"])
        print(f"{r['framework']:<22} {r['version']:<12} {r['median_epoch_s']:>8.2f} {r['ms_per_step']:>8.1f} "
              f"{rounds:>22} {r['peak_rss_mb']:>12.0f} {ratio:>10.2f}x")


def add_common_args(p, workers, samples, peers):
    """Adds the options every interleaved benchmark takes to argparse parser ``p`` (``samples`` and ``peers``:
    this benchmark's defaults; ``workers``: its worker table, for the hidden ``--worker``)."""
    p.add_argument("--epochs", type=int, default=3, help="epochs per framework; the first is warm-up")
    p.add_argument("--samples", type=int, default=samples)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--peers", default=peers)
    p.add_argument("--rounds", type=int, default=1, help="interleaved repetitions of the whole comparison")
    p.add_argument("--keras-python", default=os.environ.get("GPUFLOW_BENCH_KERAS_PYTHON", sys.executable),
                   help="Python interpreter that has tensorflow/keras (a separate venv)")
    p.add_argument("--torch-python", default=os.environ.get("GPUFLOW_BENCH_TORCH_PYTHON", sys.executable),
                   help="Python interpreter that has torch")
    p.add_argument("--json", default=None)
    p.add_argument("--worker", choices=sorted(workers), help=argparse.SUPPRESS)


def checked_peers(p, args, workers):
    """The ``--peers`` list, after ``p.error`` for an unknown peer or ``--rounds`` below 1."""
    peers = [s for s in args.peers.split(",") if s]
    unknown = [s for s in peers if s not in workers or s == "gpuflow"]
    if unknown:
        p.error(f"unknown peer(s) {unknown}; expected a subset of {','.join(n for n in workers if n != 'gpuflow')}")
    if args.rounds < 1:
        p.error(f"--rounds must be >= 1, got {args.rounds}")
    return peers


def python_for(name, args):
    """The interpreter that runs framework ``name``'s worker (Keras and PyTorch may live in their own venvs)."""
    if name == "keras":
        return args.keras_python
    return args.torch_python if name.startswith("torch") else sys.executable


def write_json(path, report):
    """Writes ``report`` to ``path`` as indented JSON (nothing when ``path`` is None)."""
    if path:
        with open(path, "w") as f:
            json.dump(report, f, indent=2)


def machine_line(info):
    """The machine as the tables' titles name it: CPU, cores, BLAS build and kernel, date."""
    return f"{info['cpu']} ({info['cores']} cores, {info['blas_config']}), {info['date']}"


def compare(script, p, args, workers, argv):
    """The parent's side of a comparison, after ``p.parse_args()``: checks ``--peers``, then runs ``script``'s
    workers (gpuflow first, then the peers) with ``argv`` for ``args.rounds`` interleaved rounds.

    Returns:
        ``(machine_info(), names, {name: [each round's result]})``.
    """
    peers = checked_peers(p, args, workers)
    info = machine_info()
    names = ["gpuflow"] + peers
    runs = interleave(names, args.rounds, lambda name: run_worker(
        os.path.abspath(script), name, argv, args.threads, python_for(name, args)))
    return info, names, runs


def common_argv(args):
    """The worker arguments every benchmark passes on: epochs, samples, threads."""
    return ["--epochs", str(args.epochs), "--samples", str(args.samples), "--threads", str(args.threads)]


def report_epochs(args, info, names, runs, benchmark, title, **fields):
    """Merges, prints and writes (``--json``) the per-epoch results of a training comparison."""
    results = [merge_rounds(runs[name], -(-args.samples // args.batch_size)) for name in names]
    report = {"benchmark": benchmark, **fields, "machine": info, "batch_size": args.batch_size,
              "samples": args.samples, "epochs": args.epochs, "rounds": args.rounds, "threads": args.threads,
              "results": results}
    print_table(f"{title}, {args.samples} samples/epoch, batch {args.batch_size}, {args.threads} threads, "
                f"{args.rounds} interleaved round(s), {machine_line(info)}", results)
    write_json(args.json, report)
    return 0
