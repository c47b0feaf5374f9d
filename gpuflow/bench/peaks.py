"""Peak rates for the roofline: a table of GPUs from the vendor's datasheets, and on the CPU a
peak measured in the same run.

GPU figures are dense (no 2:4 sparsity) boost-clock peaks in GFLOP/s and GB/s. NVIDIA's
datasheets print the Tensor Core rates "with sparsity" (marked *); the dense rate is half, which
is the figure below. ``fp32`` is the SIMT (CUDA-core) rate that gpuflow's FP32 kernels can reach;
``tf32`` is the Tensor Core rate that cuDNN/cuBLAS and gpuflow's TF32 kernels reach when TF32 is allowed;
``fp16`` / ``bf16`` are the FP16 / BF16 Tensor Core rates with FP32 accumulation (what gpuflow's 16-bit
tensor-core kernels and cuDNN/cuBLAS under autocast run; equal on every GPU below).

Sources (vendor datasheets, read 2025; the BF16 / FP16 figures, added in 2026, are those datasheets' own
figures as we know them, cross-checked then against a secondary table for the H200 only):

* H100 SXM5 / PCIe / NVL: "NVIDIA H100 Tensor Core GPU" datasheet,
  https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet
  (SXM: FP32 67 TFLOPS, TF32 989* TFLOPS, BF16 / FP16 1,979* TFLOPS, 3.35 TB/s; PCIe: 51, 756*,
  1,513*, 2.0 TB/s; NVL: 60, 835*, 1,671*, 3.9 TB/s).
* H200 SXM / NVL: "NVIDIA H200 Tensor Core GPU" datasheet,
  https://www.nvidia.com/en-us/data-center/h200/ (SXM: FP32 67, TF32 989*, BF16 / FP16 1,979*, 4.8 TB/s;
  NVL: 60, 835*, 1,671*, 4.8 TB/s).
* A100: "NVIDIA A100 Tensor Core GPU" datasheet,
  https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf
  (FP32 19.5 TFLOPS, TF32 156 (312*) TFLOPS, BF16 / FP16 312 (624*) TFLOPS; 40GB PCIe/SXM 1,555 GB/s,
  80GB PCIe 1,935 GB/s, 80GB SXM 2,039 GB/s).
* L4: "NVIDIA L4 Tensor Core GPU" datasheet, https://www.nvidia.com/en-us/data-center/l4/
  (FP32 30.3 TFLOPS, TF32 120* TFLOPS, BF16 / FP16 242* TFLOPS, 300 GB/s).
* GeForce RTX 4090: "NVIDIA Ada GPU Architecture" whitepaper v2.1, Appendix A, Table 2,
  https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf
  (FP32 82.6 TFLOPS, TF32 Tensor 82.6/165.2* TFLOPS, FP16 and BF16 Tensor with FP32 accumulate
  165.2/330.4* TFLOPS (FP16 accumulate, which no framework here uses, is twice that), 1,008 GB/s).

On the CPU no datasheet applies (clocks, cores and vector width vary), so the peak is measured
in the run: the best of a few large BLAS GEMMs in the benchmark's dtype (GFLOP/s) and the best of
a few large multi-threaded array copies (GB/s, read + write). Fractions of it can exceed 1 when
a peer's kernels (oneDNN, MKL) beat NumPy's BLAS. For float16 and bfloat16 the CPU's compute peak is
unknown (``null``): NumPy has no 16-bit BLAS to measure it with (its float16 matmul is a generic loop),
and oneDNN's 16-bit kernels use instructions (AVX512-BF16, AMX, AVX512-FP16) whose rate depends on
the CPU; the float32 GEMM rate is measured and given beside it, since gpuflow's CPU backend widens
16-bit inputs to float32. A row whose precision has no known rate has no roofline fraction.
"""
from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["GPU_PEAKS", "gpu_peak", "unknown_peak", "measure_cpu_peak", "roofline"]

# (pattern on the CUDA device name, label, fp32 GFLOP/s, tf32 dense GFLOP/s, fp16 = bf16 dense GFLOP/s with
# FP32 accumulation, GB/s); first match wins.
GPU_PEAKS = [
    (r"H200.*NVL", "H200 NVL", 60_000, 417_500, 835_500, 4_800),
    (r"H200", "H200 SXM", 67_000, 494_500, 989_500, 4_800),
    (r"H100.*NVL", "H100 NVL", 60_000, 417_500, 835_500, 3_900),
    (r"H100.*PCIe", "H100 PCIe", 51_000, 378_000, 756_500, 2_000),
    (r"H100", "H100 SXM5", 67_000, 494_500, 989_500, 3_350),
    (r"A100.*80GB.*PCIe|A100.*PCIE.*80GB", "A100 80GB PCIe", 19_500, 156_000, 312_000, 1_935),
    (r"A100.*SXM.*80GB|A100.*80GB", "A100 80GB SXM", 19_500, 156_000, 312_000, 2_039),
    (r"A100", "A100 40GB", 19_500, 156_000, 312_000, 1_555),
    (r"\bL4\b", "L4", 30_300, 60_000, 121_000, 300),
    (r"RTX 4090", "GeForce RTX 4090", 82_600, 82_600, 165_200, 1_008),
]


