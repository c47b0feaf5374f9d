"""Compiles cuda_kernels/*.cu with NVRTC for sm_80 and sm_90 (no GPU needed).

Needs the ``cuda-bindings`` and ``nvidia-cuda-nvrtc`` wheels (the ``test`` extra); skips with the
reason when they are missing. Asserts that every entry point the Python wrappers launch exists for
both architectures, that no kernel spills registers at sm_90 (no tensor-core kernel at sm_80
either), that the tensor-core kernels' hot loop is HMMA with no FFMA (SASS through nvdisasm, the
``nvidia-cuda-nvdisasm`` wheel), and that a compile error is reported with its file and line. The
tensor-core kernels need the CUDA headers (``nvidia-cuda-runtime`` + ``nvidia-cuda-crt``).
"""
from __future__ import annotations

import sys

import pytest

from gpuflow.backend import kernels, nvrtc_check

ARCHS = ("sm_80", "sm_90")


def _nvrtc_or_skip():
    try:
        nvrtc_check.nvrtc_version()
    except nvrtc_check.NvrtcUnavailableError as e:
        pytest.skip(f"NVRTC not available, kernel compile check skipped: {e}")


@pytest.fixture(scope="module")
def records():
    _nvrtc_or_skip()
    try:
        return nvrtc_check.check_all(ARCHS)
    except nvrtc_check.NvrtcUnavailableError as e:  # the CUDA headers of the tensor-core kernels
        pytest.skip(str(e))


@pytest.mark.parametrize("arch", ARCHS)
def test_every_entry_point_compiles(records, arch):
    found = {(r["file"], r["kernel"]) for r in records if r["arch"] == arch}
    expected = {(f, k) for f, names in nvrtc_check.EXPECTED_ENTRY_POINTS.items() for k in names}
    missing = sorted(expected - found)
    assert not missing, f"entry points missing from the {arch} build: {missing}"
    for r in records:
        assert r["registers"] is not None and r["registers"] > 0, r


def test_no_register_spills_at_sm90(records):
    spills = [r for r in records if r["arch"] == "sm_90" and (r["spill_stores"] or r["spill_loads"])]
    assert not spills, "kernels spill registers at sm_90:\n" + nvrtc_check.format_table(spills)


def test_tensor_core_kernels_do_not_spill_and_run_hmma(records):
    tc = [r for r in records if r["file"].endswith("_tc.cu") and not r["kernel"].startswith("splitk_reduce")]
    assert {r["arch"] for r in tc} == set(ARCHS)
    spills = [r for r in tc if r["spill_stores"] or r["spill_loads"] or r["stack_bytes"]]
    assert not spills, "tensor-core kernels spill:\n" + nvrtc_check.format_table(spills)
    # __launch_bounds__(128, 4): <= 128 registers, at least 4 blocks = 16 warps per SM, as wmma_tile.cuh states
    assert all(r["registers"] <= 128 and r["occupancy"] >= 0.25 for r in tc), nvrtc_check.format_table(tc)
    if nvrtc_check.nvdisasm_path() is None:
        pytest.skip("nvdisasm not found (pip install nvidia-cuda-nvdisasm): SASS instruction mix not checked")
    for r in tc:  # per warp and K slice, 2 k-steps x 4 fragments x 4 HMMA.1684 (TF32) / 2 HMMA.16816 (16-bit)
        want = 32 if r["kernel"].endswith("tf32") else 16
        assert r["loop_hmma"] == want and r["loop_ffma"] == 0, r
    simt = [r for r in records if r["kernel"] == "conv2d_fwd_f32"]
    assert all(r["loop_ffma"] == 256 and r["loop_hmma"] == 0 for r in simt), simt  # 16 x 4x4 micro-tile FMAs


