"""Turns CUDA source text into a cached shared library for the emulator.

Steps on a cache miss: rewrite ``extern __shared__ T name[];`` (the only CUDA declaration a header
cannot provide), preprocess once to find the ``extern "C" __global__`` entry points and their
parameter names, append one thunk per entry point, compile with the system C++ compiler against
``cuda_emu.h``, link with the (separately cached) runtime object, and list the ``__shared__``
variables from the symbol table. The library and a JSON description are cached under a hash of
everything that affects them.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = os.path.join(HERE, "cuda_emu.h")
RUNTIME = os.path.join(HERE, "cuda_emu_runtime.cpp")
# Stand-ins for the CUDA headers the kernels include (<mma.h>, <cuda_fp16.h>, <cuda_bf16.h>,
# <cuda_pipeline_primitives.h>): they include cuda_emu.h, which provides their contents; HERE comes
# first on the include path.
SHIMS = tuple(os.path.join(HERE, n) for n in ("mma.h", "cuda_fp16.h", "cuda_bf16.h", "cuda_pipeline_primitives.h"))
# Bump when this file's code generation changes (the header and runtime are hashed by content).
CODEGEN_VERSION = 3

# NVRTC options that have no meaning for the emulator (accepted, ignored).
_IGNORED_OPTIONS = ("-arch", "--gpu-architecture", "-lineinfo", "--generate-line-info", "-use_fast_math",
                    "--use_fast_math", "--fmad", "-fmad", "-G", "--device-debug", "-default-device",
                    "--restrict", "-restrict", "-rdc", "--relocatable-device-code", "--extra-device-vectorization",
                    "-ewp", "--ftz", "-ftz", "--prec-div", "-prec-div", "--prec-sqrt", "-prec-sqrt", "-dopt",
                    "--dopt", "--device-as-default-execution-space", "-dw", "--disable-warnings", "-w",
                    "-Xptxas", "--ptxas-options", "-maxrregcount", "--maxrregcount", "--dlink-time-opt", "-dlto",
                    "--device-int128", "--builtin-move-forward", "--builtin-initializer-list",
                    "--no-source-include", "-no-source-include", "--minimal", "--time", "--split-compile")

_lock = threading.RLock()
stats = {"compiles": 0, "cache_hits": 0}


class EmulatorError(RuntimeError):
    """Base class of the emulator's errors."""


class CompileError(EmulatorError):
    """The C++ compiler rejected a kernel source. ``log`` holds its full output."""

    def __init__(self, message, log=""):
        super().__init__(message)
        self.log = log


# ---- configuration ---------------------------------------------------------------------------------
def cache_dir():
    """``$GPUFLOW_CACHE/emulator`` when GPUFLOW_CACHE is set, else ``~/.cache/gpuflow/emulator``."""
    root = os.environ.get("GPUFLOW_CACHE")
    if root:
        return os.path.join(root, "emulator")
    return os.path.join(os.path.expanduser("~"), ".cache", "gpuflow", "emulator")


def compiler():
    """The C++ compiler: ``$GPUFLOW_EMU_CXX``, else g++, else clang++."""
    cxx = os.environ.get("GPUFLOW_EMU_CXX") or shutil.which("g++") or shutil.which("clang++")
    if not cxx:
        raise EmulatorError("the CUDA emulator needs a C++ compiler (g++ or clang++) on PATH, or GPUFLOW_EMU_CXX")
    return cxx


@functools.lru_cache(maxsize=None)
def compiler_identity(cxx):
    """First line of ``cxx --version`` plus the resolved path (part of every cache key)."""
    try:
        out = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60).stdout
    except OSError as e:
        raise EmulatorError(f"cannot run the C++ compiler {cxx!r}: {e}") from None
    return f"{os.path.realpath(shutil.which(cxx) or cxx)} {out.splitlines()[0] if out else ''}"


