"""Compile-checks ``cuda_kernels/*.cu`` with NVRTC, without a GPU, and reports ptxas resource usage.

NVRTC (the ``nvidia-cuda-nvrtc`` wheel, driven through ``cuda-bindings``) compiles CUDA C++ to
CUBIN with no driver and no device, so CI catches syntax errors and register spills in the kernels
on a machine without a GPU. Each ``.cu`` file is compiled as its own program, exactly as
:mod:`gpuflow.backend.kernels` hands it to ``cupy.RawModule`` (``-std=c++17 -I<cuda_kernels>``),
for each requested real architecture (``--gpu-architecture=sm_XX`` -> SASS in a CUBIN), with
``-Xptxas=-v`` so that ptxas writes, for every entry point, lines such as::

    ptxas info    : Compiling entry function 'conv2d_fwd_f32' for 'sm_90'
    ptxas info    : Function properties for conv2d_fwd_f32
    ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
    ptxas info    : Used 87 registers, used 1 barriers, 17408 bytes smem

into the NVRTC program log, which :func:`parse_ptxas_log` turns into one record per entry point.

The tensor-core kernels (``*_tc.cu``) include ``<mma.h>``, ``<cuda_fp16.h>`` and ``<cuda_bf16.h>``: the CUDA
include folder of :func:`gpuflow.backend.tensor_cores.cuda_headers` (the ``nvidia-cuda-runtime`` and
``nvidia-cuda-crt`` wheels, or ``CUDA_PATH``) is added with ``-I``, and the report names it.

Each record also gets the theoretical occupancy of its architecture (:data:`ARCH_LIMITS`, the device
properties of the A100 (sm_80) and H100/H200 (sm_90); block size from the wrappers' launch
configuration) and, when ``nvdisasm`` is found (the ``nvidia-cuda-nvdisasm`` wheel, through
``cuda.pathfinder``, or on PATH), the instruction mix of the hot loop from the SASS: the backward
branch's loop with the most HMMA + FFMA instructions (:func:`sass_hot_loops`).

Usage::

    python -m gpuflow.backend.nvrtc_check                  # table for sm_80 and sm_90
    python -m gpuflow.backend.nvrtc_check --arch sm_90 --fail-on-spill

Requires ``pip install cuda-bindings nvidia-cuda-nvrtc`` (CUDA 13 wheels; the ``test`` extra).
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

from . import kernels, tensor_cores

__all__ = ["EXPECTED_ENTRY_POINTS", "ARCH_LIMITS", "NvrtcUnavailableError", "NvrtcCompileError", "nvrtc_version",
           "compile_source", "parse_ptxas_log", "occupancy", "nvdisasm_path", "sass_hot_loops", "check_file",
           "check_all", "format_table", "main"]

DEFAULT_ARCHS = ("sm_80", "sm_90")

# Every extern "C" entry point the Python wrappers launch, by source file.
EXPECTED_ENTRY_POINTS = {
    "conv2d.cu": ("conv2d_fwd_f32", "conv2d_maxpool_fwd_f32", "conv2d_bwd_data_f32", "conv2d_bwd_filter_f32",
                  "conv2d_bwd_filter_splitk_f32", "splitk_reduce_f32"),
    "pool2d.cu": ("max_pool2d_fwd_f32", "max_pool2d_bwd_f32", "avg_pool2d_fwd_f32", "avg_pool2d_bwd_f32"),
    "dense.cu": ("dense_bias_relu_fwd_f32", "dense_bias_relu_bwd_f32"),
    "conv2d_tc.cu": tuple(f"conv2d_{op}_{p}" for op in ("fwd", "bwd_data", "bwd_filter", "bwd_filter_splitk")
                          for p in ("tf32", "bf16", "f16")) + ("splitk_reduce_bf16", "splitk_reduce_f16"),
    "dense_tc.cu": tuple(f"dense_bias_relu_fwd_{p}" for p in ("tf32", "bf16", "f16")),
}

# Per-SM limits for the theoretical occupancy (CUDA C++ Programming Guide, "Compute Capabilities",
# and the occupancy calculator's allocation rules): registers are allocated per warp in units of 256,
# shared memory per block in units of 128 bytes plus 1 KiB the system reserves per block.
ARCH_LIMITS = {
    "sm_80": dict(registers=65536, max_warps=64, max_blocks=32, shared_bytes=164 * 1024),
    "sm_90": dict(registers=65536, max_warps=64, max_blocks=32, shared_bytes=228 * 1024),
}


def _block_threads(file, kernel):
    """Threads per block the wrappers launch: tensor_cores.THREADS for the tensor-core GEMMs, 256 for the
    SIMT kernels and every split-K reduction."""
    return tensor_cores.THREADS if file.endswith("_tc.cu") and not kernel.startswith("splitk_reduce") else 256


class NvrtcUnavailableError(ImportError):
    """The NVRTC Python bindings or the NVRTC library cannot be loaded."""


class NvrtcCompileError(RuntimeError):
    """A kernel source failed to compile; the message carries NVRTC's log as ``file:line: error``."""

    def __init__(self, path, arch, log):
        self.path, self.arch, self.log = path, arch, log
        super().__init__(f"NVRTC failed to compile {path} for {arch}:\n{log}")


