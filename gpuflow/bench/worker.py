"""``python -m gpuflow.bench.worker``: one framework's share of a benchmark, in its own process.

Reads a JSON job on stdin (``{"kind": "ops" | "model", "framework": ..., ...}``, written by
:func:`gpuflow.bench.peers.run_worker`), prints ``@@progress <text>`` lines on stderr while it
runs and one ``@@result <json>`` line on stdout at the end. A framework that does not import is a
result (``"status": "not installed"``), not a crash. Needs only NumPy besides the framework
measured, so it runs in another interpreter (a TensorFlow virtual environment) too.
"""
from __future__ import annotations

import json
import sys
import traceback


def _progress(msg):
    print("@@progress " + msg, file=sys.stderr, flush=True)


def run_ops_job(job):
    """The Keras peer's share of ``gpuflow bench ops``: TensorFlow's kernels for every case."""
    from .ops import make_inputs
    from .peers import TFOps, is_unsupported
    from .specs import parse_shape
    from .timing import measure
    impl = TFOps(job["device"], job["threads"], job.get("tf32", False))
    rows = []
    for i, (op, text) in enumerate(job["cases"]):
        shape = parse_shape(text)
        _progress(f"keras {op} {shape} ({i + 1}/{len(job['cases'])})")
        try:
            fn = impl.prepare(op, shape, make_inputs(op, shape, job["dtype"], job.get("seed", 0)))
            stats = measure(fn, clock=impl.clock, warmup=job.get("warmup"), repeat=job.get("repeat"),
                            max_time=job.get("max_time", 2.0))
            rows.append({"status": "ok", "stats": stats, "precision": impl.precision(op, job["dtype"])})
        except Exception as e:  # TensorFlow without a kernel for this dtype on this device: unsupported
            rows.append({"status": "unsupported" if is_unsupported(e) else "failed",
                         "detail": f"{type(e).__name__}: {e}"[:500]})
    return {"status": "ok", "info": impl.info(), "rows": rows}


def main():
    job = json.loads(sys.stdin.read())
    from .peers import PeerUnavailable, Unsupported
    try:
        if job["kind"] == "ops":
            result = run_ops_job(job)
        else:
            from .model import run_model_job
            result = run_model_job(job)
    except PeerUnavailable as e:
        result = {"status": e.status, "detail": str(e)}
    except Unsupported as e:
        result = {"status": "unsupported", "detail": str(e)}
    except Exception as e:
        traceback.print_exc()
        result = {"status": "failed", "detail": f"{type(e).__name__}: {e}"[:500]}
    sys.stdout.flush()
    print("@@result " + json.dumps(result, default=float), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