def gpu_peak(name):
    """The datasheet peak of a CUDA device name, or None if it is not in the table.

    Returns:
        {"label", "fp32_gflops", "tf32_gflops", "fp16_gflops", "bf16_gflops", "bandwidth_gbs",
        "fp64_gflops": None, "source": "datasheet"}.
    """
    for pattern, label, fp32, tf32, half, bw in GPU_PEAKS:
        if re.search(pattern, name or "", re.IGNORECASE):
            return {"label": label, "fp32_gflops": float(fp32), "tf32_gflops": float(tf32),
                    "fp16_gflops": float(half), "bf16_gflops": float(half), "bandwidth_gbs": float(bw),
                    "fp64_gflops": None, "source": "datasheet"}
    return None


def unknown_peak(label):
    """The peak of a device the table does not know: every rate null."""
    return {"label": label, "source": "unknown", "fp32_gflops": None, "tf32_gflops": None, "fp16_gflops": None,
            "bf16_gflops": None, "fp64_gflops": None, "bandwidth_gbs": None}


def _best(fn, tries, budget):
    best = float("inf")
    t0 = time.perf_counter()
    for i in range(tries):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
        if i >= 1 and time.perf_counter() - t0 > budget:
            break
    return best


def measure_cpu_peak(dtype="float32", threads=1, quick=False):
    """Measures the CPU's GEMM rate and copy bandwidth now (see the module docstring).

    Args:
        dtype: float32 or float64 (a GEMM in that dtype); float16 or bfloat16 (a float32 GEMM, and the
            16-bit rate left unknown: see the module docstring).

    Returns:
        {"label", "fp32_gflops" or "fp64_gflops", "bandwidth_gbs", "source": "measured", "method"}, with
        the other rates null.
    """
    low = dtype in ("float16", "bfloat16")
    dt = np.dtype(np.float32 if low else dtype)
    rng = np.random.default_rng(0)
    n = 1024 if quick else 2048
    a = rng.standard_normal((n, n)).astype(dt)
    b = rng.standard_normal((n, n)).astype(dt)
    a @ b  # warm-up (thread start, page faults)
    t = _best(lambda: a @ b, 3, 2.0)
    if t < 0.05 and not quick:  # a fast machine: a bigger GEMM gets nearer the peak
        n = 4096
        a = rng.standard_normal((n, n)).astype(dt)
        b = rng.standard_normal((n, n)).astype(dt)
        a @ b
        t = _best(lambda: a @ b, 3, 2.0)
    gflops = 2.0 * n ** 3 / t / 1e9
    elems = (16 if quick else 64) << 20  # 64 Mi elements: 256 MiB of float32, larger than any cache
    src = np.ones(elems, dtype=np.float32)
    dst = np.empty_like(src)
    parts = max(1, int(threads))
    bounds = [elems * i // parts for i in range(parts + 1)]
    pool = ThreadPoolExecutor(max_workers=parts) if parts > 1 else None

    def copy():
        if pool is None:
            np.copyto(dst, src)
        else:
            list(pool.map(lambda i: np.copyto(dst[bounds[i]:bounds[i + 1]], src[bounds[i]:bounds[i + 1]]),
                          range(parts)))
    copy()
    tc = _best(copy, 3, 1.0)
    if pool is not None:
        pool.shutdown()
    key = "fp64_gflops" if dt == np.float64 else "fp32_gflops"
    out = dict(unknown_peak("CPU (measured)"), bandwidth_gbs=2.0 * src.nbytes / tc / 1e9, source="measured",
               method=f"best of 3 {n}x{n}x{n} {dt.name} NumPy GEMMs; best of 3 {src.nbytes >> 20} MiB copies "
                      f"on {parts} thread(s)" + (f"; {dtype} rate unknown (NumPy has no 16-bit BLAS)" if low else ""))
    out[key] = gflops
    return out


def roofline(flops, nbytes, seconds, peak, precision):
    """Fraction of the roofline floor reached: ``max(flops/peak_rate, bytes/bandwidth) / seconds``.

    Args:
        precision: "fp32", "tf32", "fp16", "bf16" or "fp64": which rate of ``peak`` applies.

    Returns:
        (fraction or None, "compute" | "memory" | None): None when the peak is unknown, or when that
        precision's rate is (a memory floor alone would overstate how close a compute-bound op is).
    """
    if not peak or not seconds:
        return None, None
    rate = peak.get(f"{precision}_gflops")
    bw = peak.get("bandwidth_gbs")
    if flops and not rate:
        return None, None
    floors = []
    if rate:
        floors.append((flops / (rate * 1e9), "compute"))
    if bw:
        floors.append((nbytes / (bw * 1e9), "memory"))
    if not floors:
        return None, None
    floor, bound = max(floors)
    return floor / seconds, bound