def _nvrtc():
    try:
        from cuda.bindings import nvrtc  # cuda-bindings >= 12.6
    except ImportError:
        try:
            from cuda import nvrtc  # older cuda-python layout
        except ImportError as e:
            raise NvrtcUnavailableError(
                "the NVRTC compile check needs the CUDA Python bindings and the NVRTC library: "
                "pip install cuda-bindings nvidia-cuda-nvrtc (or the 'test' extra). "
                f"Import failed: {e}") from e
    try:
        err, *_ = nvrtc.nvrtcVersion()
    except Exception as e:  # the bindings import but libnvrtc.so cannot be found / loaded
        raise NvrtcUnavailableError(f"cuda-bindings is installed but the NVRTC library could not be loaded: {e}. "
                                    "pip install nvidia-cuda-nvrtc") from e
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise NvrtcUnavailableError(f"nvrtcVersion() failed: {err}")
    return nvrtc


def nvrtc_version():
    """The NVRTC library version as ``(major, minor)``.

    Raises:
        NvrtcUnavailableError: if the bindings or the library are missing.
    """
    _, major, minor = _nvrtc().nvrtcVersion()
    return major, minor


def _check(nvrtc, result, what):
    err = result[0] if isinstance(result, tuple) else result
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise RuntimeError(f"{what} failed: {err}")
    return result[1:] if isinstance(result, tuple) else ()


def _get_log(nvrtc, prog):
    (size,) = _check(nvrtc, nvrtc.nvrtcGetProgramLogSize(prog), "nvrtcGetProgramLogSize")
    buf = b" " * size
    _check(nvrtc, nvrtc.nvrtcGetProgramLog(prog, buf), "nvrtcGetProgramLog")
    return buf.rstrip(b"\0 ").decode("utf-8", errors="replace")


_NVRTC_LOCATION = re.compile(r"^(?P<file>[^\n(]+)\((?P<line>\d+)\): ", re.MULTILINE)


def _file_line_log(log):
    """Rewrites NVRTC's ``file(12): error`` locations as ``file:12: error`` (editor/CI clickable)."""
    return _NVRTC_LOCATION.sub(lambda m: f"{m.group('file')}:{m.group('line')}: ", log)


