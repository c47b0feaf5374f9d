"""Mutants of the CUDA kernels that the primitive tests must catch, run on the CPU emulator.

A mutant is the kernel source with one deliberate bug, loaded through the same emulator loader under
another module name; the test shows the bug changes the result (while the real kernel, launched the
same way, matches the reference backend), so a test in this configuration would catch it.
"""
from __future__ import annotations

import numpy as np
import pytest

from gpuflow.backend.reference import ReferenceBackend
from gpuflow.device import probe_emulator

pytestmark = pytest.mark.skipif(not probe_emulator()[0], reason="no C++ compiler for the emulator")

# dense_bias_relu_bwd_f32's second barrier: without it, a warp that moves on to the next column block
# overwrites its partial sums in shared memory before warp 0 has read them.
SECOND_SYNC = "__syncthreads();  // part is reused by the next column block"


def _backend(mutate=None):
    from gpuflow.backend.cupy_backend import CupyBackend
    from gpuflow.backend.kernels import emulator_loader

    def loader(code, name):
        if mutate is None or name != "dense.cu":
            return emulator_loader(code, name)
        assert code.count(SECOND_SYNC) == 1, "the mutation no longer applies: update SECOND_SYNC"
        return emulator_loader(code.replace(SECOND_SYNC, ""), "mutant_" + name)

    return CupyBackend(xp=np, loader=loader, name="emulator")


def test_dense_bwd_without_its_second_syncthreads_is_caught_with_a_small_grid(monkeypatch):
    # Threads run in reverse order between barriers: warp 0, which sums the partials, runs last.
    monkeypatch.setenv("GPUFLOW_EMU_SCHEDULE", "reverse")
    rng = np.random.default_rng(12)
    m, n = 40, 70  # 3 column blocks of 32
    x = rng.standard_normal((m, 5)).astype(np.float32)
    w = rng.standard_normal((5, n)).astype(np.float32)
    y = np.maximum(x @ w, 0)
    dy = rng.standard_normal((m, n)).astype(np.float32)
    _, _, want_db = ReferenceBackend().dense_bwd(dy, x, w, y=y, relu=True)

    def db(be, grid_cap):
        be.grid_cap = grid_cap
        return be.dense_bwd(dy, x, w, y=y, relu=True)[2]

    real, mutant = _backend(), _backend(mutate=True)
    np.testing.assert_allclose(db(real, (1, 1, 1)), want_db, rtol=1e-5, atol=1e-5)
    # With the documented grid (one block per column block) the mutant is right: the loop never reuses part.
    np.testing.assert_allclose(db(mutant, None), want_db, rtol=1e-5, atol=1e-5)
    # With a grid smaller than the work it is wrong.
    assert np.abs(db(mutant, (1, 1, 1)) - want_db).max() > 1e-2
