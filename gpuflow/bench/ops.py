"""The ops suite of ``gpuflow bench ops``: each backend primitive against the same op in PyTorch
(and TensorFlow, for the Keras peer), on the same inputs, shapes, dtype and threads.

gpuflow is measured through its backend primitives (``conv2d_fwd``, ``max_pool2d_bwd``,
``dense_fwd`` ...), the calls a training step makes, with the arguments a training step passes
(the backward passes get the forward's saved buffers, e.g. the CPU backend's im2col matrix).
Every (op, shape) is measured for gpuflow and then at once for PyTorch in the same process,
so both see the same machine state; the Keras peer runs in its own interpreter afterwards
(see :mod:`gpuflow.bench.peers`).

``tf32`` applies to gpuflow too: :func:`run_ops` sets ``tf.config.experimental.enable_tensor_float_32_execution``
to it for the run (the CUDA backend's TF32 default would otherwise compare TF32 tensor cores with a peer in
FP32), and a row says ``"tf32"`` where gpuflow ran the op on the tensor cores (:data:`GPUFLOW_TENSOR_OPS`).

float16 and bfloat16 (``ml_dtypes.bfloat16`` arrays) run gpuflow's 16-bit path. A row's ``precision`` says
what arithmetic the op ran: ``fp16`` / ``bf16`` for 16-bit operands multiplied into float32 accumulators by
16-bit kernels (the tensor-core kernels on a GPU and the emulator; NumPy's matmul, which accumulates 16-bit
products in float32, on the CPU), ``fp32`` where gpuflow widens the 16-bit inputs to float32 and rounds the
result back (:mod:`gpuflow.backend.low_precision`: every other primitive on the CPU, pooling and the dense
backward everywhere, and the convolutions without tensor cores). On the emulator the 16-bit rows run on the
emulated tensor-core kernels, as a GPU of compute capability 8.0+ runs them by default. CuPy releases
without its experimental ``ml_dtypes.bfloat16`` support (cupy/cupy#9494, merged in 2026) have no bfloat16
dtype; with such a CuPy, bfloat16 is timed on uint16 buffers holding the bfloat16 bits, passed to the
tensor-core kernels through their own wrappers (:class:`gpuflow.backend.tensor_cores.TensorCoreKernels`, which
take uint16 as bfloat16): the convolutions and the dense forward, each such row saying so in its ``detail``;
the other ops are ``unsupported`` in bfloat16 there. A CuPy that holds bfloat16 arrays runs the backend as is.
"""
from __future__ import annotations

import gc

import numpy as np

from . import env as _env
from . import peaks as _peaks
from .peers import Unsupported, is_unsupported
from .specs import LOW_PRECISION, OPS, PRECISIONS, numpy_dtype, op_work
from .timing import measure, WallClock, CupyEventClock

__all__ = ["make_inputs", "GpuflowOps", "run_ops", "TENSOR_OPS", "holds_bfloat16"]

# Ops whose peer implementation runs on Tensor Cores when TF32 is allowed (cuDNN conv, cuBLAS GEMM).
TENSOR_OPS = {"conv2d_fwd", "conv2d_bwd_data", "conv2d_bwd_filter", "dense_relu_fwd", "dense_relu_bwd", "matmul"}
# Ops gpuflow's CUDA backend runs on its tensor-core kernels in TF32 (when it has them and TF32 is on);
# dense_relu_bwd and matmul are CuPy's cuBLAS calls in FP32.
GPUFLOW_TENSOR_OPS = {"conv2d_fwd", "conv2d_bwd_data", "conv2d_bwd_filter", "dense_relu_fwd"}