def test_occupancy():
    # The SIMT GEMMs as gemm_tile.cuh states: <= 80 registers, 256 threads, 17,408 B -> 3 blocks, 37.5 %.
    assert nvrtc_check.occupancy("sm_90", 80, 17408, 256) == (3, 0.375)
    assert nvrtc_check.occupancy("sm_80", 64, 17408, 256) == (4, 0.5)
    # Shared memory bound: 100 KB blocks -> 1 on sm_80 (164 KB per SM), 2 on sm_90 (228 KB).
    assert nvrtc_check.occupancy("sm_80", 32, 100 * 1024, 128)[0] == 1
    assert nvrtc_check.occupancy("sm_90", 32, 100 * 1024, 128)[0] == 2


def test_sass_hot_loop():
    sass = """//--------------------- .text.k             --------------------------
.text.k:
        /*0000*/                   MOV R1, c[0x0][0x28] ;
.L_x_0:
        /*0010*/                   FFMA R2, R3, R4, R2 ;
        /*0020*/               @P0 BRA `(.L_x_0) ;
.L_x_1:
        /*0030*/                   HMMA.1684.F32.TF32 R4, R2, R9, R4 ;
        /*0040*/                   HMMA.1684.F32.TF32 R8, R2, R9, R8 ;
        /*0050*/                   IADD3 R5, R5, 0x1, RZ ;
        /*0060*/              @!P1 BRA `(.L_x_1) ;
        /*0070*/                   BRA `(.L_x_2) ;
.L_x_2:
        /*0080*/                   EXIT ;
"""
    assert nvrtc_check.sass_hot_loops(sass) == {"k": dict(instructions=4, hmma=2, ffma=0)}


def test_gemm_kernels_fit_their_launch_bounds(records):
    """The occupancy stated in the kernels' comments: conv GEMMs <= 80 registers, dense <= 64, 17,408 B smem."""
    limits = {"conv2d_fwd_f32": 80, "conv2d_bwd_data_f32": 80, "conv2d_bwd_filter_f32": 80,
              "conv2d_bwd_filter_splitk_f32": 80, "dense_bias_relu_fwd_f32": 64}
    for r in records:
        if r["kernel"] in limits:
            assert r["registers"] <= limits[r["kernel"]], r
            assert r["shared_bytes"] == 17408, r


def test_compile_error_names_file_and_line(tmp_path):
    _nvrtc_or_skip()
    bad = tmp_path / "broken.cu"
    bad.write_text('#include "common.cuh"\n'
                   'extern "C" __global__ void broken_f32(float* y) {\n'
                   '    y[0] = undefined_name;\n'
                   '}\n')
    with pytest.raises(nvrtc_check.NvrtcCompileError) as info:
        nvrtc_check.compile_source(str(bad), "sm_90", include_dirs=[kernels.kernel_dir()])
    msg = str(info.value)
    assert f"{bad}:3:" in msg and "undefined_name" in msg, msg


def test_missing_bindings_skip_with_the_reason(monkeypatch):
    """Where the wheels are not installed (macOS, ...: the test extra leaves them out) these tests skip."""
    for name in ("cuda", "cuda.bindings", "cuda.bindings.nvrtc", "cuda.nvrtc"):
        monkeypatch.setitem(sys.modules, name, None)  # import of each now fails
    with pytest.raises(pytest.skip.Exception, match="pip install cuda-bindings nvidia-cuda-nvrtc"):
        _nvrtc_or_skip()


def test_parse_ptxas_log():
    log = """ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'k_a' for 'sm_90'
ptxas info    : Function properties for k_a
ptxas         .     8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads
ptxas info    : Used 80 registers, used 1 barriers, 17408 bytes smem
ptxas info    : Compiling entry function 'k_b' for 'sm_80'
ptxas info    : Function properties for k_b
ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 32 registers, 360 bytes cmem[0]
"""
    a, b = nvrtc_check.parse_ptxas_log(log)
    assert a == dict(kernel="k_a", arch="sm_90", registers=80, spill_stores=4, spill_loads=12, stack_bytes=8,
                     shared_bytes=17408)
    assert b == dict(kernel="k_b", arch="sm_80", registers=32, spill_stores=0, spill_loads=0, stack_bytes=0,
                     shared_bytes=0)
