"""A backend's primitives against the reference backend (gpuflow/backend/reference.py), within float32
tolerances derived from the length of the reductions.

No assertion may depend on the order a kernel (a BLAS kernel, a CUDA tile loop, a batch split) adds its
terms in: two float32 results of the same sums are compared within what rounding allows for sums of that
length (:func:`assert_sums_match`), never at a fixed rtol. The bound needs ``sum|term|`` per element: the
same primitive on the absolute values of its operands, computed by the reference in float64.
"""
import numpy as np

from gpuflow.backend.reference import ReferenceBackend

REF = ReferenceBackend()

U32 = np.finfo(np.float32).eps / 2  # the float32 unit roundoff, 2**-24


def assert_sums_match(got, want, abs_sum, k, what=""):
    """Asserts that two float32 results of the same sums of ``k`` terms each, added in different orders (another
    BLAS kernel, another batch split, a CUDA kernel, or the reference's float64 sum rounded once), agree to
    rounding.

    Each computed sum is within ``gamma_k * sum|term|`` of the exact one, ``gamma_k = k*u / (1 - k*u)`` with
    ``u = 2**-24`` the float32 unit roundoff, whatever the order (Higham, Accuracy and Stability of
    Numerical Algorithms, 2nd ed., eq. 3.5; FMA only tightens it), so two of them differ by at most
    ``2 * gamma_k * abs_sum``, where ``abs_sum`` is ``sum|term|`` per element (float64). A further rounding
    per element (a bias add, a division by a count, the final cast) counts as one more term in ``k``.

    Args:
        got, want: the two results (same shape).
        abs_sum: ``sum|term|`` of every element, broadcastable to their shape: the same computation on the
            absolute values of the operands, in float64 (e.g. the reference backend on ``abs(x)``).
        k: the number of terms per sum (the reduction length), at least 1.
        what: named in the failure message.
    """
    assert k >= 1, f"{what}: k={k}"
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    bound = 2 * (k * U32 / (1 - k * U32)) * np.asarray(abs_sum, dtype=np.float64)
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert np.all(diff <= bound), \
        f"{what}: worst |got - want| / bound = {np.max(diff / np.maximum(bound, np.finfo(np.float64).tiny)):.3g} (k={k})"


def abs64(a):
    return None if a is None else np.abs(a).astype(np.float64)


def assert_conv_fwd_matches(y, x, w, g, b=None, relu=False, what="conv2d_fwd"):
    """y (a backend's relu?(conv2d(x, w) + b) of geometry g) against the reference, within the rounding of sums
    of kh*kw*C products (+1 for the bias); ReLU is 1-Lipschitz, so the bound of its input holds."""
    want, _ = REF.conv2d_fwd(x, w, g, b=b, relu=relu)
    abs_sum, _ = REF.conv2d_fwd(abs64(x), abs64(w), g, b=abs64(b))
    assert y.dtype == want.dtype, what
    assert_sums_match(y, want, abs_sum, int(np.prod(w.shape[:3])) + (b is not None), what)


def assert_conv_bwd_matches(got, dz, x, w, g, what="conv2d_bwd"):
    """``got = (dx, dw, db)`` (each may be None) of a convolution of geometry g whose output gradient, after
    the ReLU mask, is dz, against the reference: dx sums kh*kw*F products, dw and db N*OH*OW."""
    n, oh, ow, f = dz.shape
    want = REF.conv2d_bwd(dz, w, g, x=x, need_db=True)
    adz = abs64(dz)
    bounds = [(REF.conv2d_bwd_data(adz, abs64(w), g), w.shape[0] * w.shape[1] * f),
              (REF.conv2d_bwd_filter(abs64(x), adz, g), n * oh * ow),
              (adz.sum(axis=(0, 1, 2)), n * oh * ow)]
    for name, got_, e, (abs_sum, k) in zip(("dx", "dw", "db"), got, want, bounds):
        if got_ is not None:
            assert got_.dtype == e.dtype, f"{what} {name}"
            assert_sums_match(got_, e, abs_sum, k, f"{what} {name}")
