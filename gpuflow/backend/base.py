"""The backend protocol: the array module plus the primitive kernels.

Every differentiable op in :mod:`gpuflow.ops` does its array work through a
``Backend``. Elementwise maths, reductions and matmul use ``backend.xp`` (NumPy
or CuPy, which share one API); the hot layers go through the primitives below,
which each backend implements in its own way (BLAS/im2col on the CPU, the
hand-written kernels of ``cuda_kernels/`` on CUDA).

Conventions for every primitive:
    * layout is NHWC for activations and (kh, kw, in, out) for convolution
      kernels, as Keras;
    * ``strides`` and ``dilations`` are ``(h, w)`` int pairs;
    * ``pads`` is ``(top, bottom, left, right)`` in pixels, already resolved
      from Keras's "valid"/"same" by :func:`gpuflow.ops.nn_ops.conv_output_size`;
    * arrays are float32 or float64; outputs have the dtype of the inputs.

A test (tests/test_backend_protocol.py) asserts that every backend implements
every name in :data:`PRIMITIVES`.
"""
from __future__ import annotations

import numpy as np

PRIMITIVES = (
    "asarray", "to_numpy", "synchronize",
    "random_normal", "random_uniform", "seed",
    "conv2d_fwd", "conv2d_bwd", "conv2d_bwd_data", "conv2d_bwd_filter",
    "conv2d_maxpool_fwd", "conv2d_maxpool_bwd",
    "max_pool2d_fwd", "max_pool2d_bwd", "avg_pool2d_fwd", "avg_pool2d_bwd",
    "dense_fwd", "dense_bwd", "bias_act_fwd", "bias_act_bwd",
)


def sum_partials(partials):
    """The sum of the partial results of a reduction over batch chunks, in chunk order, accumulated into the
    first (in place): the fixed order keeps results independent of which thread computed which chunk."""
    total = partials[0]
    for p in partials[1:]:
        total += p
    return total


class NumpyArrays:
    """The array and random-draw primitives of a backend whose arrays are NumPy arrays on the host (the
    NumPy and reference backends): one generator, ``numpy.random.default_rng``, so a seed gives the same draws
    on both. The backend's ``__init__`` sets ``self._rng = np.random.default_rng()``."""

    def asarray(self, value, dtype=None):
        return np.asarray(value, dtype=dtype)

    def to_numpy(self, a):
        return np.asarray(a)

    def synchronize(self):
        pass

    def seed(self, seed):
        self._rng = np.random.default_rng(seed)

    def random_normal(self, shape, dtype, mean=0.0, stddev=1.0):
        return self._rng.normal(mean, stddev, size=shape).astype(dtype, copy=False)

    def random_uniform(self, shape, dtype, minval=0.0, maxval=1.0):
        if np.dtype(dtype).kind in "iu":
            return self._rng.integers(minval, maxval, size=shape, dtype=dtype)
        return self._rng.uniform(minval, maxval, size=shape).astype(dtype, copy=False)


class Backend:
    """Abstract backend. Subclasses set ``name`` and ``xp`` and implement PRIMITIVES.

    Primitive signatures (all arrays are backend arrays):

    ``conv2d_fwd(x, w, strides, dilations, pads, b=None, relu=False) -> (y, saved)``
        x: (N, H, W, C), w: (kh, kw, C, F) -> y: (N, OH, OW, F). ``saved`` is
        opaque backend data handed back to the two backward primitives. ``b``
        (F,) and ``relu`` are the epilogue of ``bias_act_fwd``, fused.
    ``conv2d_bwd(dy, x, w, y, relu, need_dx, need_dw, need_db, strides, dilations, pads, saved=None,
    x_shape=None) -> (dx | None, dw | None, db | None)``
        The backward pass of ``y = relu?(conv2d(x, w) + b)`` (the op Keras's Conv2D runs): with ``relu``
        the mask ``y > 0`` is applied to dy first, as ``bias_act_bwd``; ``db`` sums over all axes but the
        last. Only the requested gradients are computed. ``x`` may be None when ``need_dw`` is false, with
        ``x_shape`` giving the input shape.
    ``conv2d_bwd_data(dy, w, x_shape, strides, dilations, pads, saved) -> dx``
    ``conv2d_maxpool_fwd(x, w, b, relu, strides, dilations, pads, pool) -> (y, saved)``
        ``y = max_pool2d(relu?(conv2d(x, w) + b), pool, strides=pool, VALID)``: Keras's Conv2D followed
        by MaxPooling2D(pool), one op. The conv output is never materialised as a whole.
    ``conv2d_maxpool_bwd(dy, x, w, y, saved, relu, need_dx, need_dw, need_db, strides, dilations, pads,
    pool) -> (dx | None, dw | None, db | None)``
        Its backward pass; y is the pooled output (the ReLU mask of each window's winner is ``y > 0``).
    ``conv2d_bwd_filter(x, dy, w_shape, strides, dilations, pads, saved) -> dw``
    ``max_pool2d_fwd(x, pool_size, strides, pads) -> (y, saved)``
        Padding counts as -inf. Ties go to the first element of the window in
        row-major order, as TensorFlow's MaxPoolGrad does.
    ``max_pool2d_bwd(dy, x_shape, pool_size, strides, pads, saved) -> dx``
    ``avg_pool2d_fwd(x, pool_size, strides, pads) -> y``
        Padding is excluded from the count, as ``tf.nn.avg_pool2d`` does.
    ``avg_pool2d_bwd(dy, x_shape, pool_size, strides, pads) -> dx``
    ``dense_fwd(x, w, b, relu) -> y``
        x: (M, K), w: (K, N), b: (N,) or None -> y = relu?(x @ w + b): (M, N).
    ``dense_bwd(dy, x, w, y, relu, need_dx) -> (dx | None, dw, db | None)``
        With ``relu`` the mask ``y > 0`` is applied to dy first.
    ``bias_act_fwd(y, b, relu) -> y``
        The epilogue of a convolution, in place on its fresh output: ``y += b`` (b: (F,) or None over
        the last axis), then ReLU if ``relu``.
    ``bias_act_bwd(dy, y, relu, need_db) -> (dz, db | None)``
        ``dz = dy * (y > 0)`` if ``relu`` else ``dy``; ``db`` sums dz over all axes but the last.
    ``random_normal(shape, dtype, mean, stddev)``, ``random_uniform(shape, dtype, minval, maxval)``
        Draw from the backend's generator, reseeded by ``seed(int)``.
    """

    name = "abstract"
    xp = None

    def map_batch_chunks(self, fn, n, rows):
        """``[fn(start, stop), ...]`` over chunks ``[start, stop)`` of ``range(n)`` of at most ``rows`` rows, in
        chunk order, for work whose rows are independent (a recurrence per sequence). This default runs one
        chunk, the whole batch (a GPU's kernels take it at once); the NumPy backend runs the chunks on its
        threads, BLAS on one thread, chunks fixed by ``n`` and ``rows`` alone."""
        return [fn(0, n)]

    def __repr__(self):
        return f"<gpuflow backend {self.name}>"