def compile_source(path, arch="sm_90", include_dirs=None, extra_options=(), source=None):
    """Compiles one ``.cu`` file to CUBIN with NVRTC and returns ``(cubin_bytes, log)``.

    Args:
        path: the source file (its folder is on the include path; the log names it).
        arch: a real architecture, ``"sm_80"``, ``"sm_90"``, ...
        include_dirs: extra ``-I`` folders (the source's own folder is always included).
        extra_options: further NVRTC options (strings).
        source: the source text, if not to be read from ``path``.

    Returns:
        ``(cubin, log)``; the log holds ptxas's verbose resource report.

    Raises:
        NvrtcUnavailableError: no NVRTC bindings / library.
        NvrtcCompileError: the source does not compile; its message is the NVRTC log with
            ``file:line:`` locations.
    """
    nvrtc = _nvrtc()
    path = os.path.abspath(path)
    if source is None:
        with open(path, "rb") as f:
            source = f.read()
    elif isinstance(source, str):
        source = source.encode("utf-8")
    dirs = [os.path.dirname(path)] + list(include_dirs or [])
    options = [f"--gpu-architecture={arch}", "-std=c++17", "-Xptxas=-v"]
    options += [f"-I{d}" for d in dirs] + list(extra_options)
    (prog,) = _check(nvrtc, nvrtc.nvrtcCreateProgram(source, path.encode(), 0, [], []), "nvrtcCreateProgram")
    try:
        opts = [o.encode() for o in options]
        (result,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
        log = _get_log(nvrtc, prog)
        if result != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            raise NvrtcCompileError(path, arch, _file_line_log(log) or str(result))
        (size,) = _check(nvrtc, nvrtc.nvrtcGetCUBINSize(prog), "nvrtcGetCUBINSize")
        cubin = b" " * size
        _check(nvrtc, nvrtc.nvrtcGetCUBIN(prog, cubin), "nvrtcGetCUBIN")
        return cubin, log
    finally:
        nvrtc.nvrtcDestroyProgram(prog)


_ENTRY = re.compile(r"Compiling entry function '(?P<name>[^']+)' for '(?P<arch>[^']+)'")
_PROPS = re.compile(r"Function properties for (?P<name>\S+)")
_SPILL = re.compile(r"(?P<stack>\d+) bytes stack frame, (?P<st>\d+) bytes spill stores, (?P<ld>\d+) bytes spill loads")
_USED = re.compile(r"Used (?P<regs>\d+) registers")
_SMEM = re.compile(r"(?P<smem>\d+) bytes smem")


def parse_ptxas_log(log):
    """Parses ptxas ``-v`` output into one dict per entry function.

    Returns:
        list of ``dict(kernel, arch, registers, spill_stores, spill_loads, stack_bytes, shared_bytes)``
        in log order. Spill/stack figures of non-entry (device) functions are ignored.
    """
    records, current, props_for = [], None, None
    for line in log.splitlines():
        m = _ENTRY.search(line)
        if m:
            current = dict(kernel=m.group("name"), arch=m.group("arch"), registers=None, spill_stores=0,
                           spill_loads=0, stack_bytes=0, shared_bytes=0)
            records.append(current)
            props_for = None
            continue
        m = _PROPS.search(line)
        if m:
            props_for = m.group("name")
            continue
        m = _SPILL.search(line)
        if m and current is not None and props_for == current["kernel"]:
            current["stack_bytes"] = int(m.group("stack"))
            current["spill_stores"] = int(m.group("st"))
            current["spill_loads"] = int(m.group("ld"))
            continue
        m = _USED.search(line)
        if m and current is not None:
            current["registers"] = int(m.group("regs"))
            s = _SMEM.search(line)
            current["shared_bytes"] = int(s.group("smem")) if s else 0
    return records


def occupancy(arch, registers, shared_bytes, threads):
    """Theoretical occupancy (resident warps / max warps per SM) of a kernel on ``arch``.

    Args:
        arch: ``"sm_80"`` or ``"sm_90"`` (:data:`ARCH_LIMITS`).
        registers, shared_bytes: per thread / per block, as ptxas reports them.
        threads: threads per block.

    Returns:
        ``(blocks per SM, occupancy in [0, 1])``.
    """
    lim = ARCH_LIMITS[arch]
    warps = -(-threads // 32)
    regs_per_warp = -(-max(registers, 1) * 32 // 256) * 256
    by_regs = lim["registers"] // (regs_per_warp * warps)
    smem = -(-(shared_bytes + 1024) // 128) * 128
    by_smem = lim["shared_bytes"] // smem
    blocks = min(by_regs, by_smem, lim["max_warps"] // warps, lim["max_blocks"])
    return blocks, blocks * warps / lim["max_warps"]


def nvdisasm_path():
    """nvdisasm from the ``nvidia-cuda-nvdisasm`` wheel (through cuda.pathfinder) or PATH, or None."""
    try:
        from cuda import pathfinder
        found = pathfinder.find_nvidia_binary_utility("nvdisasm")
    except Exception:  # cuda-pathfinder missing or too old
        found = None
    return found or shutil.which("nvdisasm")


_SASS_FUNC = re.compile(r"^\.text\.(?P<name>\S+):\s*$")
_SASS_LABEL = re.compile(r"^(?P<label>\.L_x_\d+):\s*$")
_SASS_INSN = re.compile(r"^\s*/\*[0-9a-f]+\*/\s+(?:@!?U?P\w+\s+)?(?P<op>[A-Z][A-Z0-9_.]*)(?P<rest>[^;]*);")


def sass_hot_loops(sass):
    """The hot loop of every function in nvdisasm output: among the loops (a backward branch to a
    label), the one with the most HMMA + FFMA instructions, the shortest of those (the innermost).

    Returns:
        ``{function: dict(instructions, hmma, ffma)}`` for the hot loop's body (label to branch,
        inclusive); functions without a loop that has HMMA or FFMA are left out. The counts are static: a loop body with
        a branch (the kernels' 128-bit and scalar load paths) counts both sides, of which one runs.
    """
    funcs, name = {}, None
    for line in sass.splitlines():
        m = _SASS_FUNC.match(line)
        if m:
            name = m.group("name")
            funcs[name] = []
            continue
        if name is None:
            continue
        m = _SASS_LABEL.match(line)
        if m:
            funcs[name].append(("label", m.group("label")))
            continue
        m = _SASS_INSN.match(line)
        if m:
            funcs[name].append(("insn", m.group("op"), m.group("rest")))
    out = {}
    for fn, items in funcs.items():
        insns, labels = [], {}
        for it in items:
            if it[0] == "label":
                labels[it[1]] = len(insns)
            else:
                insns.append(it[1:])
        best = None
        for end, (op, rest) in enumerate(insns):
            t = re.search(r"`\((\.L_x_\d+)\)", rest)
            if op.startswith("BRA") and t and labels.get(t.group(1), end + 1) <= end:
                body = [o for o, _ in insns[labels[t.group(1)]:end + 1]]
                mix = dict(instructions=len(body), hmma=sum(o.startswith("HMMA") for o in body),
                           ffma=sum(o.startswith("FFMA") for o in body))
                key = (mix["hmma"] + mix["ffma"], -mix["instructions"])
                if key[0] and (best is None or key > (best["hmma"] + best["ffma"], -best["instructions"])):
                    best = mix
        if best is not None:
            out[fn] = best
    return out


def _sass_mix(cubin, nvdisasm):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "k.cubin")
        with open(path, "wb") as f:
            f.write(cubin)
        r = subprocess.run([nvdisasm, "-c", path], capture_output=True, text=True, timeout=300)
    return sass_hot_loops(r.stdout) if r.returncode == 0 else {}


def check_file(path, arch, include_dirs=None, nvdisasm=None):
    """Compiles one file for one architecture; returns its entry points' ptxas records (with ``file``,
    ``threads``, ``blocks_per_sm``, ``occupancy`` and, with ``nvdisasm``, the hot loop's
    ``loop_instructions``, ``loop_hmma``, ``loop_ffma``; None where not measured)."""
    cubin, log = compile_source(path, arch, include_dirs=include_dirs)
    mix = _sass_mix(cubin, nvdisasm) if nvdisasm else {}
    out = []
    for rec in parse_ptxas_log(log):
        rec = dict(file=os.path.basename(path), **rec)
        rec["arch"] = arch
        rec["threads"] = _block_threads(rec["file"], rec["kernel"])
        rec["blocks_per_sm"], rec["occupancy"] = occupancy(arch, rec["registers"] or 1, rec["shared_bytes"],
                                                           rec["threads"])
        loop = mix.get(rec["kernel"], {})
        rec["loop_instructions"], rec["loop_hmma"], rec["loop_ffma"] = (
            loop.get("instructions"), loop.get("hmma"), loop.get("ffma"))
        out.append(rec)
    return out


def check_all(archs=DEFAULT_ARCHS, kernel_dir=None):
    """Compiles every ``cuda_kernels/*.cu`` for every arch in ``archs``.

    Args:
        archs: real architectures to build for.
        kernel_dir: the kernel folder (default: :func:`gpuflow.backend.kernels.kernel_dir`, the one
            function that locates the installed or checked-out sources).

    Returns:
        list of :func:`check_file` records, one per entry point per arch, sorted by file, kernel, arch.

    Raises:
        NvrtcUnavailableError: the NVRTC bindings / library are not installed, or the CUDA headers the
            tensor-core kernels include are not found (the message says what to install).
        NvrtcCompileError: a file does not compile (message: NVRTC log with ``file:line:``).
        FileNotFoundError: no ``.cu`` file in the kernel folder.
    """
    kdir = kernel_dir if kernel_dir is not None else kernels.kernel_dir()
    files = sorted(glob.glob(os.path.join(kdir, "*.cu")))
    if not files:
        raise FileNotFoundError(f"no .cu files in {kdir}")
    try:
        headers = [tensor_cores.cuda_headers().path]
    except FileNotFoundError as e:
        if any(p.endswith("_tc.cu") for p in files):
            raise NvrtcUnavailableError(str(e)) from None
        headers = []
    nvdisasm = nvdisasm_path()
    records = []
    for path in files:
        for arch in archs:
            records.extend(check_file(path, arch, headers, nvdisasm))
    records.sort(key=lambda r: (r["file"], r["kernel"], r["arch"]))
    return records


def format_table(records):
    """A plain-text table of :func:`check_all` records."""
    head = ("file", "kernel", "arch", "registers", "spill_stores", "spill_loads", "shared_bytes", "threads",
            "occupancy", "loop_instructions", "loop_hmma", "loop_ffma")

    def cell(r, k):
        v = r.get(k)
        return f"{v:.1%}" if k == "occupancy" and v is not None else ("-" if v is None else str(v))
    rows = [head] + [tuple(cell(r, k) for k in head) for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def headers_line():
    """One line naming the CUDA headers the tensor-core kernels compile with (for reports and ``gpuflow info``)."""
    try:
        h = tensor_cores.cuda_headers()
        return f"CUDA headers (mma.h, cuda_fp16.h, cuda_bf16.h): {h.path} (found via {h.found_via})"
    except Exception as e:  # FileNotFoundError, or a cuda-pathfinder failure: a report line either way
        return f"CUDA headers: not found ({e})"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m gpuflow.backend.nvrtc_check",
                                description="Compile cuda_kernels/*.cu with NVRTC (no GPU needed) and print "
                                            "ptxas registers / spills / shared memory per entry point.")
    p.add_argument("--arch", action="append", help="real architecture (repeatable); default sm_80 and sm_90")
    p.add_argument("--kernel-dir", help="folder with the .cu files (default: gpuflow's cuda_kernels/)")
    p.add_argument("--fail-on-spill", action="store_true", help="exit 1 if any kernel spills registers")
    args = p.parse_args(argv)
    archs = tuple(args.arch) if args.arch else DEFAULT_ARCHS
    try:
        records = check_all(archs, args.kernel_dir)
    except (NvrtcUnavailableError, NvrtcCompileError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    major, minor = nvrtc_version()
    print(f"NVRTC {major}.{minor}; options: -std=c++17 -I<cuda_kernels> -I<CUDA headers> -Xptxas=-v; "
          f"archs: {', '.join(archs)}")
    print(headers_line())
    nd = nvdisasm_path()
    print(f"SASS: {nd} (hot loop = the backward-branch loop with the most HMMA + FFMA)" if nd else
          "SASS: nvdisasm not found (pip install nvidia-cuda-nvdisasm): no instruction mix")
    print(format_table(records))
    spills = [r for r in records if r["spill_stores"] or r["spill_loads"]]
    if spills:
        print(f"\n{len(spills)} kernel build(s) spill registers: "
              + ", ".join(f"{r['kernel']}@{r['arch']}" for r in spills))
        return 1 if args.fail_on_spill else 0
    print("\nno register spills")
    return 0


if __name__ == "__main__":
    sys.exit(main())
