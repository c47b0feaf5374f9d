"""The CUDA emulator (gpuflow.backend.emulator) on toy kernels in tests/emulator_kernels/.

Covers indexing (1-D to 3-D), scalar parameter types, shared memory with barriers under the three
schedules (and a missing barrier caught by the shuffled one), warp intrinsics, atomics, dynamic
shared memory, a tiled SGEMM at shapes that are not tile multiples, out-of-bounds detection
(AddressSanitizer, GPUFLOW_EMU_BOUNDS), argument checking, compile errors with .cu line numbers,
hangs reported as errors, and the compile cache. Skips when no C++ compiler is installed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

emu = pytest.importorskip("gpuflow.backend.emulator")
from gpuflow.backend.emulator import CompileError, EmulatorError, OutOfBoundsError, RawModule  # noqa: E402

pytestmark = pytest.mark.skipif(not (shutil.which("g++") or shutil.which("clang++") or os.environ.get(
    "GPUFLOW_EMU_CXX")), reason="the CUDA emulator needs a C++ compiler (g++ or clang++)")

HERE = os.path.dirname(os.path.abspath(__file__))
KDIR = os.path.join(HERE, "emulator_kernels")
REPO = os.path.dirname(HERE)
SCHEDULES = ("forward", "reverse", "shuffle")
_modules = {}


def module(name):
    """The module of tests/emulator_kernels/<name>, compiled once per test session."""
    if name not in _modules:
        _modules[name] = RawModule(path=os.path.join(KDIR, name))
    return _modules[name]


def fn(name, kernel):
    return module(name).get_function(kernel)


def i32(v):
    return np.int32(v)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ---- indexing, scalars ------------------------------------------------------------------------------
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_vector_add_with_tail(rng, schedule):
    n = 1000  # 4 blocks of 256 threads: the last 24 threads fail the bounds check
    a, b = rng.standard_normal(n, dtype=np.float32), rng.standard_normal(n, dtype=np.float32)
    out = np.full(n + 8, -7.0, np.float32)
    fn("basics.cu", "vadd")((4,), (256,), (a, b, out[:n], i32(n)), schedule=schedule)
    np.testing.assert_array_equal(out[:n], a + b)
    np.testing.assert_array_equal(out[n:], -7.0)  # nothing written past n


def test_scalar_parameter_types(rng):
    x = rng.standard_normal(300, dtype=np.float32)
    y = np.zeros(300, np.float64)
    fn("basics.cu", "axpb")(3, 64, (np.float32(2.5), np.float64(0.25), x, y, np.int64(300), np.uint32(192)))
    np.testing.assert_array_equal(y, (np.float32(2.5) * x).astype(np.float64) + 0.25)  # float product, double sum


@pytest.mark.parametrize("schedule", ("forward", "shuffle"))
def test_3d_grid_and_block(schedule):
    grid, block = (2, 3, 2), (4, 2, 3)
    nx, ny, nz = (g * b for g, b in zip(grid, block))
    out = np.full(nx * ny * nz, -1, np.int32)
    coords = np.zeros((nx * ny * nz, 4), np.int32)
    fn("basics.cu", "ids3d")(grid, block, (out, coords), schedule=schedule)
    np.testing.assert_array_equal(out, np.arange(out.size))
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    t = (x % 4) + 10 * (y % 2) + 100 * (z % 3)
    b = (x // 4) + 10 * (y // 2) + 100 * (z // 3)
    np.testing.assert_array_equal(coords[:, 0], t.ravel())
    np.testing.assert_array_equal(coords[:, 1], b.ravel())
    assert (coords[:, 2] == 4 + 20 + 300).all() and (coords[:, 3] == 2 + 30 + 200).all()


def test_int_grid_and_block_are_1d(rng):
    a = rng.standard_normal(70, dtype=np.float32)
    out = np.zeros(70, np.float32)
    fn("basics.cu", "vadd")(3, 32, (a, a, out, i32(70)))
    np.testing.assert_array_equal(out, 2 * a)


# ---- shared memory and barriers -----------------------------------------------------------------------
def _block_sums(x, tile=128):
    nb = -(-x.size // tile)
    return np.pad(x.astype(np.float64), (0, nb * tile - x.size)).reshape(nb, tile).sum(1), nb


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("seed", (0, 7))
def test_shared_reduction_correct_under_every_schedule(rng, schedule, seed):
    x = rng.standard_normal(1000, dtype=np.float32)
    want, nb = _block_sums(x)
    out = np.zeros(nb, np.float32)
    fn("reduce.cu", "block_sum")(nb, 128, (x, out, i32(x.size)), schedule=schedule, seed=seed)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


def test_missing_syncthreads_is_caught_by_shuffled_schedule(rng):
    x = rng.standard_normal(1000, dtype=np.float32)
    want, nb = _block_sums(x)
    out = np.zeros(nb, np.float32)
    k = fn("reduce.cu", "block_sum_nosync")
    for seed in range(3):
        k(nb, 128, (x, out, i32(x.size)), schedule="shuffle", seed=seed)
        assert not np.allclose(out, want, rtol=1e-5, atol=1e-5), f"race not visible with seed {seed}"
    # In forward order thread 0 reads s[64] before thread 64 wrote it: the emulator fills shared
    # memory with NaN before every block, so the race shows there too.
    k(nb, 128, (x, out, i32(x.size)), schedule="forward")
    assert np.isnan(out).any()


def test_environment_selects_schedule(rng, monkeypatch):
    x = rng.standard_normal(256, dtype=np.float32)
    want, nb = _block_sums(x)
    out = np.zeros(nb, np.float32)
    k = fn("reduce.cu", "block_sum_nosync")
    monkeypatch.setenv("GPUFLOW_EMU_SCHEDULE", "reverse")  # reverse order happens to hide this race
    k(nb, 128, (x, out, i32(x.size)))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    monkeypatch.setenv("GPUFLOW_EMU_SCHEDULE", "shuffle")
    k(nb, 128, (x, out, i32(x.size)))
    assert not np.allclose(out, want, rtol=1e-5, atol=1e-5)
    monkeypatch.setenv("GPUFLOW_EMU_SCHEDULE", "sideways")
    with pytest.raises(ValueError, match="sideways"):
        k(nb, 128, (x, out, i32(x.size)))


def test_syncthreads_count_and_or():
    flags = np.zeros((3, 64), np.int32)
    flags[0, ::2] = 1
    flags[1, :] = 1
    out = np.zeros(9, np.int32)
    fn("reduce.cu", "sync_preds")(3, 64, (flags, out), schedule="shuffle")
    np.testing.assert_array_equal(out.reshape(3, 3), [[32, 0, 1], [64, 1, 1], [0, 0, 0]])


def test_dynamic_shared_memory(rng):
    n, bs = 300, 64
    x = rng.standard_normal(n, dtype=np.float32)
    y = np.full(n, np.nan, np.float32)
    fn("basics.cu", "reverse_dyn")(5, bs, (x, y, i32(n)), shared_mem=(bs + 1) * 4, schedule="shuffle")
    pad = np.pad(x, (0, 5 * bs - n)).reshape(5, bs)[:, ::-1].ravel()
    np.testing.assert_array_equal(y, pad[:n])


# ---- warps, atomics ---------------------------------------------------------------------------------
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_warp_shuffle_reduction(rng, schedule):
    x = rng.standard_normal(256, dtype=np.float32)
    out = np.zeros(8, np.float32)
    fn("basics.cu", "warp_sum")(2, 128, (x, out, i32(256)), schedule=schedule)
    np.testing.assert_allclose(out, x.reshape(8, 32).sum(1), rtol=1e-5, atol=1e-5)


def test_ballot_broadcast_butterfly_scan_any_all(rng):
    x = rng.standard_normal(128, dtype=np.float32)
    x[64:96] = np.abs(x[64:96]) + 1  # warp 2: all positive
    x[96:] = -np.abs(x[96:]) - 1     # warp 3: all negative
    ballots, anyall = np.zeros(4, np.uint32), np.zeros(4, np.int32)
    bcast, bfly, scan = (np.zeros(128, np.float32) for _ in range(3))
    fn("basics.cu", "warp_misc")(1, 128, (x, ballots, bcast, bfly, scan, anyall), schedule="shuffle")
    w = x.reshape(4, 32)
    want_ballot = [(sum(1 << i for i in range(32) if v[i] > 0)) for v in w]
    np.testing.assert_array_equal(ballots, want_ballot)
    np.testing.assert_array_equal(bcast.reshape(4, 32), np.repeat(w[:, 3:4], 32, 1))
    np.testing.assert_array_equal(bfly.reshape(4, 32), np.repeat(w.max(1, keepdims=True), 32, 1))
    np.testing.assert_allclose(scan.reshape(4, 32), np.cumsum(w, 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(anyall, [(v > 0).any() + 2 * (v > 0).all() for v in w])


@pytest.mark.parametrize("schedule", ("forward", "shuffle"))
def test_atomic_histogram(rng, schedule):
    v = rng.integers(-2, 12, size=5000).astype(np.int32)
    bins, total = np.zeros(10, np.int32), np.zeros(1, np.float32)
    fn("basics.cu", "histogram")(4, 128, (v, i32(v.size), bins, i32(10), total), schedule=schedule)
    np.testing.assert_array_equal(bins, np.bincount(v[(v >= 0) & (v < 10)], minlength=10))
    assert total[0] == v.size


# ---- tiled SGEMM ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mnk", [(64, 48, 40), (17, 33, 5), (1, 1, 1)])
@pytest.mark.parametrize("schedule", ("forward", "shuffle"))
def test_tiled_sgemm_matches_numpy(rng, mnk, schedule):
    m, n, k = mnk
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = np.full((m, n), np.nan, np.float32)
    fn("sgemm.cu", "sgemm_tiled")((-(-n // 16), -(-m // 16)), (16, 16), (a, b, c, i32(m), i32(n), i32(k)),
                                  schedule=schedule)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)


# ---- argument and launch checks -------------------------------------------------------------------------
def test_python_float_for_float_parameter_is_refused():
    x, y = np.zeros(4, np.float32), np.zeros(4, np.float64)
    with pytest.raises(TypeError) as e:
        fn("basics.cu", "axpb")(1, 4, (2.5, np.float64(0), x, y, np.int64(4), np.uint32(4)))
    msg = str(e.value)
    for part in ("axpb", "parameter 0", "'alpha'", "float32", "Python float", "double"):
        assert part in msg, msg
    with pytest.raises(TypeError, match=r"parameter 1 'beta' .*float64.*numpy.float32"):
        fn("basics.cu", "axpb")(1, 4, (np.float32(1), np.float32(0), x, y, np.int64(4), np.uint32(4)))
    with pytest.raises(TypeError, match=r"parameter 3 'n' .*int32.*Python int"):
        fn("basics.cu", "vadd")(1, 4, (x, x, x, 4))


def test_array_dtype_and_layout_are_checked():
    a64 = np.zeros(8, np.float64)
    a = np.zeros(8, np.float32)
    with pytest.raises(TypeError) as e:
        fn("basics.cu", "vadd")(1, 8, (a64, a, a, i32(8)))
    for part in ("vadd", "parameter 0", "'a'", "const float*", "float32", "float64"):
        assert part in str(e.value), str(e.value)
    with pytest.raises(ValueError, match="C-contiguous"):
        fn("basics.cu", "vadd")(1, 8, (np.zeros(16, np.float32)[::2], a, a, i32(8)))
    ro = np.zeros(8, np.float32)
    ro.flags.writeable = False
    fn("basics.cu", "vadd")(1, 8, (ro, ro, a, i32(8)))  # read-only is fine for const float*
    with pytest.raises(ValueError, match="read-only"):
        fn("basics.cu", "vadd")(1, 8, (a, a, ro, i32(8)))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        fn("basics.cu", "vadd")(1, 8, ([0.0] * 8, a, a, i32(8)))


def test_wrong_argument_count():
    a = np.zeros(8, np.float32)
    with pytest.raises(TypeError, match=r"'vadd' takes 4 arguments .*Received: 3"):
        fn("basics.cu", "vadd")(1, 8, (a, a, a))


def test_launch_configuration_is_checked():
    a = np.zeros(8, np.float32)
    k = fn("basics.cu", "vadd")
    with pytest.raises(ValueError, match="1024"):
        k(1, (64, 32), (a, a, a, i32(8)))
    with pytest.raises(ValueError, match=">= 1"):
        k((0,), 8, (a, a, a, i32(8)))
    with pytest.raises(TypeError, match="tuple of 1 to 3 ints"):
        k((1, 1, 1, 1), 8, (a, a, a, i32(8)))
    src = 'extern "C" __global__ void __launch_bounds__(2 * 64) lb(float* y) { y[threadIdx.x] = 1.0f; }'
    lb = RawModule(code=src, name="lb.cu").get_function("lb")
    assert lb.max_threads_per_block == 128
    y = np.zeros(256, np.float32)
    lb(1, 128, (y,))
    with pytest.raises(ValueError, match=r"__launch_bounds__\(128\)"):
        lb(1, 256, (y,))


def test_unknown_entry_point_and_option():
    with pytest.raises(EmulatorError, match="no extern \"C\" __global__ function 'nope'.*vadd"):
        module("basics.cu").get_function("nope")
    with pytest.raises(ValueError, match="--frobnicate"):
        RawModule(code="", options=("--frobnicate",))


# ---- compile errors and the cache -----------------------------------------------------------------------
def test_compile_error_shows_cu_file_and_line(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUFLOW_CACHE", str(tmp_path))
    m = RawModule(path=os.path.join(KDIR, "broken.cu"))
    with pytest.raises(CompileError) as e:
        m.get_function("broken")
    assert "broken.cu:5" in str(e.value) and "undeclared_variable" in str(e.value), str(e.value)


def test_cache_hit_on_second_load_and_header_change(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUFLOW_CACHE", str(tmp_path / "cache"))
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "scale.cuh").write_text("#define SCALE 2.0f\n")
    src = ('#include "scale.cuh"\n'
           'extern "C" __global__ void scale(float* y) { y[threadIdx.x] = SCALE * threadIdx.x; }\n')
    opts = (f"-I{inc}", "-std=c++17", "-arch=sm_80")

    def run():
        y = np.zeros(4, np.float32)
        RawModule(code=src, options=opts, name="scale.cu").get_function("scale")(1, 4, (y,))
        return y

    before = dict(emu.stats)
    np.testing.assert_array_equal(run(), [0, 2, 4, 6])
    assert emu.stats["compiles"] == before["compiles"] + 1
    np.testing.assert_array_equal(run(), [0, 2, 4, 6])
    assert emu.stats["compiles"] == before["compiles"] + 1, "second load recompiled"
    assert emu.stats["cache_hits"] == before["cache_hits"] + 1
    assert any(p.suffix == ".so" for p in (tmp_path / "cache" / "emulator").iterdir())
    (inc / "scale.cuh").write_text("#define SCALE 3.0f\n")  # an included header is part of the key
    np.testing.assert_array_equal(run(), [0, 3, 6, 9])
    assert emu.stats["compiles"] == before["compiles"] + 2


def test_ucontext_fallback(rng, monkeypatch):
    """The portable context switch (used off x86-64) gives the same results."""
    monkeypatch.setenv("GPUFLOW_EMU_UCONTEXT", "1")
    m = RawModule(path=os.path.join(KDIR, "reduce.cu"))
    x = rng.standard_normal(300, dtype=np.float32)
    want, nb = _block_sums(x)
    out = np.zeros(nb, np.float32)
    m.get_function("block_sum")(nb, 128, (x, out, i32(x.size)), schedule="shuffle")
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


# ---- hangs become errors ----------------------------------------------------------------------------------
_HANG_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from gpuflow.backend.emulator import RawModule, LaunchError
    m = RawModule(path=sys.argv[1])
    y, x, iy = np.zeros(64, np.float32), np.ones(64, np.float32), np.zeros(64, np.int32)
    cases = {"divergent_barrier": (1, 32, (y,)), "two_barriers": (1, 32, (y,)),
             "exit_before_shuffle": (1, 32, (x, y, np.int32(20))), "barrier_vs_shuffle": (1, 32, (y,)),
             "traps": (1, 32, (iy,)), "partial_warp": None}
    out = {}
    for name, launch in cases.items():
        try:
            if name == "partial_warp":  # 48 threads: warp 1 has 16 lanes, the mask names 32
                RawModule(path=sys.argv[2]).get_function("warp_sum")(1, 48, (x, y, np.int32(48)))
            else:
                m.get_function(name)(*launch)
            out[name] = "no error"
        except LaunchError as e:
            out[name] = str(e)
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def hang_results():
    # A subprocess with a timeout, so that a regression that hangs fails the test instead of the run.
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        r = subprocess.run([sys.executable, "-c", _HANG_SCRIPT, os.path.join(KDIR, "hang.cu"),
                            os.path.join(KDIR, "basics.cu")], capture_output=True, text=True, timeout=180, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("a launch that cannot finish hung instead of raising")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case, parts", [
    ("divergent_barrier", ["'divergent_barrier'", "16 threads", "__syncthreads()", "hang.cu:6", "exited"]),
    ("two_barriers", ["'two_barriers'", "different barriers", "hang.cu:14", "hang.cu:16"]),
    ("exit_before_shuffle", ["'exit_before_shuffle'", "__shfl_down_sync", "exited", "hang.cu:25"]),
    ("barrier_vs_shuffle", ["'barrier_vs_shuffle'", "deadlock", "__syncthreads()", "__shfl_xor_sync"]),
    ("traps", ["'traps'", "__trap()", "hang.cu:37", "(5,0,0)"]),
    ("partial_warp", ["'warp_sum'", "do not exist", "blockDim (48,1,1)"]),
])
def test_hang_or_misuse_raises(hang_results, case, parts):
    msg = hang_results[case]
    for p in parts:
        assert p in msg, f"{case}: {p!r} not in {msg!r}"


# ---- out-of-bounds detection (AddressSanitizer in a worker process) ------------------------------------
@pytest.fixture(scope="module")
def oob():
    try:
        from gpuflow.backend.emulator import _build
        _build.asan_runtime(_build.compiler())
    except EmulatorError as e:
        pytest.skip(str(e))
    return RawModule(path=os.path.join(KDIR, "oob.cu"), bounds=True)


def test_bounds_in_bounds_is_not_flagged(oob, rng):
    x = rng.standard_normal(40, dtype=np.float32)
    y = np.zeros(40, np.float32)
    oob.get_function("copy_extra")(1, 64, (x, y, i32(40), i32(0)))
    np.testing.assert_array_equal(y, x)
    parent = rng.standard_normal(100, dtype=np.float32)
    oob.get_function("read_shift")(1, 64, (parent[10:50], y, i32(40), i32(0)))  # a view: exact fit
    np.testing.assert_array_equal(y, parent[10:50])
    s = np.zeros(64, np.float32)
    oob.get_function("shared_overrun")(1, 64, (s, i32(0)))
    oob.get_function("dyn_shared_overrun")(1, 64, (s, i32(0)), shared_mem=64 * 4)
    np.testing.assert_array_equal(s, 2.0)


def test_bounds_in_place_aliasing(oob, rng):
    a = rng.standard_normal(64, dtype=np.float32)
    want = 2 * a
    k = RawModule(path=os.path.join(KDIR, "basics.cu"), bounds=True).get_function("vadd")
    k(1, 64, (a, a, a, i32(64)))  # one exact-size copy shared by the three parameters
    np.testing.assert_array_equal(a, want)


def test_bounds_write_past_end(oob, rng):
    x, y = rng.standard_normal(40, dtype=np.float32), np.zeros(40, np.float32)
    with pytest.raises(OutOfBoundsError) as e:
        oob.get_function("copy_extra")(1, 64, (x, y, i32(40), i32(1)))
    msg = str(e.value)
    for part in ("'copy_extra'", "write of 4 bytes", "oob.cu:6", "just past the end of parameter 1 'y'"):
        assert part in msg, msg


def test_bounds_read_past_end_of_view_inside_larger_parent(oob, rng):
    parent = rng.standard_normal(100, dtype=np.float32)
    y = np.zeros(40, np.float32)
    with pytest.raises(OutOfBoundsError) as e:  # parent[50] exists, but the kernel got parent[10:50]
        oob.get_function("read_shift")(1, 64, (parent[10:50], y, i32(40), i32(1)))
    msg = str(e.value)
    for part in ("'read_shift'", "read of 4 bytes", "oob.cu:12", "parameter 0 'x'", "160 bytes"):
        assert part in msg, msg
    with pytest.raises(OutOfBoundsError, match="before the start of parameter 0 'x'"):
        oob.get_function("read_shift")(1, 64, (parent[10:50], y, i32(40), i32(-1)))
    # After a crash the worker is restarted and in-bounds launches work again.
    oob.get_function("read_shift")(1, 64, (parent[10:50], y, i32(40), i32(0)))
    np.testing.assert_array_equal(y, parent[10:50])


def test_bounds_shared_memory_overruns(oob):
    s = np.zeros(64, np.float32)
    with pytest.raises(OutOfBoundsError, match=r"oob.cu:18.*__shared__ variable 's'"):
        oob.get_function("shared_overrun")(1, 64, (s, i32(1)))
    with pytest.raises(OutOfBoundsError, match=r"oob.cu:26.*byte 256 of dynamic shared memory.*shared_mem=256"):
        oob.get_function("dyn_shared_overrun")(1, 64, (s, i32(1)), shared_mem=64 * 4)


def test_bounds_from_environment(monkeypatch, rng):
    monkeypatch.setenv("GPUFLOW_EMU_BOUNDS", "1")
    m = RawModule(path=os.path.join(KDIR, "oob.cu"))
    x, y = rng.standard_normal(8, dtype=np.float32), np.zeros(8, np.float32)
    with pytest.raises(OutOfBoundsError):
        m.get_function("copy_extra")(1, 32, (x, y, i32(8), i32(3)))
    monkeypatch.setenv("GPUFLOW_EMU_BOUNDS", "0")
    m.get_function("copy_extra")(1, 32, (x, y, i32(8), i32(0)))
    np.testing.assert_array_equal(x, y)


def test_bounds_locals_by_reference_over_many_blocks(oob):
    """Regression: fiber stacks are reused by the next block; the redzones ASan left on them must not
    turn a later block's locals-by-reference (wmma fragments) into a false stack-buffer-underflow."""
    m = RawModule(path=os.path.join(KDIR, "byref.cu"), bounds=True)
    y = np.zeros(200, np.float32)
    m.get_function("frag_by_reference")(4, 64, (y, i32(200)), schedule="shuffle")
    np.testing.assert_array_equal(y, 8 * np.arange(200, dtype=np.float32) + 64)