def make_inputs(op, shape, dtype="float32", seed=0):
    """The NumPy inputs of one (op, shape), the same for every framework.

    Keys: conv: x (NHWC), w (kh, kw, C, F), dy (N, OH, OW, F); pool: x, dy; dense: x (M, K),
    w (K, N), b (N,), dy (M, N); matmul: a (M, K), b (K, N).
    """
    rng = np.random.default_rng(seed)
    kind = OPS[op][0]
    dtype = numpy_dtype(dtype)

    def r(*shape_, scale=1.0):
        return (rng.standard_normal(shape_, dtype=np.float32) * scale).astype(dtype, copy=False)
    if kind == "conv":
        fan_in = shape.kh * shape.kw * shape.c
        return {"x": r(*shape.x_shape), "w": r(*shape.w_shape, scale=fan_in ** -0.5), "dy": r(*shape.y_shape)}
    if kind == "pool":
        return {"x": r(*shape.x_shape), "dy": r(*shape.y_shape)}
    if kind == "dense":
        return {"x": r(shape.m, shape.k), "w": r(shape.k, shape.n, scale=shape.k ** -0.5), "b": r(shape.n, scale=0.1),
                "dy": r(shape.m, shape.n)}
    return {"a": r(shape.m, shape.k), "b": r(shape.k, shape.n)}


class GpuflowOps:
    """gpuflow's backend primitives on a device ("cpu", "gpu" or "emulator") in one dtype (see the module
    docstring for float16 and bfloat16)."""

    framework = "gpuflow"

    def __init__(self, device, dtype="float32"):
        from ..device import Device, backend_for
        self.device = device
        if device == "emulator" and dtype in LOW_PRECISION:  # the emulator backend's default is no tensor cores
            from ..backend import kernels
            from ..backend.cupy_backend import CupyBackend
            self.be = CupyBackend(xp=np, loader=kernels.emulator_loader, name="emulator", tensor_cores=True)
        else:
            self.be = backend_for(Device("gpu:0" if device == "gpu" else device))
        #: bfloat16 on a CuPy without bfloat16: uint16 buffers holding the bits, straight to the tensor-core
        #: kernels' wrappers (the module docstring); the note every such row carries as its ``detail``.
        self.bf16_bits = dtype == "bfloat16" and not holds_bfloat16(self.be.xp)
        self.row_note = ("bfloat16 timed as uint16 bits through the tensor-core kernels' wrappers (this CuPy has no "
                         "bfloat16 dtype)") if self.bf16_bits else None
        self.clock = CupyEventClock() if device == "gpu" else WallClock(self.be.synchronize)

    def info(self):
        import gpuflow
        return {"status": "ok", "version": gpuflow.__version__, "backend": self.be.name}

    def precision(self, op, dtype):
        from .. import config
        if dtype == "float64":
            return "fp64"
        tensor_cores = getattr(self.be, "tensor_cores", None) is not None and op in GPUFLOW_TENSOR_OPS
        if dtype in LOW_PRECISION:
            return PRECISIONS[dtype] if tensor_cores or op == "matmul" else "fp32"
        return "tf32" if tensor_cores and config.tensor_float_32_execution_enabled() else "fp32"

    def prepare(self, op, shape, data):
        """A zero-argument callable running ``op`` once on device copies of ``data``.

        Raises:
            Unsupported: bfloat16 on a GPU for an op other than the convolutions and the dense forward, or
                without the tensor-core kernels (see the module docstring).
        """
        if self.bf16_bits:
            return self._prepare_bf16_bits(op, shape, data)
        be = self.be
        d = {k: be.asarray(v) for k, v in data.items()}
        kind = OPS[op][0]
        if kind == "conv":
            g = shape.geometry
            x, w, dy = d["x"], d["w"], d["dy"]
            if op == "conv2d_fwd":
                return lambda: be.conv2d_fwd(x, w, g)
            saved = be.conv2d_fwd(x, w, g)[1]  # what a training step hands backward
            if op == "conv2d_bwd_data":
                return lambda: be.conv2d_bwd_data(dy, w, g, saved=saved)
            return lambda: be.conv2d_bwd_filter(x, dy, g, saved=saved)
        if kind == "pool":
            g = shape.geometry
            x, dy = d["x"], d["dy"]
            if op == "max_pool_fwd":
                return lambda: be.max_pool2d_fwd(x, g)
            if op == "max_pool_bwd":
                saved = be.max_pool2d_fwd(x, g)[1]
                return lambda: be.max_pool2d_bwd(dy, g, saved=saved)
            if op == "avg_pool_fwd":
                return lambda: be.avg_pool2d_fwd(x, g)
            return lambda: be.avg_pool2d_bwd(dy, g)
        if kind == "dense":
            x, w, b, dy = d["x"], d["w"], d["b"], d["dy"]
            if op == "dense_relu_fwd":
                return lambda: be.dense_fwd(x, w, b=b, relu=True)
            y = be.dense_fwd(x, w, b=b, relu=True)
            return lambda: be.dense_bwd(dy, x, w, y=y, relu=True)
        a, b = d["a"], d["b"]
        return lambda: be.xp.matmul(a, b)

    def _prepare_bf16_bits(self, op, shape, data):
        """bfloat16 on CuPy, which has no bfloat16 dtype: uint16 buffers holding the bits, passed to the
        tensor-core kernels through the wrappers the backend calls for bfloat16 (the same launches)."""
        tc = self.be.tensor_cores
        if tc is None or op not in GPUFLOW_TENSOR_OPS:
            why = ("the tensor-core kernels are off on this GPU (compute capability below 8.0, or no CUDA headers: "
                   "see gpuflow info)" if tc is None else "gpuflow runs bfloat16 on a GPU only in the tensor-core "
                   "kernels (convolutions, dense forward)")
            raise Unsupported(f"this CuPy has no bfloat16 dtype; {why}")
        d = {k: self.be.xp.asarray(v.view(np.uint16)) for k, v in data.items()}
        if op == "dense_relu_fwd":
            x, w, b = d["x"], d["w"], d["b"]
            return lambda: tc.dense_fwd(x, w, b, relu=True)
        g = shape.geometry
        conv = dict(strides=g.strides, dilations=g.dilations, pads=g.pads)
        if op == "conv2d_fwd":
            x, w = d["x"], d["w"]
            return lambda: tc.conv2d_fwd(x, w, **conv)
        if op == "conv2d_bwd_data":
            dy, w = d["dy"], d["w"]
            return lambda: tc.conv2d_bwd_data(dy, w, g.input_shape, **conv)
        x, dy = d["x"], d["dy"]
        return lambda: tc.conv2d_bwd_filter(x, dy, g.kernel_hw, **conv)


