"""What a benchmark result records about the machine and the software it ran on.

Every result carries: the date (UTC), the git commit (and whether the tree had local changes),
gpuflow, Python, NumPy and its BLAS library with its thread count, the CPU model and cores,
and on a GPU the device name, compute capability, memory, the NVIDIA driver, the CUDA driver
and runtime versions and CuPy's version. The peers' versions (PyTorch, Keras/TensorFlow) are
added by :mod:`gpuflow.bench.peers` as they are measured.

BLAS threads: NumPy's OpenBLAS (or MKL) is found among the loaded shared libraries and asked
its thread count through its C API (``openblas_get_num_threads`` and its ``scipy_openblas*64_``
spellings, ``MKL_Get_Max_Threads``); :func:`set_blas_threads` sets it the same way, so
``--threads`` applies to NumPy's BLAS in the running process.
"""
from __future__ import annotations

import ctypes
import datetime
import os
import platform
import subprocess
import sys

__all__ = ["capture", "blas_info", "set_blas_threads", "cpu_name", "git_info", "gpu_info", "repo_root",
           "default_threads", "peak_rss_bytes", "current_rss_bytes"]


def repo_root():
    """The folder holding the ``gpuflow`` package (a git checkout when run from source)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_threads():
    """CPUs this process may run on (its affinity mask where the OS has one): the NumPy backend's default."""
    from ..backend.cpu_runtime import available_cpus
    return available_cpus()


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def git_info():
    """{"commit": full hash or None, "dirty": bool or None} of the checkout gpuflow runs from."""
    root = repo_root()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=root,
                                timeout=10)
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                text=True, cwd=root, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


# -- BLAS ----------------------------------------------------------------------------------
_BLAS_CACHE = {}


_VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile",
                 "asimd", "sve", "sve2")


def cpu_vector_extensions():
    """The SIMD extensions of this CPU that decide which BLAS kernels run (from /proc/cpuinfo's ``flags`` or
    ``Features`` line), e.g. ``["sse4_2", "avx", "avx2", "fma", "avx512f"]``; ``[]`` where unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    have = set(line.split(":", 1)[1].split())
                    return [flag for flag in _VECTOR_FLAGS if flag in have]
    except OSError:
        pass
    return []


def _loaded_libraries():
    try:
        with open("/proc/self/maps") as f:
            return sorted({line.split()[-1] for line in f if ".so" in line and "/" in line})
    except OSError:
        return []


def _blas_handle():
    """(kind, ctypes library, symbol prefix/suffix) of NumPy's BLAS, or None."""
    if "handle" in _BLAS_CACHE:
        return _BLAS_CACHE["handle"]
    import numpy  # noqa: F401  (loads the BLAS)
    found = None
    for path in _loaded_libraries():
        base = os.path.basename(path).lower()
        if "openblas" in base or "mkl_rt" in base:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for getter, setter, config in (
                    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_",
                     "scipy_openblas_get_config64_"),
                    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads",
                     "scipy_openblas_get_config"),
                    ("openblas_get_num_threads64_", "openblas_set_num_threads64_", "openblas_get_config64_"),
                    ("openblas_get_num_threads", "openblas_set_num_threads", "openblas_get_config"),
                    ("MKL_Get_Max_Threads", "MKL_Set_Num_Threads", None)):
                if hasattr(lib, getter):
                    found = ("MKL" if getter.startswith("MKL") else "OpenBLAS", lib, getter, setter, config, path)
                    break
        if found:
            break
    _BLAS_CACHE["handle"] = found
    return found


def blas_info():
    """{"library", "version", "config", "threads", "path"} of NumPy's BLAS (values None when unknown)."""
    import numpy as np
    info = {"library": None, "version": None, "config": None, "threads": None, "path": None}
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["library"], info["version"] = cfg.get("name"), cfg.get("version")
    except Exception:
        pass
    h = _blas_handle()
    if h:
        kind, lib, getter, _, config, path = h
        info["path"] = path
        info["library"] = info["library"] or kind
        try:
            info["threads"] = int(getattr(lib, getter)())
        except Exception:
            pass
        if config:
            try:
                fn = getattr(lib, config)
                fn.restype = ctypes.c_char_p
                info["config"] = fn().decode(errors="replace").strip()
            except Exception:
                pass
    return info


def set_blas_threads(n):
    """Sets NumPy's BLAS thread count in this process; returns True when it could."""
    h = _blas_handle()
    if not h:
        return False
    _, lib, _, setter, _, _ = h
    try:
        getattr(lib, setter)(int(n))
        return True
    except Exception:
        return False


# -- memory ----------------------------------------------------------------------------------
def peak_rss_bytes():
    """The process's peak resident set size in bytes (``getrusage``), or None where unavailable."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def current_rss_bytes():
    """The process's resident set size now (Linux ``/proc/self/statm``), or None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


# -- GPU -------------------------------------------------------------------------------------
def _nvidia_smi_driver():
    try:
        r = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=15)
        return r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def _cuda_version(v):
    return f"{v // 1000}.{(v % 1000) // 10}" if isinstance(v, int) and v > 0 else None


def gpu_info(index=0):
    """Name, compute capability, memory, driver and CUDA versions of a CUDA device through CuPy."""
    import cupy
    rt = cupy.cuda.runtime
    props = rt.getDeviceProperties(index)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return {"name": name, "index": index, "compute_capability": f"{props['major']}.{props['minor']}",
            "memory_bytes": int(props["totalGlobalMem"]), "multiprocessors": int(props["multiProcessorCount"]),
            "driver": _nvidia_smi_driver(), "cuda_driver": _cuda_version(rt.driverGetVersion()),
            "cuda_runtime": _cuda_version(rt.runtimeGetVersion()), "cupy": cupy.__version__}


def capture(device="cpu", threads=None):
    """The environment dict of a result (see the module docstring)."""
    import numpy as np
    import gpuflow
    git = git_info()
    env = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": git["commit"], "git_dirty": git["dirty"],
        "gpuflow": gpuflow.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "cpu": cpu_name(), "cpu_vector_extensions": cpu_vector_extensions(),
        "cpu_count": os.cpu_count() or 1,
        "threads": threads or default_threads(), "numpy": np.__version__, "blas": blas_info(),
        "device": {"kind": device, "name": cpu_name() if device == "cpu" else None},
    }
    if device == "gpu":
        env["device"].update(gpu_info(0))
    elif device == "emulator":
        env["device"]["name"] = f"gpuflow CUDA emulator on {cpu_name()}"
    return env