@functools.lru_cache(maxsize=None)
def asan_runtime(cxx):
    """Path of the compiler's libasan.so (to LD_PRELOAD into the bounds-checking worker)."""
    for name in ("libasan.so", "libclang_rt.asan-x86_64.so"):
        out = subprocess.run([cxx, f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
        if out and os.path.isabs(out) and os.path.exists(out):
            return out
    raise EmulatorError(f"{cxx} has no AddressSanitizer runtime (libasan.so); GPUFLOW_EMU_BOUNDS=1 needs it "
                        "(Debian/Ubuntu: it ships with g++)")


def _flags(mode):
    common = ["-fPIC", "-pthread", "-fvisibility=hidden", "-ffp-contract=off", "-fno-strict-aliasing",
              "-fno-math-errno", "-w"]
    if os.environ.get("GPUFLOW_EMU_UCONTEXT", "") not in ("", "0"):
        common.append("-DGFEMU_FORCE_UCONTEXT")
    if mode == "asan":
        return ["-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer"] + common
    return ["-O2"] + common


def translate_options(options):
    """NVRTC/CuPy options -> (compiler flags, C++ standard). Raises ValueError on an unknown option."""
    flags, std = [], "c++17"
    opts = list(options or ())
    i = 0
    while i < len(opts):
        o = str(opts[i])
        nxt = str(opts[i + 1]) if i + 1 < len(opts) else None
        separate = {"-I": "-I", "--include-path": "-I", "-D": "-D", "--define-macro": "-D", "-U": "-U",
                    "--undefine-macro": "-U"}
        if o in separate and nxt is not None:
            flags.append(separate[o] + nxt)
            i += 2
            continue
        if o.startswith("--include-path="):
            flags.append("-I" + o.split("=", 1)[1])
        elif o.startswith("--define-macro="):
            flags.append("-D" + o.split("=", 1)[1])
        elif o.startswith("--undefine-macro="):
            flags.append("-U" + o.split("=", 1)[1])
        elif o.startswith(("-I", "-D", "-U")):
            flags.append(o)
        elif o.startswith(("-std=", "--std=")):
            std = o.split("=", 1)[1]
        elif o.split("=", 1)[0] in _IGNORED_OPTIONS:
            pass
        else:
            raise ValueError(f"The CUDA emulator does not know the compile option {o!r}. Supported: -I, -D, -U, "
                             f"-std=, and (ignored) NVRTC code-generation options such as -arch. "
                             f"Received: options={tuple(options)!r}")
        i += 1
    return flags, std


# ---- source preparation ----------------------------------------------------------------------------
_DYN_SHARED = re.compile(r"\bextern\s+__shared__\s+([^;{}()]*(?:\([^;{}()]*\)[^;{}()]*)*?)\s*\[\s*\]\s*;")
_ALIGN = re.compile(r"\b(?:__align__|alignas)\s*\([^)]*\)|__attribute__\s*\(\(\s*aligned\s*\([^)]*\)\s*\)\)")
_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*(["<])([^">]+)[">]', re.M)


def rewrite_dynamic_shared(text):
    """``extern __shared__ [__align__(n)] T name[];`` -> ``T* const name = (T*)gfemu_dynamic_smem;``.

    The replacement keeps the line count, so compiler messages keep their line numbers.
    """
    def repl(m):
        decl = _ALIGN.sub(" ", m.group(1)).split()
        if len(decl) < 2:
            return m.group(0)
        typ, name = " ".join(decl[:-1]), decl[-1]
        newlines = m.group(0).count("\n")
        return f"{typ}* const {name} = reinterpret_cast<{typ}*>(gfemu_dynamic_smem);" + "\n" * newlines
    return _DYN_SHARED.sub(repl, text)


def _include_dirs(flags):
    return [f[2:] for f in flags if f.startswith("-I")]


def header_closure(text, dirs):
    """Headers reachable through #include from text, resolved like the compiler does: quoted includes
    next to the including file first, then the -I folders; angle includes only in the -I folders
    (system headers are covered by the compiler's identity). Returns {abs path: (dir, rel path)}."""
    found, todo = {}, [(text, None)]
    while todo:
        src, here = todo.pop()
        for kind, name in _INCLUDE.findall(src):
            cands = ([(here, name)] if kind == '"' and here else []) + [(d, name) for d in dirs]
            for d, rel in cands:
                p = os.path.abspath(os.path.join(d, rel))
                if os.path.isfile(p):
                    if p not in found:
                        found[p] = (d, rel)
                        with open(p, encoding="utf-8", errors="replace") as f:
                            todo.append((f.read(), os.path.dirname(p)))
                    break
    return found


# ---- entry points ----------------------------------------------------------------------------------
def _balanced(text, i):
    """Index just past the parenthesised group starting at text[i] == '('."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "(":
            depth += 1
        elif text[j] == ")":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(text)


def _extern_c_blocks(text):
    blocks = []
    for m in re.finditer(r'\bextern\s+"C"\s*\{', text):
        depth, j = 0, m.end() - 1
        for j in range(m.end() - 1, len(text)):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
        blocks.append((m.end(), j))
    return blocks


def _split_params(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "(<[":
            depth += 1
        elif ch in ")>]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    parts = [p.strip() for p in parts]
    return [] if parts in ([""], ["void"]) else parts


_NOT_NAMES = {"const", "volatile", "__restrict__", "__restrict", "restrict", "unsigned", "signed", "int", "float",
              "double", "char", "short", "long", "bool", "void"}


def _param_name(p, i):
    ids = re.findall(r"[A-Za-z_]\w*", re.sub(r"\[[^\]]*\]", "", p))
    return ids[-1] if len(ids) >= 2 and ids[-1] not in _NOT_NAMES else f"arg{i}"


def _param_type(p, name):
    """The declaration without its name: "const float* __restrict__ x" -> "const float* __restrict__"."""
    m = re.search(rf"\b{re.escape(name)}\b(?!.*\b{re.escape(name)}\b)", p)
    t = (p[:m.start()] + p[m.end():]) if m else p
    return re.sub(r"\s+", " ", t).strip()


def _int_expr(s):
    try:
        node = ast.parse(s.strip(), mode="eval")
        allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Add, ast.Sub, ast.Mult,
                   ast.FloorDiv, ast.Div, ast.USub, ast.LShift)
        if all(isinstance(n, allowed) for n in ast.walk(node)):
            return int(eval(compile(node, "<launch bounds>", "eval"), {"__builtins__": {}}))
    except Exception:
        pass
    return None


def find_entry_points(pre):
    """``extern "C" __global__`` function definitions in preprocessed text (``__global__`` and
    ``__launch_bounds__`` left unexpanded). Returns [{name, params, param_types, max_threads}]."""
    blocks = _extern_c_blocks(pre)
    found = {}
    for m in re.finditer(r"\b__global__\b", pre):
        before = pre[max(0, m.start() - 300):m.start()]
        before = re.sub(r"__launch_bounds__\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*$", "", before.rstrip()).rstrip()
        if not (before.endswith('extern "C"') or any(a <= m.start() < b for a, b in blocks)):
            continue
        i, max_threads, name = m.end(), None, None
        while i < len(pre):
            t = re.match(r"\s*([A-Za-z_]\w*|\(|\{|;)", pre[i:])
            if not t:
                break
            tok, i = t.group(1), i + t.end()
            if tok in ("__launch_bounds__", "__attribute__", "__declspec"):
                j = pre.index("(", i)
                end = _balanced(pre, j)
                if tok == "__launch_bounds__":
                    max_threads = _int_expr(_split_params(pre[j + 1:end - 1])[0])
                i = end
            elif tok in ("(", "{", ";"):
                break
            elif re.match(r"\s*\(", pre[i:]):
                name = tok
                j = pre.index("(", i)
                end = _balanced(pre, j)
                params = _split_params(pre[j + 1:end - 1])
                if re.match(r"\s*\{", pre[end:]):  # a definition, not a declaration
                    names = [_param_name(p, k) for k, p in enumerate(params)]
                    found[name] = {"name": name, "params": names,
                                   "param_types": [_param_type(p, n) for p, n in zip(params, names)],
                                   "max_threads": max_threads}
                break
    return list(found.values())


# ---- compile ---------------------------------------------------------------------------------------
def _run(cmd, what, cwd=None, input=None):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, input=input, timeout=600)
    except subprocess.TimeoutExpired:
        raise CompileError(f"{what}: the C++ compiler did not finish in 600 s") from None
    return r


def _clean_log(log, tmp):
    return log.replace(tmp + os.sep, "<emulator>/").replace(tmp, "<emulator>")


def _atomic_write(path, data, mode="w"):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, mode) as f:
        f.write(data)
    os.replace(tmp, path)


def _runtime_object(cxx, mode):
    """cuda_emu_runtime.cpp compiled once per (compiler, mode, header/runtime content)."""
    flags = _flags(mode)
    h = hashlib.sha256()
    for part in (compiler_identity(cxx), " ".join(flags), open(HEADER, "rb").read(), open(RUNTIME, "rb").read()):
        h.update(part if isinstance(part, bytes) else part.encode())
    path = os.path.join(cache_dir(), f"runtime-{mode}-{h.hexdigest()[:20]}.o")
    if not os.path.exists(path):
        os.makedirs(cache_dir(), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir(), prefix=".tmp-", suffix=".o")
        os.close(fd)
        r = _run([cxx, "-std=c++17", *flags, "-I", HERE, "-c", RUNTIME, "-o", tmp], "runtime")
        if r.returncode:
            os.unlink(tmp)
            raise CompileError(f"compiling the emulator runtime failed:\n{r.stderr}", r.stderr)
        os.replace(tmp, path)
    return path


_NOT_SHARED = ("_ZZN5gfemu", "_ZZNSt", "_ZZSt", "_ZZNKSt", "_ZZN9__gnu_cxx", "_ZZNK9__gnu_cxx")


def _shared_symbols(cxx, so_path):
    """Function-local statics in writable data (the ``__shared__`` variables, as ``static`` makes them):
    [(mangled name, offset in the library, size)], and the offset of gfemu_launch (to find the load
    address at run time). File-scope ``__shared__`` variables cannot be told from other globals and
    are not listed."""
    objdump = shutil.which("objdump") or os.path.join(os.path.dirname(cxx), "objdump")
    r = subprocess.run([objdump, "-t", so_path], capture_output=True, text=True)
    out, anchor = [], None
    for line in r.stdout.splitlines():
        m = re.match(r"([0-9a-fA-F]+)\s.*\s(\.\S+)\s+([0-9a-fA-F]+)\s+(?:\.hidden\s+)?(\S+)$", line)
        if not m:
            continue
        addr, section, size, name = int(m.group(1), 16), m.group(2), int(m.group(3), 16), m.group(4)
        if name == "gfemu_launch":
            anchor = addr
        writable = section.startswith(".bss") or (section.startswith(".data")
                                                   and not section.startswith(".data.rel.ro"))
        if name.startswith("_ZZ") and not name.startswith(_NOT_SHARED) and size > 0 and writable:
            out.append((name, addr, size))
    return out, anchor


def build(code, flags, std, name, mode):
    """Compiles (or finds in the cache) the library for source ``code``.

    Returns (path of the .so, description dict). Raises CompileError.
    """
    cxx = compiler()
    dirs = _include_dirs(flags)
    headers = header_closure(code, dirs)
    h = hashlib.sha256()
    for part in (str(CODEGEN_VERSION), compiler_identity(cxx), mode, " ".join(_flags(mode)), std, "\0".join(flags),
                 name, open(HEADER, "rb").read(), open(RUNTIME, "rb").read(), *(open(p, "rb").read() for p in SHIMS),
                 code):
        h.update(part if isinstance(part, bytes) else part.encode())
        h.update(b"\0")
    for p in sorted(headers):
        h.update(p.encode())
        h.update(open(p, "rb").read())
    key = h.hexdigest()[:32]
    base = os.path.join(cache_dir(), f"{os.path.splitext(os.path.basename(name))[0]}-{mode}-{key}")
    so_path, meta_path = base + ".so", base + ".json"
    with _lock:
        if os.path.exists(so_path) and os.path.exists(meta_path):
            try:
                with open(meta_path) as f:
                    meta = json.load(f)
                stats["cache_hits"] += 1
                return so_path, meta
            except (OSError, ValueError):
                pass
        os.makedirs(cache_dir(), exist_ok=True)
        runtime_o = _runtime_object(cxx, mode)
        tmp = tempfile.mkdtemp(prefix="gpuflow-emu-")
        try:
            return _compile(cxx, code, flags, std, name, mode, headers, tmp, runtime_o, so_path, meta_path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _compile(cxx, code, flags, std, name, mode, headers, tmp, runtime_o, so_path, meta_path):
    inc = []
    if any(re.search(r"\bextern\s+__shared__", open(p, encoding="utf-8", errors="replace").read()) for p in headers):
        # Copies of the headers with dynamic shared memory rewritten, searched before the originals.
        over = os.path.join(tmp, "include")
        for p, (d, rel) in headers.items():
            dst = os.path.join(over, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(p, encoding="utf-8", errors="replace") as f:
                text = f.read()
            with open(dst, "w", encoding="utf-8") as f:
                f.write(f'#line 1 "{p}"\n' + rewrite_dynamic_shared(text))
        inc = ["-I", over]
    body = '#include "cuda_emu.h"\n' f'#line 1 "{name}"\n' + rewrite_dynamic_shared(code) + "\n"
    tu = os.path.join(tmp, "module.cpp")
    with open(tu, "w", encoding="utf-8") as f:
        f.write(body)
    base_cmd = [cxx, f"-std={std}", *_flags(mode), *inc, "-I", HERE, *flags]
    r = _run(base_cmd + ["-DGFEMU_SCAN", "-E", "-P", tu], "preprocess")
    if r.returncode:
        log = _clean_log(r.stderr, tmp)
        raise CompileError(f"compiling {name!r} for the CUDA emulator failed:\n{log}", log)
    kernels = find_entry_points(r.stdout)
    thunks = ['#line 1 "<gpuflow emulator entry-point thunks>"']
    for k in kernels:
        n = k["name"]
        thunks.append(f'extern "C" __attribute__((visibility("default"))) void gfemu_thunk_{n}(void** a) '
                      f"{{ gfemu::invoke(&{n}, a); }}")
        thunks.append(f'extern "C" __attribute__((visibility("default"))) const char* gfemu_sig_{n}() '
                      f"{{ return gfemu::signature(&{n}); }}")
    with open(tu, "w", encoding="utf-8") as f:
        f.write(body + "\n".join(thunks) + "\n")
    out = os.path.join(tmp, "module.so")
    r = _run(base_cmd + ["-shared", tu, runtime_o, "-o", out], "compile")
    stats["compiles"] += 1
    if r.returncode:
        log = _clean_log(r.stderr, tmp)
        raise CompileError(f"compiling {name!r} for the CUDA emulator failed:\n{log}", log)
    syms, anchor = _shared_symbols(cxx, out)
    meta = {"name": name, "mode": mode, "kernels": kernels, "shared": syms, "anchor": anchor}
    fd, tmp_so = tempfile.mkstemp(dir=os.path.dirname(so_path), prefix=".tmp-", suffix=".so")
    os.close(fd)
    shutil.copyfile(out, tmp_so)
    os.replace(tmp_so, so_path)
    _atomic_write(meta_path, json.dumps(meta))
    return so_path, meta
