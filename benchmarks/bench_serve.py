"""Benchmark of ``gpuflow serve``: C concurrent clients send single-instance REST predict requests for the
seed CNN to a server on 127.0.0.1, with and without dynamic batching, beside the model's offline
``predict`` throughput at batch ``max_batch_size``.

Each round starts ``python -m gpuflow serve`` without batching, then with ``--enable_batching`` (the modes
interleaved, so both see the same stretch of a shared machine's time), drives it for ``--seconds`` after
``--warmup`` seconds, stops it with SIGTERM, then times offline ``model.predict`` at the batch size. The
load generator runs here, on the same cores: asyncio clients on keep-alive HTTP/1.1 connections, each
sending the same pre-built request (one 28x28x1 instance, ~7 KB of JSON) and waiting for its answer.
Reported per mode: requests/s, p50/p99 latency, failed requests, and the mean batch size (rows per model
call, from the server's Prometheus metrics); medians over the rounds.

    .venv/bin/python benchmarks/bench_serve.py --rounds 3 --seconds 10 --out benchmarks/results/serve/NAME.json
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import re
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


def _seed_cnn():
    from gpuflow import keras
    try:
        from gpuflow.zoo import build_seed_cnn
    except ImportError:
        from gpuflow.cli import build_seed_cnn
    keras.utils.set_random_seed(0)
    return build_seed_cnn(keras)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metrics(port):
    """(model calls, rows) so far, from the server's batch_size histogram."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/monitoring/prometheus/metrics", timeout=30).read().decode()

    def value(name):
        m = re.search(rf"^:tensorflow:serving:batch_size_{name}\{{[^}}]*\}} (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0
    return value("count"), value("sum")


async def _client(port, request, stop_at, measure_from, latencies, failures):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            body = await reader.readexactly(length)
            t1 = time.perf_counter()
            ok = head.startswith(b"HTTP/1.1 200") and body.startswith(b'{"predictions"')
            if t0 >= measure_from:
                latencies.append(t1 - t0)
                if not ok:
                    failures.append(head.split(b"\r\n")[0] + b" " + body[:200])
    finally:
        writer.close()


def _cpu_seconds(pid):
    """CPU seconds (user + system) used so far by process ``pid`` (Linux /proc), and by this process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), usage.ru_utime + usage.ru_stime


async def _drive(port, pid, request, clients, warmup, seconds):
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    latencies, failures = [], []
    before = None

    async def snapshot():
        nonlocal before
        await asyncio.sleep(warmup)
        before = _cpu_seconds(pid), await asyncio.get_running_loop().run_in_executor(None, _metrics, port)
    tasks = [_client(port, request, stop_at, measure_from, latencies, failures) for _ in range(clients)]
    await asyncio.gather(snapshot(), *tasks)
    cpu = _cpu_seconds(pid)
    after = _metrics(port)
    calls, rows = after[0] - before[1][0], after[1] - before[1][1]
    n = max(len(latencies), 1)
    lat = np.sort(np.asarray(latencies)) * 1e3
    return {"requests": len(latencies), "failed": len(failures), "requests_per_s": len(latencies) / seconds,
            # CPU time per request, less sensitive to a shared machine than requests/s
            "server_cpu_ms_per_request": (cpu[0] - before[0][0]) * 1e3 / n,
            "client_cpu_ms_per_request": (cpu[1] - before[0][1]) * 1e3 / n,
            "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
            "p99_ms": float(np.percentile(lat, 99)) if len(lat) else None,
            "mean_batch_size": rows / calls if calls else None,
            "first_failures": [f.decode(errors="replace") for f in failures[:3]]}


def _serve(base, batching, args):
    rest, grpc_port = _free_port(), _free_port()
    cmd = [sys.executable, "-m", "gpuflow", "serve", "--model_name", "seed_cnn", "--model_base_path", base,
           "--rest_api_port", str(rest), "--port", str(grpc_port), "--rest_api_host", "127.0.0.1",
           "--file_system_poll_wait_seconds", "0"]
    if batching:
        cmd += ["--enable_batching", "--max_batch_size", str(args.max_batch_size),
                "--batch_timeout_micros", str(args.batch_timeout_micros)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{rest}/v1/models/seed_cnn", timeout=5).read()
            return proc, rest, cmd
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not answer within 120 s")


def _offline(model, batch, seconds):
    """Rows/s of ``model.predict`` at ``batch`` rows: as a user calls it, and with BLAS on one thread (as the
    server runs the model); the larger is the baseline."""
    from gpuflow.backend import cpu_runtime
    x = np.random.default_rng(1).random((batch, 28, 28, 1), dtype=np.float32)
    out = {}
    for name, blas in (("as_called", None), ("blas_single_threaded", cpu_runtime.single_threaded)):
        with blas() if blas else contextlib.nullcontext():
            model.predict(x, batch_size=batch, verbose=0)
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds / 2:
                model.predict(x, batch_size=batch, verbose=0)
                n += 1
            out[name] = n * batch / (time.perf_counter() - start)
    return out


def _versions():
    from importlib import metadata
    out = {"python": platform.python_version()}
    for name in ("numpy", "aiohttp", "grpcio", "protobuf", "prometheus-client"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        out["gpuflow_commit"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                               capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    try:
        from threadpoolctl import threadpool_info
        out["blas"] = [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                       for i in threadpool_info()]
    except ImportError:
        pass
    return out


def _cpu():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        field = {k: re.search(rf"^{k}\s*: (.*)$", text, re.M).group(1) for k in ("model name", "cpu family", "model",
                                                                               "flags")}
        return {"model": field["model name"], "family": int(field["cpu family"]), "model_number": int(field["model"]),
                "cores": os.cpu_count(), "avx512": sorted(f for f in field["flags"].split() if f.startswith("avx512"))}
    except (OSError, AttributeError):
        return {"model": platform.processor(), "cores": os.cpu_count()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10.0, help="timed seconds per mode and round")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--max_batch_size", type=int, default=32)
    p.add_argument("--batch_timeout_micros", type=int, default=2000)
    p.add_argument("--note", default="", help="recorded with the result (e.g. that the machine was shared)")
    p.add_argument("--out", default=None, help="write the result as JSON here")
    args = p.parse_args(argv)

    model = _seed_cnn()
    # one image with 6 decimals per pixel (float32 holds ~7 digits): ~7 KB of JSON
    x = np.random.default_rng(0).random((1, 28, 28, 1)).round(6)
    body = json.dumps({"instances": x.tolist()}).encode()
    request = (b"POST /v1/models/seed_cnn:predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    rounds = []
    with tempfile.TemporaryDirectory() as base:
        model.export(os.path.join(base, "1"), verbose=False)
        for r in range(args.rounds):
            row = {}
            for mode, batching in (("unbatched", False), ("batched", True)):
                proc, port, cmd = _serve(base, batching, args)
                try:
                    row[mode] = asyncio.run(_drive(port, proc.pid, request, args.clients, args.warmup, args.seconds))
                finally:
                    proc.send_signal(signal.SIGTERM)
                    code = proc.wait(60)
                row[mode]["server_exit"] = code
                row[mode]["command"] = " ".join(cmd[1:])
            row["offline_predict_rows_per_s"] = _offline(model, args.max_batch_size, min(args.seconds, 6))
            row["offline_best_rows_per_s"] = max(row["offline_predict_rows_per_s"].values())
            rounds.append(row)
            print(f"round {r + 1}: " + ", ".join(
                f"{m} {row[m]['requests_per_s']:.0f} req/s (p50 {row[m]['p50_ms']:.1f} ms, p99 {row[m]['p99_ms']:.1f}"
                f" ms, batch {row[m]['mean_batch_size']:.1f},"
                f" server CPU {row[m]['server_cpu_ms_per_request']:.2f} ms/req,"
                f" failed {row[m]['failed']})" for m in ("unbatched", "batched"))
                + "; offline predict " + ", ".join(f"{k} {v:.0f}" for k, v in row["offline_predict_rows_per_s"].items())
                + " rows/s", flush=True)

    def med(mode, key):
        return statistics.median(r[mode][key] for r in rounds)
    summary = {m: {k: med(m, k) for k in ("requests_per_s", "p50_ms", "p99_ms", "mean_batch_size",
                                          "server_cpu_ms_per_request", "client_cpu_ms_per_request")}
               for m in ("unbatched", "batched")}
    summary["per_round_batched_over_unbatched"] = [r["batched"]["requests_per_s"] / r["unbatched"]["requests_per_s"]
                                                   for r in rounds]
    summary["failed"] = sum(r[m]["failed"] for r in rounds for m in ("unbatched", "batched"))
    summary["offline_predict_rows_per_s"] = {k: statistics.median(r["offline_predict_rows_per_s"][k] for r in rounds)
                                             for k in rounds[0]["offline_predict_rows_per_s"]}
    summary["offline_best_rows_per_s"] = statistics.median(r["offline_best_rows_per_s"] for r in rounds)
    summary["batched_over_unbatched"] = summary["batched"]["requests_per_s"] / summary["unbatched"]["requests_per_s"]
    summary["batched_over_offline"] = summary["batched"]["requests_per_s"] / summary["offline_best_rows_per_s"]
    summary["unbatched_cpu_over_batched_cpu"] = (summary["unbatched"]["server_cpu_ms_per_request"]
                                                 / summary["batched"]["server_cpu_ms_per_request"])
    result = {"benchmark": "serve", "model": "seed_cnn",
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": shlex.join(["python", os.path.relpath(os.path.abspath(sys.argv[0]), ROOT), *sys.argv[1:]]),
              "python": sys.executable, "settings": vars(args), "cpu": _cpu(), "versions": _versions(),
              "note": args.note, "summary": summary, "rounds": rounds}
    print(json.dumps(summary, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    return 0 if summary["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
