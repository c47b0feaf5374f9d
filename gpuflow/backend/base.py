"""The backend contract: the array module plus the primitives, as an abstract base class.

Every differentiable op in :mod:`gpuflow.ops` does its array work through a :class:`Backend`. Elementwise
maths, reductions and matmul use ``backend.xp`` (NumPy or CuPy, which share one API); the hot layers go
through the primitives, the abstract methods of :class:`Backend`, which each backend implements in its own
way: plainly (:mod:`.reference`, the test oracle), with BLAS/im2col and threads on the CPU
(:mod:`.numpy_backend`), or with the hand-written kernels of ``cuda_kernels/`` (:mod:`.cupy_backend`).

Conventions for every primitive:
    * arrays are the backend's (``xp.ndarray``), positional; flags and optional operands are keyword-only;
    * layout is NHWC for activations and (kh, kw, in, out) for convolution kernels, as Keras;
    * convolution and pooling take one :class:`~.geometry.ConvGeometry` (input shape, window, strides,
      dilations, pads (top, bottom, left, right), output size), resolved once from Keras's padding by the op;
    * arrays are float32 or float64 (a backend may refuse float64, e.g. the CUDA kernels: TypeError naming
      the op); outputs have the dtype of the inputs;
    * ``saved`` is opaque backend data a forward primitive returns for its own backward primitives.

:data:`PRIMITIVES` lists the abstract methods; a test (tests/test_backend_protocol.py) asserts that every
backend implements all of them, with the parameters of the contract.
"""
from __future__ import annotations

import abc
from typing import Any

import numpy as np

from .geometry import ConvGeometry

Array = Any  # the backend's array type: numpy.ndarray or cupy.ndarray


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


