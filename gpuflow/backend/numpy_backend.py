"""NumPy backend: the fast CPU implementation of every primitive, checked against :mod:`.reference`.

Convolutions are lowered to BLAS GEMMs block by block: for each block of
samples (about 2 MB of work, so it stays in cache) im2col through a strided
view, one GEMM, then the epilogue (bias, ReLU, and for the fused
conv+max-pool op the pooling); the backward pass is one sweep doing the ReLU
mask, the bias and filter gradients and the data gradient (one batched GEMM
per kernel offset followed by kh*kw contiguous adds) per block. Pooling is a
loop over the window offsets with vectorised work per offset, never a Python
loop over pixels. Everything stays in the input dtype (float32 for Keras
models), except float16 and bfloat16 (mixed precision): their primitives compute
in float32 and round the results back to the input dtype once
(:func:`.low_precision.upcast_16bit`).

Parallelism is over the batch, in chunks fixed by the batch size and the work
alone, never by the thread count: a convolution's or a memory-bound op's chunks
are its cache blocks, a GEMM's one per ``_CHUNK_WORK`` multiply-adds. Threads
take chunks in turn and every thread runs the whole pipeline on its chunk
(im2col, its own GEMM, the epilogue), with BLAS on one thread, also when all
the work is one chunk unless that chunk is large (:mod:`.cpu_runtime`, which
also keeps freed memory for reuse instead of page-faulting it back every
step). The memory-bound work is then parallel too, each chunk stays in its
core's cache, and BLAS's idle workers do not spin on the cores the chunks need.
Reductions over the batch (filter and bias gradients) return one partial per
chunk, summed in chunk order; a dense layer's kernel gradient is split by its
rows instead, each summing the whole batch (unless its rows are few, as an RNN
input projection's: then by the batch too). NumPy releases the GIL in all of
this work. ``GPUFLOW_NUM_THREADS`` sets the number of threads (default: the
CPUs this process may use; see :func:`.cpu_runtime.num_threads`).

Determinism: the chunks, the order their partials are summed in and the
arithmetic inside each chunk (BLAS single-threaded whenever there is more than
one) do not depend on the thread count, so a seed gives byte-identical weights
with 1, 2 or 64 threads. What still changes results in the last bits (and,
compounded over many training steps, visibly): the BLAS kernel, which depends
on the CPU (OpenBLAS picks SSE, AVX2 or AVX-512 code; ``OPENBLAS_CORETYPE``
pins one) and on NumPy's BLAS library, and decides the order of each GEMM's
sums; layer fusion on or off (``GPUFLOW_FUSION=0``: the fused Conv2D +
MaxPooling2D runs its GEMMs in other blocks and shapes, so they round
differently); and, for one chunk of much work (``_BLAS_THREADS_WORK``: one
large sample, a big GEMM on one row), BLAS's own thread count, which runs it.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import cpu_runtime
from .base import Backend, NumpyArrays, sum_partials as _sum_partials
from .low_precision import upcast_16bit

_THREADS = None  # threads that run the chunks: read at first use (cpu_runtime.num_threads)
_pool, _pool_workers = None, 0  # the helper threads (the caller runs chunks too)
_pool_lock = threading.Lock()  # guards creating or growing the pool (two threads may start ops at once)
_MIN_ROWS = 64  # rows per chunk of a dense layer's kernel gradient at least (see dense_bwd)
_CHUNK_WORK = 1 << 22  # multiply-adds per GEMM chunk at least (measured: smaller chunks of the seed CNN's
# Dense(128) on 1600 features, which all re-read the kernel, made its step slower on 2 cores)
_BLAS_THREADS_WORK = 1 << 26  # multiply-adds from which one chunk (work too small to split, or one sample) runs
# with BLAS's own threads: below it BLAS runs on one thread, since OpenBLAS's threads busy-wait after each GEMM
# and, on a loaded machine, wait for a time slice before each one (measured on a loaded 2-core Zen 4: the seed
# CNN's predict at batch 32, whose Dense layers are one chunk each, took 3.3x as long with BLAS's threads, and
# a call on one image 8.7x)


def _num_threads():
    global _THREADS
    if _THREADS is None:
        _THREADS = cpu_runtime.num_threads()
    return _THREADS


def _chunk_bounds(n, work=0, per_chunk=None):
    """Boundaries ``[0, ..., n]`` of the chunks of ``range(n)``, of equal sizes (within one) and the same on
    every machine for the same arguments: with ``per_chunk`` (a convolution or memory-bound work), as few
    chunks as hold at most ``per_chunk`` items each; else (a GEMM) one per ``_CHUNK_WORK`` of ``work``
    (multiply-adds), rounded down to a power of two so that 2, 4, 8... threads get even loads (at most n
    chunks)."""
    if per_chunk:
        chunks = -(-n // per_chunk)
    else:
        chunks = 1 << max(0, (work // _CHUNK_WORK).bit_length() - 1)
    chunks = max(1, min(n, chunks))
    return [n * i // chunks for i in range(chunks + 1)]


def _batch_parallel(fn, n, work=0, per_chunk=None):
    """Runs ``fn(start, stop)`` over the chunks [start, stop) of ``range(n)`` (:func:`_chunk_bounds`) and
    returns their results in chunk order.

    Threads (``_num_threads()``, the caller's included) take chunks in turn; with more than one chunk, BLAS
    runs single-threaded inside them, so each chunk's arithmetic and the result are the same for any thread
    count. One chunk runs on the caller's thread, with BLAS on one thread too unless ``work`` (its GEMMs'
    multiply-adds) reaches ``_BLAS_THREADS_WORK``.
    """
    global _pool, _pool_workers
    bounds = _chunk_bounds(n, work, per_chunk)
    chunks = len(bounds) - 1
    if chunks == 1:
        if work >= _BLAS_THREADS_WORK:
            return [fn(0, n)]
        with cpu_runtime.single_threaded():
            return [fn(0, n)]
    results = [None] * chunks
    pending = iter(range(chunks))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next(pending, None)
            if i is None:
                return
            results[i] = fn(bounds[i], bounds[i + 1])
    helpers = min(_num_threads(), chunks) - 1
    with _pool_lock:
        if helpers > _pool_workers:  # first use, or more threads than before (tests change _THREADS)
            # the old pool is left to finish what it was given and end (a shutdown could refuse a submit
            # another thread is about to make to it)
            _pool, _pool_workers = ThreadPoolExecutor(helpers, thread_name_prefix="gpuflow-cpu"), helpers
        pool = _pool
    with cpu_runtime.single_threaded():
        futures = [pool.submit(worker) for _ in range(helpers)]
        try:
            worker()
        finally:
            wait(futures)
        for f in futures:
            f.result()  # a chunk's exception
    return results




def _block(sample_bytes, target=2 << 20):
    """Samples per block (the chunk of a convolution or of memory-bound work) so that a block's working set
    (``sample_bytes`` per sample) is about ``target`` bytes, about twice the per-core L2 cache of this
    machine class: measured best for the seed CNN, where smaller blocks pay more per-call overhead than they
    gain in cache hits (at least 1)."""
    return max(1, target // max(1, sample_bytes))


def _nonzero_extent(dy):
    """``(oh, ow)`` of NHWC dy once its trailing all-zero rows, then columns, are cropped (at least 1 each)."""
    oh, ow = dy.shape[1], dy.shape[2]
    while oh > 1 and not dy[:, oh - 1].any():
        oh -= 1
    while ow > 1 and not dy[:, :oh, ow - 1].any():
        ow -= 1
    return oh, ow


def _pad(x, pads, value=0.0):
    top, bottom, left, right = pads
    if top == bottom == left == right == 0:
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _crop(xp_, x_shape, pads):
    """The unpadded (N, H, W, C) view of a padded array."""
    top, left = pads[0], pads[2]
    return xp_[:, top: top + x_shape[1], left: left + x_shape[2], :]


def _windows(x, g):
    """A (N, OH, OW, kh, kw, C) strided view of the windows of geometry g over x padded by g.pads (no copy)."""
    n, c = x.shape[0], x.shape[3]
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = g.kernel_hw, g.strides, g.dilations, g.output_hw
    s0, s1, s2, s3 = x.strides
    return as_strided(x, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3),
                      writeable=False)


def _offset_view(xp_, i, j, oh, ow, strides, dilations):
    """The (N, OH, OW, C) view of padded array xp_ seen by window offset (i, j)."""
    sh, sw = strides
    dh, dw = dilations
    return xp_[:, i * dh: i * dh + (oh - 1) * sh + 1: sh, j * dw: j * dw + (ow - 1) * sw + 1: sw, :]


def _epilogue(y2, b, relu):
    """``apply(b0, b1)``: ``y += b`` then ReLU, in place, on samples [b0, b1) of y2.

    y2 is a (N, P) view of the output, one row per sample (P a multiple of F = len(b)). The bias is tiled to
    a whole row, so NumPy's inner loops run over P elements instead of F (its per-inner-loop overhead is
    ~30 ns), and the ReLU is a ``maximum`` against a zero row: NumPy's SIMD loop for two contiguous operands
    is ~3x faster here than the one for an array and a scalar.
    """
    p = y2.shape[1]
    bias = None if b is None else np.tile(b.astype(y2.dtype, copy=False), p // b.shape[0])
    zeros = np.zeros(p, dtype=y2.dtype) if relu else None

    def apply(b0, b1):
        rows = y2[b0:b1]
        if bias is not None:
            rows += bias
        if relu:
            np.maximum(rows, zeros, out=rows)
    return apply


def _max_pool_block(xb, yb, ab, pool_size, strides):
    """Max pooling of the (padded) NHWC block xb into yb, with the window index of each winner in ab.

    A loop over the ph*pw window offsets with vectorised work per offset. Strict comparisons: the first
    maximum of the window in row-major order wins ties, as TensorFlow's MaxPoolGrad routes them.
    """
    ph, pw = pool_size
    oh, ow = yb.shape[1:3]
    yb[...] = _offset_view(xb, 0, 0, oh, ow, strides, (1, 1))
    ab[...] = 0
    for k in range(1, ph * pw):
        v = _offset_view(xb, k // pw, k % pw, oh, ow, strides, (1, 1))
        better = v > yb
        np.maximum(yb, v, out=yb)
        # Branch-free argmax update: k grows each pass, so max(arg, better * k) sets arg = k exactly where
        # this offset is better (masked copies mispredict on random data).
        np.maximum(ab, better.view(np.uint8) * np.uint8(k) if ab.dtype == np.uint8 else better * k, out=ab)


def _max_unpool_block(db, gb, sb, pool_size, strides, disjoint):
    """Routes each pooled gradient of gb to its window's winner (index sb) in db: written when the windows
    are disjoint (db then needs no zeroing where they cover it), accumulated otherwise."""
    ph, pw = pool_size
    oh, ow = gb.shape[1:3]
    for k in range(ph * pw):
        view = _offset_view(db, k // pw, k % pw, oh, ow, strides, (1, 1))
        contrib = gb * (sb == k)  # multiply, not np.where: branch-free
        if disjoint:
            view[...] = contrib
        else:
            view += contrib


@upcast_16bit
class NumpyBackend(NumpyArrays, Backend):
    name = "numpy"
    xp = np

    def __init__(self):
        _num_threads()  # a bad GPUFLOW_NUM_THREADS raises here, at the first CPU op, not inside a later one
        cpu_runtime.keep_freed_memory()
        self._rng = np.random.default_rng()

    def map_batch_chunks(self, fn, n, rows):
        """See :meth:`Backend.map_batch_chunks`: the chunks run on this backend's threads, BLAS on one thread
        even for one chunk (small back-to-back GEMMs, whose BLAS threads would busy-wait between them)."""
        with cpu_runtime.single_threaded():
            return _batch_parallel(fn, n, per_chunk=rows)

    # -- convolution (blocked im2col + GEMM) ----------------------------------
    @staticmethod
    def _conv_plan(x, g):
        """(window view (N, OH, OW, kh, kw, C) of padded x, N, OH*OW, K = kh*kw*C, whether x itself is
        the im2col matrix (1x1, stride 1, no padding))."""
        xp_ = _pad(x, g.pads)
        win = _windows(xp_, g)
        n, oh, ow, kh, kw, c = win.shape
        direct = kh == kw == 1 and g.strides == (1, 1) and xp_ is x and x.flags.c_contiguous
        return win, n, oh * ow, kh * kw * c, direct

    @staticmethod
    def _cols(win, c0, c1, scratch, direct):
        """The (rows, K) im2col matrix of samples [c0, c1), copied into ``scratch`` (a view of x if direct).

        With few channels (c < 4: a first layer on images) it is built K-major, one copy per kernel offset and
        channel into a contiguous (rows,) row of a (K, rows) buffer, and returned as that buffer's transposed
        view (BLAS takes either layout). Row-major, each offset's c-element runs landed kh*kw*c elements apart:
        measured, the seed CNN's first layer (c = 1) took 1.7x as long to copy.
        """
        if direct:  # a 1x1 stride-1 convolution: x already is the im2col matrix
            return win[c0:c1].reshape(-1, win.shape[-1])
        oh, ow, kh, kw, c = win.shape[1:]
        if c < 4:
            buf = scratch.reshape(-1)[: (c1 - c0) * oh * ow * kh * kw * c].reshape(kh, kw, c, c1 - c0, oh, ow)
            for i in range(kh):
                for j in range(kw):
                    for ch in range(c):
                        buf[i, j, ch] = win[c0:c1, :, :, i, j, ch]
            return buf.reshape(kh * kw * c, -1).T
        buf = scratch[: c1 - c0]
        buf[...] = win[c0:c1]
        return buf.reshape(-1, kh * kw * c)

    def _conv_fwd_sweep(self, x, w, g, out_block, after=None, out_hw=None):
        """The blocked forward convolution: per block of samples [c0, c1), im2col then one GEMM into
        ``out_block(c0, c1)`` (a ((c1-c0)*OH*OW, F) array), then ``after(c0, c1, z)`` while the block is in
        this core's cache. ``out_hw`` computes only the top-left (OH, OW) outputs. Returns (N, OH, OW)."""
        kh, kw, c, f = w.shape
        win, n, rows, k, direct = self._conv_plan(x, g)
        if out_hw is not None and tuple(out_hw) != win.shape[1:3]:
            win, direct = win[:, :out_hw[0], :out_hw[1]], False
            rows = out_hw[0] * out_hw[1]
        w2 = w.reshape(k, f)

        def block(c0, c1):
            scratch = None if direct else np.empty((c1 - c0,) + win.shape[1:], dtype=x.dtype)
            z = np.matmul(self._cols(win, c0, c1, scratch, direct), w2, out=out_block(c0, c1))
            if after is not None:
                after(c0, c1, z)
        _batch_parallel(block, n, n * rows * k * f, per_chunk=_block(rows * (k + f) * x.itemsize))
        return win.shape[:3]

    def conv2d_fwd(self, x, w, geometry, *, b=None, relu=False):
        n, f = x.shape[0], w.shape[3]
        oh, ow = geometry.output_hw
        rows = oh * ow
        y = np.empty((n * rows, f), dtype=x.dtype)
        epilogue = _epilogue(y.reshape(n, rows * f), b, relu) if b is not None or relu else None
        self._conv_fwd_sweep(x, w, geometry, lambda c0, c1: y[c0 * rows: c1 * rows],
                             epilogue and (lambda c0, c1, z: epilogue(c0, c1)))
        # Nothing is saved: the filter gradient redoes the (cheap, cache-resident) im2col block by block
        # rather than reading back an im2col matrix kh*kw times the size of x from memory.
        return y.reshape(n, oh, ow, f), None

    def conv2d_bwd(self, dy, w, geometry, *, x=None, y=None, saved=None, relu=False, need_dx=True, need_dw=True,
                   need_db=False):
        """Per block of samples: ``dz = dy * (y > 0)`` (if relu), then :meth:`_conv_bwd_sweep`.

        Trailing output rows and columns whose gradient is zero for every sample and channel are left out
        of the GEMMs: a floor-mode pooling after the convolution (MaxPooling2D(2) on an odd size, as the seed
        CNN's 11x11 -> 5x5) never reads them, so their gradient is exactly zero.
        """
        oh, ow = _nonzero_extent(dy)

        def dz_block(c0, c1):
            dz = dy[c0:c1, :oh, :ow]  # the whole block when nothing was cropped
            return dz * (y[c0:c1, :oh, :ow] > 0) if relu else np.ascontiguousarray(dz)
        return self._conv_bwd_sweep(dz_block, dy.shape[0], oh, ow, x, w, need_dx, need_dw, need_db, geometry)

    def _conv_bwd_sweep(self, dz_block, n, oh, ow, x, w, need_dx, need_dw, need_db, g):
        """The blocked backward convolution. Per block of samples [c0, c1), in cache: ``dz_block(c0, c1)``
        (the (c1-c0, oh, ow, F) gradient of the first oh x ow conv outputs; the rest is zero), the bias
        gradient ``sum(dz)``, the filter gradient ``dz^T @ cols`` (im2col redone for the block) and the data
        gradient (one GEMM per kernel offset, then kh*kw adds into dx). ``x`` may be None when ``need_dw`` is
        false. Returns ``(dx | None, dw | None, db | None)``."""
        kh, kw, c, f = w.shape
        rows = oh * ow
        dtype = w.dtype
        top, bottom, left, right = g.pads
        hp, wp = g.padded_hw
        if need_dw:
            win, _, _, k, direct = self._conv_plan(x, g)
            win = win[:, :oh, :ow]
        if need_dx:
            w_k = np.ascontiguousarray(w.transpose(0, 1, 3, 2)).reshape(kh * kw, f, c)
            dxp = np.empty((n, hp, wp, c), dtype=dtype)
        per_sample = rows * (f + (kh * kw * c if need_dw or need_dx else 0)) * dtype.itemsize

        def block(c0, c1):  # returns this block's partials (dW^T as (F, K), db)
            dz = dz_block(c0, c1).reshape(-1, f)
            db = np.ones(dz.shape[0], dtype=dz.dtype) @ dz if need_db else None  # a BLAS GEMV: ~3x a row sum
            dw_t = None
            if need_dw:
                scratch = None if direct else np.empty((c1 - c0,) + win.shape[1:], dtype)
                cols = self._cols(win, c0, c1, scratch, direct)
                # K-major cols (few channels): (cols^T @ dz)^T, measured 1.5x faster than dz^T @ cols for the
                # seed CNN's first layer; row-major cols: dz^T @ cols, up to 1.6x faster than the other way
                dw_t = (cols.T @ dz).T if cols.flags.f_contiguous else dz.T @ cols
            if need_dx:
                dcols = np.matmul(dz[None], w_k).reshape(kh * kw, c1 - c0, oh, ow, c)
                dblock = dxp[c0:c1]
                dblock[...] = 0
                for j in range(kh * kw):
                    _offset_view(dblock, j // kw, j % kw, oh, ow, g.strides, g.dilations)[...] += dcols[j]
            return dw_t, db
        partials = _batch_parallel(block, n, n * rows * kh * kw * c * f * (need_dw + need_dx), _block(per_sample))
        dw = db = dx = None
        if need_dw:
            dw = np.ascontiguousarray(_sum_partials([p[0] for p in partials]).T).reshape(w.shape)
        if need_db:
            db = _sum_partials([p[1] for p in partials])
        if need_dx:
            dx = dxp[:, top: hp - bottom, left: wp - right, :]
        return dx, dw, db

    def conv2d_bwd_filter(self, x, dy, geometry, *, saved=None):
        w = np.empty(geometry.kernel_hw + (x.shape[3], dy.shape[3]), dtype=dy.dtype)  # only its shape is read
        return self.conv2d_bwd(dy, w, geometry, x=x, need_dx=False)[1]

    def conv2d_bwd_data(self, dy, w, geometry, *, saved=None):
        return self.conv2d_bwd(dy, w, geometry, need_dw=False)[0]

    # -- convolution + bias/ReLU + max pooling, fused ----------------------------
    def conv2d_maxpool_fwd(self, x, w, geometry, pool_size, *, b=None, relu=False):
        pool = pool_size
        n, f = x.shape[0], w.shape[3]
        oh, ow = geometry.output_hw
        ph, pw = oh // pool[0], ow // pool[1]  # VALID pooling with the stride equal to the window
        y = np.empty((n, ph, pw, f), dtype=x.dtype)
        arg = np.empty(y.shape, dtype=np.uint8 if pool[0] * pool[1] < 256 else np.int32)
        epilogue = _epilogue(y.reshape(n, ph * pw * f), b, relu) if b is not None or relu else None
        oh, ow = ph * pool[0], pw * pool[1]  # the conv outputs some window reads: only those are computed

        def pool_block(c0, c1, z):  # max-pool the raw GEMM block, then the epilogue on the 4x smaller result:
            _max_pool_block(z.reshape(c1 - c0, oh, ow, f), y[c0:c1], arg[c0:c1], pool, pool)  # max commutes
            if epilogue:  # with +b and with ReLU (both monotonic), exactly in floating point
                epilogue(c0, c1)
        self._conv_fwd_sweep(x, w, geometry,
                             lambda c0, c1: np.empty(((c1 - c0) * oh * ow, f), dtype=x.dtype), pool_block, (oh, ow))
        return y, arg

    def conv2d_maxpool_bwd(self, dy, w, geometry, pool_size, *, saved, x=None, y=None, relu=False, need_dx=True,
                           need_dw=True, need_db=False):
        arg, pool = saved, pool_size
        n, ph, pw, f = dy.shape
        oh, ow = ph * pool[0], pw * pool[1]  # the conv outputs some window reads; the rest get no gradient

        def dz_block(c0, c1):
            # The ReLU mask at a window's winner is (pooled y > 0): apply it on the small pooled gradient.
            g = dy[c0:c1] * (y[c0:c1] > 0) if relu else dy[c0:c1]
            dz = np.empty((c1 - c0, oh, ow, f), dtype=dy.dtype)
            _max_unpool_block(dz, g, arg[c0:c1], pool, pool, disjoint=True)
            return dz
        return self._conv_bwd_sweep(dz_block, n, oh, ow, x, w, need_dx, need_dw, need_db, geometry)

    # -- pooling ------------------------------------------------------------
    def max_pool2d_fwd(self, x, geometry):
        (ph, pw), strides, (oh, ow) = geometry.kernel_hw, geometry.strides, geometry.output_hw
        xp_ = _pad(x, geometry.pads, -np.inf)
        n, c = x.shape[0], x.shape[3]
        y = np.empty((n, oh, ow, c), dtype=x.dtype)
        arg = np.empty(y.shape, dtype=np.uint8 if ph * pw < 256 else np.int32)
        _batch_parallel(lambda b0, b1: _max_pool_block(xp_[b0:b1], y[b0:b1], arg[b0:b1], (ph, pw), strides),
                        n, per_chunk=_block((xp_.nbytes + y.nbytes + arg.nbytes) // max(1, n)))
        return y, arg

    @staticmethod
    def _pool_grad_buffer(dy, g):
        """The padded (N, H', W', C) input-gradient buffer of a pooling and whether its windows are disjoint
        (each input pixel in at most one: gradients are then written, not accumulated). It is only zeroed
        where windows leave pixels uncovered."""
        (ph, pw), strides, (hp, wp) = g.kernel_hw, g.strides, g.padded_hw
        oh, ow = g.output_hw
        disjoint = strides[0] >= ph and strides[1] >= pw
        covers = oh * strides[0] == hp and ow * strides[1] == wp
        dxp = (np.empty if disjoint and covers and ph == strides[0] and pw == strides[1] else np.zeros)(
            (g.input_shape[0], hp, wp, g.input_shape[3]), dtype=dy.dtype)
        return dxp, disjoint

    def max_pool2d_bwd(self, dy, geometry, *, saved):
        dxp, disjoint = self._pool_grad_buffer(dy, geometry)
        n = dy.shape[0]
        _batch_parallel(lambda b0, b1: _max_unpool_block(dxp[b0:b1], dy[b0:b1], saved[b0:b1], geometry.kernel_hw,
                                                         geometry.strides, disjoint),
                        n, per_chunk=_block((dxp.nbytes + dy.nbytes + saved.nbytes) // max(1, n)))
        return _crop(dxp, geometry.input_shape, geometry.pads)

    def avg_pool2d_fwd(self, x, geometry):
        (ph, pw), strides, (oh, ow) = geometry.kernel_hw, geometry.strides, geometry.output_hw
        xp_ = _pad(x, geometry.pads)
        counts = self._pool_counts(geometry, x.dtype)
        y = np.empty((x.shape[0], oh, ow, x.shape[3]), dtype=x.dtype)

        def chunk(b0, b1):  # the window sum, offset by offset (row-major), then / the non-padding count
            xb, yb = xp_[b0:b1], y[b0:b1]
            yb[...] = _offset_view(xb, 0, 0, oh, ow, strides, (1, 1))
            for k in range(1, ph * pw):
                yb += _offset_view(xb, k // pw, k % pw, oh, ow, strides, (1, 1))
            yb /= counts
        _batch_parallel(chunk, x.shape[0], per_chunk=_block((xp_.nbytes + y.nbytes) // max(1, x.shape[0])))
        return y

    def avg_pool2d_bwd(self, dy, geometry):
        (ph, pw), strides, (oh, ow) = geometry.kernel_hw, geometry.strides, geometry.output_hw
        g = dy / self._pool_counts(geometry, dy.dtype)
        dxp, disjoint = self._pool_grad_buffer(dy, geometry)

        def chunk(b0, b1):
            for k in range(ph * pw):
                view = _offset_view(dxp[b0:b1], k // pw, k % pw, oh, ow, strides, (1, 1))
                if disjoint:
                    view[...] = g[b0:b1]
                else:
                    view += g[b0:b1]
        _batch_parallel(chunk, dy.shape[0], per_chunk=_block((dxp.nbytes + g.nbytes) // max(1, dy.shape[0])))
        return _crop(dxp, geometry.input_shape, geometry.pads)

    @staticmethod
    def _pool_counts(g, dtype):
        """(1, OH, OW, 1) count of non-padding elements under each window of geometry g."""
        ones = np.zeros((1,) + g.padded_hw + (1,), dtype=dtype)
        _crop(ones, g.input_shape, g.pads)[...] = 1
        return _windows(ones, g).sum(axis=(3, 4))

    # -- dense (GEMM + bias + ReLU epilogue) and the convolution epilogue ----------------
    def bias_act_fwd(self, y, *, b=None, relu=False):
        n = y.shape[0] if y.ndim > 1 else 1
        _batch_parallel(_epilogue(y.reshape(n, y.size // max(n, 1)), b, relu), n,
                        per_chunk=_block(y.nbytes // max(n, 1)))
        return y

    def bias_act_bwd(self, dy, *, y=None, relu=False, need_db=False):
        f = dy.shape[-1]
        dy2 = dy.reshape(-1, f)
        dz = np.empty_like(dy2) if relu else dy2
        y2 = y.reshape(-1, f) if relu else None

        def chunk(r0, r1):
            if relu:
                np.multiply(dy2[r0:r1], y2[r0:r1] > 0, out=dz[r0:r1])
            # ones @ dz: a BLAS GEMV, ~3x faster here than a NumPy sum over the rows.
            return np.ones(r1 - r0, dtype=dz.dtype) @ dz[r0:r1] if need_db else None
        partials = _batch_parallel(chunk, dz.shape[0], per_chunk=_block(3 * f * dz.itemsize))  # dy, y, dz
        return dz.reshape(dy.shape), (_sum_partials(partials) if need_db else None)

    def dense_fwd(self, x, w, *, b=None, relu=False):
        y = np.empty((x.shape[0], w.shape[1]), dtype=np.result_type(x, w))
        epilogue = _epilogue(y, b, relu)

        def chunk(r0, r1):
            np.matmul(x[r0:r1], w, out=y[r0:r1])
            epilogue(r0, r1)
        _batch_parallel(chunk, x.shape[0], x.shape[0] * w.shape[0] * w.shape[1])
        return y

    def dense_bwd(self, dy, x, w, *, y=None, relu=False, need_dx=True):
        dz, db = self.bias_act_bwd(dy, y=y, relu=relu, need_db=True)
        m, (k, units) = x.shape[0], w.shape
        # dW = x^T dz by chunks of its rows (x's features): each sums over the whole batch, so no partials to
        # add; but chunks of fewer than _MIN_ROWS rows are thin GEMMs that each re-read all of dz (measured:
        # x (3584, 28), the input projection of an LSTM over 28 steps, in 8 chunks of 3-4 rows ran at 20
        # GFLOP/s): then by chunks of the batch, their partial products summed in chunk order
        work = m * k * units
        rows = _chunk_bounds(k, work)
        if k // (len(rows) - 1) >= _MIN_ROWS:
            dw = np.empty((k, units), dtype=np.result_type(x, dz))
            _batch_parallel(lambda k0, k1: np.matmul(x[:, k0:k1].T, dz, out=dw[k0:k1]), k, work)
        else:
            dw = _sum_partials(_batch_parallel(lambda r0, r1: np.matmul(x[r0:r1].T, dz[r0:r1]), m, work))
        dx = None
        if need_dx:
            dx = np.empty((m, k), dtype=dz.dtype)
            _batch_parallel(lambda r0, r1: np.matmul(dz[r0:r1], w.T, out=dx[r0:r1]), m, m * k * units)
        return dx, dw, db