def test_less_common_builtins(rng):
    n = 64
    v = rng.integers(0, 20, size=n).astype(np.int32)
    q = rng.integers(0, 5, size=(n, 4)).astype(np.float32)
    out = np.zeros((n, 8), np.int32)
    cas, mx = np.array([-1], np.int32), np.array([-1, -1], np.int32)
    fn("basics.cu", "extras")(1, n, (v, q, out, cas, mx), schedule="shuffle")
    seg = v.reshape(-1, 16)
    np.testing.assert_array_equal(out[:, 0], np.repeat(seg[:, 0], 16))
    np.testing.assert_array_equal(out[:, 1], v[np.arange(n) ^ 8])
    w = v.reshape(-1, 32)
    match = [sum(1 << k for k in range(32) if w[i // 32, k] % 4 == v[i] % 4) for i in range(n)]
    np.testing.assert_array_equal(out[:, 2].view(np.uint32), match)
    np.testing.assert_array_equal(out[:, 3], np.repeat(w.sum(1), 32))
    np.testing.assert_array_equal(out[:, 4], 1)
    np.testing.assert_array_equal(out[:, 5], q.sum(1).astype(np.int32))
    np.testing.assert_array_equal(out[:, 6], np.maximum(v, 10) + np.minimum(v, 3))
    assert cas[0] in (31, 63) and mx[0] == v.max() and (out[:, 7] == 1).all()


def test_watchdog_reports_a_spin_wait(tmp_path):
    """A spin-wait cannot be emulated (one thread runs at a time); the watchdog names the kernel."""
    script = ("import sys, numpy as np\n"
              "from gpuflow.backend.emulator import RawModule\n"
              "RawModule(path=sys.argv[1]).get_function('spin_wait')(1, 2, (np.zeros(1, np.int32),))\n")
    env = dict(os.environ, GPUFLOW_EMU_WATCHDOG_S="1",
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    log = tmp_path / "stderr.txt"
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "-c", script, os.path.join(KDIR, "hang.cu")], stderr=f, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "spin-wait" not in log.read_text() and proc.poll() is None:
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait()
    err = log.read_text()
    assert "kernel 'spin_wait'" in err and "spin-wait" in err, err