def holds_bfloat16(xp):
    """Whether the array module ``xp`` keeps ``ml_dtypes.bfloat16`` arrays (NumPy does; CuPy from its
    experimental bfloat16 support on)."""
    try:
        return xp.asarray(np.zeros(1, numpy_dtype("bfloat16"))).dtype.name == "bfloat16"
    except Exception:  # CuPy: TypeError (unsupported dtype); no ml-dtypes: ImportError
        return False


def _row(op, shape, dtype, framework, flops, nbytes):
    return {"op": op, "shape": str(shape), "kind": OPS[op][0], "dtype": dtype, "framework": framework,
            "flops": int(flops), "bytes": int(nbytes), "status": "ok"}


def finish_row(row, stats, peak, precision):
    """Adds the timing statistics and the derived rates to a result row."""
    row.update(stats)
    row["precision"] = precision
    med = stats["median_s"]
    row["gflops"] = row["flops"] / med / 1e9 if med > 0 else None
    row["gbs"] = row["bytes"] / med / 1e9 if med > 0 else None
    frac, bound = _peaks.roofline(row["flops"], row["bytes"], med, peak, precision)
    row["roofline_fraction"], row["bound"] = frac, bound
    return row


def _failed(row, status, exc):
    row["status"] = status
    row["detail"] = f"{type(exc).__name__}: {exc}".strip()[:500]
    return row


def run_ops(cases, *, device="cpu", dtype="float32", peers=(), keras_python=None, warmup=None, repeat=None,
            max_time=2.0, tf32=False, threads=None, layout="channels_last", progress=None, seed=0, quick=False):
    """Runs the ops suite.

    Args:
        cases: list of (op, shape).
        peers: names among "torch", "keras".
        tf32: allow TF32 in the peers and in gpuflow (``tf.config.experimental.enable_tensor_float_32_execution``
            for the run, restored afterwards).

    Returns:
        (results, peers_info, peak): result rows (one per case and measured framework), the
        status and versions of each peer, and the peak used for the roofline.
    """
    from .. import config
    before = config.tensor_float_32_execution_enabled()
    config.enable_tensor_float_32_execution(bool(tf32))
    try:
        return _run_ops(cases, device, dtype, peers, keras_python, warmup, repeat, max_time, tf32, threads, layout,
                        progress, seed, quick)
    finally:
        config.enable_tensor_float_32_execution(before)