class Backend(abc.ABC):
    """A backend: ``name``, the array module ``xp`` and the primitives below (subclasses set the first two and
    implement the rest)."""

    name = "abstract"
    xp = None

    def map_batch_chunks(self, fn, n, rows):
        """``[fn(start, stop), ...]`` over chunks ``[start, stop)`` of ``range(n)`` of at most ``rows`` rows, in
        chunk order, for work whose rows are independent (a recurrence per sequence). This default runs one
        chunk, the whole batch (a GPU's kernels take it at once); the NumPy backend runs the chunks on its
        threads, BLAS on one thread, chunks fixed by ``n`` and ``rows`` alone."""
        return [fn(0, n)]

    def map_batches(self, fn, batches, key):
        """``fn(batch)`` for each of ``batches`` (an iterable, read in order), yielded in order, for batches
        that are independent and whose results do not depend on the thread that computes them (the batches of
        a ``predict``). ``key`` (hashable) names the kind of work, for a backend that measures how to run it.
        This default runs them one after another; the NumPy backend may run two at once
        (:meth:`.numpy_backend.NumpyBackend.map_batches`). An error in ``fn`` is raised at its batch's turn."""
        for batch in batches:
            yield fn(batch)

    def __repr__(self):
        return f"<gpuflow backend {self.name}>"

    def capture_step(self, fn, state=(), watch=()):
        """A :class:`.graph.StepGraph` replaying the step ``fn(batch) -> outputs`` (``batch`` a list of host
        arrays; captured once per signature of the batch: a CUDA graph on a GPU), or None where the backend has
        no capture: this default, the NumPy backends run every step eagerly. See :mod:`.graph` for ``state``
        and ``watch``."""
        return None

    # -- arrays and random draws -----------------------------------------------------------
    @abc.abstractmethod
    def asarray(self, value, dtype=None) -> Array:
        """``value`` (array-like) as a backend array of ``dtype`` (NumPy's inference when None)."""

    @abc.abstractmethod
    def to_numpy(self, a: Array) -> np.ndarray:
        """The values of backend array ``a`` as a host NumPy array (a copy from the device, on a GPU)."""

    @abc.abstractmethod
    def synchronize(self) -> None:
        """Waits until the work queued on the device is done (a no-op on the CPU)."""

    @abc.abstractmethod
    def seed(self, seed: int) -> None:
        """Reseeds the generator :meth:`random_normal` and :meth:`random_uniform` draw from."""

    @abc.abstractmethod
    def random_normal(self, shape, dtype, mean=0.0, stddev=1.0) -> Array:
        """Normal draws of ``shape`` and ``dtype`` (float)."""

    @abc.abstractmethod
    def random_uniform(self, shape, dtype, minval=0.0, maxval=1.0) -> Array:
        """Uniform draws in ``[minval, maxval)`` of ``shape`` and ``dtype`` (float, or int: integers)."""

    # -- convolution -----------------------------------------------------------------------
    @abc.abstractmethod
    def conv2d_fwd(self, x: Array, w: Array, geometry: ConvGeometry, *, b: Array | None = None,
                   relu: bool = False) -> tuple[Array, Any]:
        """``y = relu?(conv2d(x, w) + b)``: Keras's Conv2D, the bias and ReLU fused as an epilogue.

        Args:
            x: (N, H, W, C), ``geometry.input_shape``.
            w: (kh, kw, C, F).
            geometry: the convolution's window, strides, dilations and pads.
            b: (F,) or None.
            relu: apply ReLU last.

        Returns:
            ``(y, saved)``: y (N, OH, OW, F), ``saved`` for :meth:`conv2d_bwd` and the other backward
            primitives.
        """

    @abc.abstractmethod
    def conv2d_bwd(self, dy: Array, w: Array, geometry: ConvGeometry, *, x: Array | None = None,
                   y: Array | None = None, saved: Any = None, relu: bool = False, need_dx: bool = True,
                   need_dw: bool = True, need_db: bool = False) -> tuple[Array | None, Array | None, Array | None]:
        """The backward pass of :meth:`conv2d_fwd`: with ``relu`` the mask ``y > 0`` is applied to dy first (as
        :meth:`bias_act_bwd`); only the gradients asked for are computed.

        Args:
            dy: (N, OH, OW, F), the gradient of y.
            w: (kh, kw, C, F).
            geometry: as given to the forward pass.
            x: (N, H, W, C); needed only for ``need_dw``.
            y: the forward output; needed only for ``relu``.
            saved: the forward pass's ``saved``, or None.
            relu, need_dx, need_dw, need_db: the ReLU mask, and which gradients to compute.

        Returns:
            ``(dx, dw, db)``: (N, H, W, C), (kh, kw, C, F), (F,) (``db`` sums over all axes but the last),
            each None unless asked for.
        """

    @abc.abstractmethod
    def conv2d_bwd_data(self, dy: Array, w: Array, geometry: ConvGeometry, *, saved: Any = None) -> Array:
        """The gradient of ``conv2d(x, w)`` with respect to x (also the forward pass of ``conv2d_transpose``).

        Args:
            dy: (N, OH, OW, F). w: (kh, kw, C, F). geometry: the convolution's; x's shape is
                ``geometry.input_shape``. saved: the forward pass's, or None.

        Returns:
            dx: (N, H, W, C).
        """

    @abc.abstractmethod
    def conv2d_bwd_filter(self, x: Array, dy: Array, geometry: ConvGeometry, *, saved: Any = None) -> Array:
        """The gradient of ``conv2d(x, w)`` with respect to w.

        Args:
            x: (N, H, W, C). dy: (N, OH, OW, F). geometry: the convolution's. saved: the forward pass's, or None.

        Returns:
            dw: (kh, kw, C, F).
        """

    @abc.abstractmethod
    def conv2d_maxpool_fwd(self, x: Array, w: Array, geometry: ConvGeometry, pool_size: tuple, *,
                           b: Array | None = None, relu: bool = False, need_saved: bool = True) -> tuple[Array, Any]:
        """``y = max_pool2d(relu?(conv2d(x, w) + b), pool_size, strides=pool_size, VALID)``: Keras's Conv2D
        followed by MaxPooling2D(pool_size), one op. A backend need not materialise the conv output.

        Args:
            x, w, geometry, b, relu: as :meth:`conv2d_fwd`.
            pool_size: ``(ph, pw)``, the pooling window and stride, at most the conv output's size.
            need_saved: False when no backward pass will follow (inference: no tape recording); a backend may
                then skip what only the backward reads (the winners) and return None as ``saved``.

        Returns:
            ``(y, saved)``: y (N, OH // ph, OW // pw, F); ``saved`` for :meth:`conv2d_maxpool_bwd`.
        """

    @abc.abstractmethod
    def conv2d_maxpool_bwd(self, dy: Array, w: Array, geometry: ConvGeometry, pool_size: tuple, *, saved: Any,
                           x: Array | None = None, y: Array | None = None, relu: bool = False, need_dx: bool = True,
                           need_dw: bool = True,
                           need_db: bool = False) -> tuple[Array | None, Array | None, Array | None]:
        """The backward pass of :meth:`conv2d_maxpool_fwd`: each pooled gradient goes to its window's winner
        (first maximum in row-major order); with ``relu`` the mask of the winner is ``y > 0`` of the pooled y.

        Args:
            dy: (N, OH // ph, OW // pw, F). saved: the forward pass's. y: the pooled output (for ``relu``).
            w, geometry, pool_size, x, relu, need_dx, need_dw, need_db: as :meth:`conv2d_bwd` and the forward.

        Returns:
            ``(dx, dw, db)`` as :meth:`conv2d_bwd`.
        """

    # -- pooling -----------------------------------------------------------------------------
    @abc.abstractmethod
    def max_pool2d_fwd(self, x: Array, geometry: ConvGeometry, *, need_saved: bool = True) -> tuple[Array, Any]:
        """Max pooling of x (N, H, W, C) over the windows of ``geometry`` (``kernel_hw`` the window, dilations
        1). Padding counts as -inf; ties go to the first element of the window in row-major order, as
        TensorFlow's MaxPoolGrad routes them. ``need_saved``: as :meth:`conv2d_maxpool_fwd`.

        Returns:
            ``(y, saved)``: y (N, OH, OW, C); ``saved`` (the winners) for :meth:`max_pool2d_bwd`.
        """

    @abc.abstractmethod
    def max_pool2d_bwd(self, dy: Array, geometry: ConvGeometry, *, saved: Any) -> Array:
        """dx (N, H, W, C): each dy (N, OH, OW, C) added to its window's winner (``saved`` by the forward)."""

    @abc.abstractmethod
    def avg_pool2d_fwd(self, x: Array, geometry: ConvGeometry) -> Array:
        """Average pooling of x (N, H, W, C) -> (N, OH, OW, C); padding is left out of each window's count,
        as ``tf.nn.avg_pool2d`` does."""

    @abc.abstractmethod
    def avg_pool2d_bwd(self, dy: Array, geometry: ConvGeometry) -> Array:
        """dx (N, H, W, C) of :meth:`avg_pool2d_fwd` from dy (N, OH, OW, C)."""

    # -- dense and the bias/ReLU epilogue ------------------------------------------------------
    @abc.abstractmethod
    def dense_fwd(self, x: Array, w: Array, *, b: Array | None = None, relu: bool = False) -> Array:
        """``y = relu?(x @ w + b)``: x (M, K), w (K, N), b (N,) or None -> y (M, N)."""

    @abc.abstractmethod
    def dense_bwd(self, dy: Array, x: Array, w: Array, *, y: Array | None = None, relu: bool = False,
                  need_dx: bool = True) -> tuple[Array | None, Array, Array]:
        """The backward pass of :meth:`dense_fwd`; with ``relu`` the mask ``y > 0`` is applied to dy first.

        Returns:
            ``(dx, dw, db)``: (M, K) (None unless ``need_dx``), (K, N), (N,) (always computed).
        """

    @abc.abstractmethod
    def bias_act_fwd(self, y: Array, *, b: Array | None = None, relu: bool = False) -> Array:
        """The epilogue of a convolution, in place on its fresh output y (any shape, channels last):
        ``y += b`` (b (F,) or None), then ReLU if ``relu``. Returns y."""

    @abc.abstractmethod
    def bias_act_bwd(self, dy: Array, *, y: Array | None = None, relu: bool = False,
                     need_db: bool = False) -> tuple[Array, Array | None]:
        """``(dz, db)``: ``dz = dy * (y > 0)`` if ``relu`` else ``dy``; ``db`` (F,) sums dz over all axes but the
        last, None unless ``need_db``."""


#: The primitives: the abstract methods of :class:`Backend`, in the order above.
PRIMITIVES = tuple(name for name, v in vars(Backend).items() if getattr(v, "__isabstractmethod__", False))