def _run_ops(cases, device, dtype, peers, keras_python, warmup, repeat, max_time, tf32, threads, layout, progress,
             seed, quick):
    from . import peers as _peers
    threads = threads or _env.default_threads()
    if progress is not None:
        progress.step("measuring the peak" + (" (GEMM, copy)" if device != "gpu" else ""))
    if device == "gpu":
        name = _env.gpu_info(0)["name"]
        peak = _peaks.gpu_peak(name) or _peaks.unknown_peak(name)
    else:
        peak = _peaks.measure_cpu_peak(dtype, threads, quick=quick)
        if device == "emulator":
            peak["label"] = "CPU (measured; the emulator runs on it)"
    impls = [GpuflowOps(device, dtype)]
    peers_info = {}
    for name in peers:
        if name == "torch":
            try:
                impls.append(_peers.TorchOps(device, dtype, threads, tf32, layout))
                peers_info["torch"] = impls[-1].info()
            except _peers.PeerUnavailable as e:
                peers_info["torch"] = {"status": e.status, "detail": str(e)}
    timing = dict(warmup=warmup, repeat=repeat, max_time=max_time)
    results = []
    for op, shape in cases:
        flops, nbytes = op_work(op, shape, dtype)
        data = make_inputs(op, shape, dtype, seed)
        for impl in impls:
            if progress is not None:
                progress.step(f"{op} {shape} · {impl.framework}")
            row = _row(op, shape, dtype, impl.framework, flops, nbytes)
            try:
                fn = impl.prepare(op, shape, data)
            except Unsupported as e:
                results.append(_failed(row, "unsupported", e))
                continue
            except Exception as e:  # a failing op is a result, not the end of the run
                results.append(_failed(row, "failed", e))
                continue
            try:
                on_sample = (lambda i, n: progress.note(f"sample {i}" + (f"/{n}" if n else ""))) if progress else None
                stats = measure(fn, clock=impl.clock, on_sample=on_sample, **timing)
                results.append(finish_row(row, stats, peak, impl.precision(op, dtype)))
                if getattr(impl, "row_note", None):
                    row["detail"] = impl.row_note
            except Exception as e:  # e.g. PyTorch's "not implemented for 'BFloat16'" on this device: unsupported
                results.append(_failed(row, "unsupported" if is_unsupported(e) else "failed", e))
            del fn
            gc.collect()
        del data
    if "keras" in peers:
        if progress is not None:
            progress.step("keras (TensorFlow) in its own interpreter")
        job = {"kind": "ops", "cases": [[op, str(shape)] for op, shape in cases], "device": device, "dtype": dtype,
               "threads": threads, "tf32": tf32, "seed": seed, **timing}
        out = _peers.run_worker("keras", keras_python, job, threads=threads, device=device, progress=progress)
        peers_info["keras"] = out.get("info") or {"status": out.get("status", "failed"), "detail": out.get("detail")}
        if out.get("status") == "ok":
            for (op, shape), r in zip(cases, out["rows"]):
                flops, nbytes = op_work(op, shape, dtype)
                row = _row(op, shape, dtype, "keras", flops, nbytes)
                if r.get("status") != "ok":
                    row.update(status=r.get("status", "failed"), detail=r.get("detail"))
                    results.append(row)
                else:
                    results.append(finish_row(row, r["stats"], peak, r["precision"]))
    _add_ratios(results)
    order = {"gpuflow": 0, "torch": 1, "keras": 2}
    index = {(op, str(s)): i for i, (op, s) in enumerate(cases)}
    results.sort(key=lambda r: (index[(r["op"], r["shape"])], order.get(r["framework"], 9)))
    return results, peers_info, peak


def _add_ratios(results):
    """``ratio_gpuflow_over_peer``: gpuflow's median time / the peer's (above 1: gpuflow slower)."""
    base = {(r["op"], r["shape"]): r["median_s"] for r in results
            if r["framework"] == "gpuflow" and r["status"] == "ok"}
    for r in results:
        g = base.get((r["op"], r["shape"]))
        r["ratio_gpuflow_over_peer"] = (g / r["median_s"] if r["framework"] != "gpuflow" and r["status"] == "ok"
                                        and g and r["median_s"] else None)

