"""Fused recurrent sequences: SimpleRNN, LSTM and GRU over all time steps as one op.

:func:`recurrent_sequence` runs a built-in cell (Keras 3's equations and gate order, see
:mod:`gpuflow.keras.layers.rnn`) over every step of a time-major input: the input projection
``x_t @ kernel + bias``, the recurrence, and backpropagation through time with the weight gradients.
Forward and backward of each cell are written once, side by side, in ``_SimpleRNN``, ``_LSTM``,
``_GRU`` and ``_GRUResetBefore``; all array work goes through the backend's ``xp`` (NumPy or CuPy),
on buffers allocated once per call.

**Layout: gate-major, batch last.** Inside the op every per-step array is transposed: the
pre-activations ``z^T = U^T @ h^T + p^T`` are (gates * units, batch) and the states (units, batch),
so that each gate's block ``z^T[k*u:(k+1)*u]`` is one contiguous run and every elementwise gate op is
one flat loop (in the (batch, gates * units) layout a gate block is ``batch`` rows of ``units``
columns, each row one inner loop; measured on one Zen 4 core, the 28 steps of an LSTM(128) or
GRU(128) over a 64-row chunk, forward and backward, took about 0.8x the time, see
``benchmarks/README.md``). The weights keep Keras's layout; the op makes internal copies once per call:

* the gate blocks reordered so that the sigmoid gates come first (LSTM: i, f, o, c instead of
  i, f, c, o), and their rows of the kernels and biases scaled by 0.5, exactly (a power of two), so
  that the sigmoid ``0.5 + 0.5 * tanh(z / 2)`` is one tanh over all gates then one multiply and one
  add over the sigmoid gates' contiguous rows (within about 6e-8 of ``math_ops.sigmoid``, which the
  per-step path uses; a very negative ``z`` may give 0 instead of a tiny number);
* the input projection of all steps is one batched GEMM into the (steps, gates * units, batch)
  buffer that the recurrence then activates in place (what backward needs stays there, no copies);
  the input bias rides in the GEMM as a column of the kernel against a row of ones.

Backward, per step: elementwise gate gradients into the step's slice of one (steps, gates * units,
batch) buffer and one GEMM for the state gradient; after the loop ONE GEMM over all steps for each
weight gradient (the buffers regrouped as (gates * units, steps * batch), a copy of contiguous
batch-long runs) and one batched GEMM for the inputs' gradient.

With a mask, a masked step keeps the previous states (Keras), done by one ``copyto(where=)`` on the
step's states; its gradient passes the state gradient through unchanged. On the CPU the batch runs
in chunks of columns (see ``_by_rows``), each chunk's whole recurrence, forward then backward with its
partial weight gradients, on one of the backend's threads with BLAS on one thread; the partials are
summed in chunk order. The chunks depend on the shapes alone, so the results do not depend on the
thread count.

The gradient ops are recorded as ops with no derivative of their own (as the fused conv and dense
ops are): a second derivative through this op raises ``NotImplementedError``. The Keras layers use
the per-step path of differentiable ops when a second derivative may be taken (nested tapes).
"""
from __future__ import annotations

from .core import check_same_device, convert_to_tensor, make_gradient_op, make_op

__all__ = ["recurrent_sequence", "CELLS"]


def _sigmoid_halved(xp, a):
    """``a = sigmoid(z)`` in place, from ``a = z / 2`` (the kernels' sigmoid rows are pre-halved):
    ``0.5 + 0.5 * tanh(z / 2)``. Three NumPy calls instead of ``math_ops.sigmoid``'s seven (``exp(-|z|)``,
    a select, a division); measured, an LSTM's forward and backward took 0.95x the time."""
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _sigmoid_backward(xp, s, d, tmp):
    """``d *= s * (1 - s)``: the pre-activation gradient of sigmoid gates with values ``s``."""
    xp.subtract(1, s, out=tmp)
    tmp *= s
    d *= tmp


def _blend(xp, z, h_prev, hh, out, tmp):
    """``out = z * h_prev + (1 - z) * hh`` (the GRU update, in the per-step path's order of operations)."""
    xp.multiply(z, h_prev, out=out)
    xp.subtract(1, z, out=tmp)
    tmp *= hh
    out += tmp


def _blend_backward(xp, z, h_prev, hh, dh, dz, tmp):
    """From ``dh`` (the update's output gradient): ``dz[:u] = dh * (h_prev - hh)`` (the z gate),
    ``dz[2u:] = dh * (1 - z) * (1 - hh^2)`` (the candidate's pre-activation), ``dh = dh * z``."""
    u = z.shape[0]
    xp.subtract(h_prev, hh, out=dz[:u])
    dz[:u] *= dh
    dah, t = dz[2 * u:], tmp[:u]
    xp.multiply(hh, hh, out=dah)
    xp.subtract(1, dah, out=dah)
    xp.subtract(1, z, out=t)
    dah *= t
    dah *= dh
    dh *= z


def _regroup(xp, a):
    """(steps, rows, batch) -> (rows, steps * batch): a copy of contiguous batch-long runs, so that a weight
    gradient over every step is one GEMM."""
    return xp.ascontiguousarray(a.transpose(1, 0, 2)).reshape(a.shape[1], -1)


class _Weights:
    """The op's internal copies of the weights, made once per call (see the module docstring): ``uk_f``
    (G*u, u) and ``k_f`` (G*u, input_dim [+ 1 for the bias]) for the forward GEMMs, transposed, gate blocks in
    the cell's ``order``, sigmoid rows halved; ``uk_b`` (u, G*u) and ``k_b`` (input_dim, G*u), reordered only,
    for the gradients' GEMMs; ``rb`` the recurrent bias (G*u,) as ``uk_f``'s rows, or None."""

    def __init__(self, xp, kind, kernel, u_kernel, bias, rec_bias):
        u, self.order = u_kernel.shape[0], kind.order
        self.scale = xp.ones(kind.gates * u, kernel.dtype)
        self.scale[:kind.sigmoids * u] = 0.5
        self.uk_b, self.k_b = self.reorder(xp, u_kernel, u), self.reorder(xp, kernel, u)
        self.uk_f = xp.ascontiguousarray((self.uk_b * self.scale).T)
        k = self.k_b if bias is None else xp.concatenate([self.k_b, self.reorder(xp, bias, u)[None]])
        self.k_f = xp.ascontiguousarray((k * self.scale).T)
        self.rb = None if rec_bias is None else self.reorder(xp, rec_bias, u) * self.scale

    def reorder(self, xp, w, u, inverse=False):
        """``w`` (..., G*u) with its gate blocks in the internal order (or back to Keras's with ``inverse``)."""
        order = [self.order.index(k) for k in range(len(self.order))] if inverse else self.order
        return xp.concatenate([w[..., k * u:(k + 1) * u] for k in order], axis=-1)


class _Cell:
    """Buffers and per-step forward/backward of one cell over ``steps`` steps of ``batch`` columns.

    ``x`` (steps, input_dim [+ 1], batch): the chunk's inputs, transposed (a row of ones for the bias).
    ``a`` (steps, G*u, batch): the projected inputs (sigmoid rows halved), activated in place by
    :meth:`forward`. ``hs`` (n_states, steps + 1, units, batch): the states (h, and c for LSTM) after every
    step, step 0 the initial ones, each state of each step contiguous. Class attributes: ``gates``;
    ``order``, the Keras gate blocks in internal order; ``sigmoids``, how many internal blocks, first, are
    sigmoid gates.
    """

    gates, n_states, order, sigmoids = 1, 1, (0,), 0

    def __init__(self, xp, w, x):
        self.xp, self.w, self.x = xp, w, x
        self.steps, _, self.batch = x.shape
        self.units = u = w.uk_b.shape[0]
        self.a = xp.matmul(w.k_f, x, out=xp.empty((self.steps, self.gates * u, self.batch), x.dtype))
        self.hs = xp.empty((self.n_states, self.steps + 1, u, self.batch), x.dtype)
        self.tmp = xp.empty((self.gates * u, self.batch), x.dtype)

    def h(self, s):
        return self.hs[0, s]

    def weight_grads(self, dz):
        """This chunk's part of the gradients of the recurrent kernel (G*u, u), of the kernel with the bias as its
        last column (G*u, input_dim [+ 1]), both transposed, rows in the internal gate order, and of the recurrent
        bias (G*u,) or None, from every step's pre-activation gradients ``dz`` (steps, G*u, batch):
        ``dz @ h_prev^T`` and ``dz @ x^T``, each one GEMM over all steps."""
        d = _regroup(self.xp, dz)
        return d @ _regroup(self.xp, self.hs[0, :-1]).T, d @ _regroup(self.xp, self.x).T, None


class _SimpleRNN(_Cell):
    """``h = tanh(p + U^T h_prev)``."""

    def forward(self, s):
        xp, a = self.xp, self.a[s]
        xp.matmul(self.w.uk_f, self.h(s), out=self.tmp)
        a += self.tmp
        xp.tanh(a, out=self.hs[0, s + 1])

    def backward(self, s, d, dz):
        xp, h, dh = self.xp, self.hs[0, s + 1], d[0]
        xp.multiply(h, h, out=dz)
        xp.subtract(1, dz, out=dz)
        dz *= dh
        xp.matmul(self.w.uk_b, dz, out=dh)


class _LSTM(_Cell):
    """Gates i, f, c, o (internally i, f, o, c): ``c = f*c_prev + i*tanh(z_c)``, ``h = o*tanh(c)``;
    states packed [h, c]."""

    gates, n_states, order, sigmoids = 4, 2, (0, 1, 3, 2), 3

    def __init__(self, xp, w, x):
        super().__init__(xp, w, x)
        self.tanh_c = xp.empty((self.steps, self.units, self.batch), x.dtype)
        self.t = xp.empty((self.units, self.batch), x.dtype)

    def forward(self, s):
        xp, u, a = self.xp, self.units, self.a[s]
        xp.matmul(self.w.uk_f, self.h(s), out=self.tmp)
        a += self.tmp
        xp.tanh(a, out=a)  # one tanh over all four gates: [i, f, o] hold z/2 (see _sigmoid_halved)
        a[:3 * u] *= 0.5
        a[:3 * u] += 0.5
        i, f, o, g = a[:u], a[u:2 * u], a[2 * u:3 * u], a[3 * u:]
        c_prev, c, t = self.hs[1, s], self.hs[1, s + 1], self.t
        xp.multiply(f, c_prev, out=c)
        xp.multiply(i, g, out=t)
        c += t
        xp.tanh(c, out=self.tanh_c[s])
        xp.multiply(o, self.tanh_c[s], out=self.hs[0, s + 1])

    def backward(self, s, d, dz):
        xp, u, a, tc, tmp = self.xp, self.units, self.a[s], self.tanh_c[s], self.tmp
        i, f, o, g = a[:u], a[u:2 * u], a[2 * u:3 * u], a[3 * u:]
        dh, dc, t = d[0], d[1], self.t
        # dc += dh * o * (1 - tanh(c)^2)
        xp.multiply(tc, tc, out=t)
        xp.subtract(1, t, out=t)
        t *= o
        t *= dh
        dc += t
        # pre-activation gradients: every gate's value times its derivative
        xp.multiply(dc, g, out=dz[:u])  # di
        xp.multiply(dc, self.hs[1, s], out=dz[u:2 * u])  # df
        xp.multiply(dh, tc, out=dz[2 * u:3 * u])  # do
        xp.multiply(dc, i, out=dz[3 * u:])  # dg
        # the activations' derivatives: s * (1 - s) over the sigmoid gates, 1 - g^2 over the candidate
        xp.subtract(1, a[:3 * u], out=tmp[:3 * u])
        tmp[:3 * u] *= a[:3 * u]
        xp.multiply(g, g, out=t)
        xp.subtract(1, t, out=tmp[3 * u:])
        dz *= tmp
        dc *= f  # dc_prev
        xp.matmul(self.w.uk_b, dz, out=dh)  # dh_prev


class _GRU(_Cell):
    """reset_after=True: ``r_all = U^T h_prev + b_rec``; ``z, r = sigmoid(p_zr + r_all_zr)``;
    ``hh = tanh(p_h + r * r_all_h)``; ``h = z*h_prev + (1-z)*hh``."""

    gates, order, sigmoids = 3, (0, 1, 2), 2

    def __init__(self, xp, w, x):
        super().__init__(xp, w, x)
        self.rec = xp.empty(self.a.shape, x.dtype)  # r_all of every step
        self.drec = xp.empty(self.a.shape, x.dtype)  # its gradient
        self.rb = None if w.rb is None else xp.ascontiguousarray(xp.broadcast_to(w.rb[:, None], self.tmp.shape))
        self.dh = xp.empty((self.units, self.batch), x.dtype)

    def forward(self, s):
        xp, u, a, rec, tmp = self.xp, self.units, self.a[s], self.rec[s], self.tmp
        xp.matmul(self.w.uk_f, self.h(s), out=rec)
        if self.rb is not None:
            rec += self.rb
        a[:2 * u] += rec[:2 * u]
        _sigmoid_halved(xp, a[:2 * u])
        hh = a[2 * u:]
        xp.multiply(a[u:2 * u], rec[2 * u:], out=tmp[:u])
        hh += tmp[:u]
        xp.tanh(hh, out=hh)
        _blend(xp, a[:u], self.h(s), hh, self.hs[0, s + 1], tmp[:u])

    def backward(self, s, d, dz):
        xp, u, a, dh, drec = self.xp, self.units, self.a[s], d[0], self.drec[s]
        _blend_backward(xp, a[:u], self.h(s), a[2 * u:], dh, dz, self.tmp)
        xp.multiply(dz[2 * u:], a[u:2 * u], out=drec[2 * u:])  # d(r_all_h)
        xp.multiply(dz[2 * u:], self.rec[s][2 * u:], out=dz[u:2 * u])  # dr
        _sigmoid_backward(xp, a[:2 * u], dz[:2 * u], self.tmp[:2 * u])
        drec[:2 * u] = dz[:2 * u]
        xp.matmul(self.w.uk_b, drec, out=self.dh)
        dh += self.dh

    def weight_grads(self, dz):
        drec = _regroup(self.xp, self.drec)
        duk = drec @ _regroup(self.xp, self.hs[0, :-1]).T
        return duk, _regroup(self.xp, dz) @ _regroup(self.xp, self.x).T, \
            (drec.sum(axis=1) if self.rb is not None else None)


class _GRUResetBefore(_Cell):
    """reset_after=False: ``z, r = sigmoid(p_zr + U_zr^T h_prev)``; ``hh = tanh(p_h + U_h^T (r*h_prev))``."""

    gates, order, sigmoids = 3, (0, 1, 2), 2

    def __init__(self, xp, w, x):
        super().__init__(xp, w, x)
        u = self.units
        self.uzr_f, self.uh_f = w.uk_f[:2 * u], w.uk_f[2 * u:]  # row blocks: contiguous
        self.uzr_b, self.uh_b = xp.ascontiguousarray(w.uk_b[:, :2 * u]), xp.ascontiguousarray(w.uk_b[:, 2 * u:])
        self.rh = xp.empty((self.steps, u, self.batch), x.dtype)  # r * h_prev of every step
        self.dh = xp.empty((u, self.batch), x.dtype)

    def forward(self, s):
        xp, u, a, tmp = self.xp, self.units, self.a[s], self.tmp
        h_prev = self.h(s)
        xp.matmul(self.uzr_f, h_prev, out=tmp[:2 * u])
        a[:2 * u] += tmp[:2 * u]
        _sigmoid_halved(xp, a[:2 * u])
        xp.multiply(a[u:2 * u], h_prev, out=self.rh[s])
        hh = a[2 * u:]
        xp.matmul(self.uh_f, self.rh[s], out=tmp[:u])
        hh += tmp[:u]
        xp.tanh(hh, out=hh)
        _blend(xp, a[:u], h_prev, hh, self.hs[0, s + 1], tmp[:u])

    def backward(self, s, d, dz):
        xp, u, a, dh, drh = self.xp, self.units, self.a[s], d[0], self.dh
        h_prev = self.h(s)
        _blend_backward(xp, a[:u], h_prev, a[2 * u:], dh, dz, self.tmp)
        xp.matmul(self.uh_b, dz[2 * u:], out=drh)  # d(r * h_prev)
        xp.multiply(drh, h_prev, out=dz[u:2 * u])  # dr
        drh *= a[u:2 * u]
        dh += drh
        _sigmoid_backward(xp, a[:2 * u], dz[:2 * u], self.tmp[:2 * u])
        xp.matmul(self.uzr_b, dz[:2 * u], out=drh)
        dh += drh

    def weight_grads(self, dz):
        xp, u = self.xp, self.units
        d = _regroup(xp, dz)
        duk = xp.concatenate([d[:2 * u] @ _regroup(xp, self.hs[0, :-1]).T, d[2 * u:] @ _regroup(xp, self.rh).T])
        return duk, d @ _regroup(xp, self.x).T, None


_ROWS = 64  # batch rows per chunk of the recurrence at most (see _by_rows)


def _by_rows(be, fn, batch):
    """``[fn(b0, b1), ...]`` over the chunks ``[b0, b1)`` of the batch, in chunk order
    (:meth:`Backend.map_batch_chunks`). The rows of a batch are independent recurrences, so on the CPU the
    batch is cut into chunks of at most ``_ROWS`` rows (fixed by the batch size alone, so the results do not
    depend on the thread count) and each chunk runs all its steps on one of the backend's threads, BLAS on
    one thread. The per-step GEMMs are small and back to back: BLAS's own threads busy-wait between them and
    made a step 5-20x slower on a loaded 2-core machine; two chunks of 64 rows on two cores took an
    LSTM(128) step (batch 128, 28 steps) from 36 to about 25 ms. On CuPy one chunk."""
    return be.map_batch_chunks(fn, batch, _ROWS)


CELLS = {"simple_rnn": _SimpleRNN, "lstm": _LSTM, "gru": _GRU, "gru_reset_before": _GRUResetBefore}
CELL_NAMES = {k: k.__name__.strip("_") for k in CELLS.values()}


def recurrent_sequence(cell, inputs, kernel, recurrent_kernel, initial_states, bias=None, recurrent_bias=None,
                       mask=None, return_sequences=True):
    """All time steps of a built-in recurrent cell (tanh activation, sigmoid gates) as one op.

    Args:
        cell: ``"simple_rnn"``, ``"lstm"``, ``"gru"`` (reset_after=True) or ``"gru_reset_before"``.
        inputs: (timesteps, batch, input_dim) float tensor, time-major, in processing order.
        kernel: (input_dim, gates * units) (gates: 1, 4, 3), Keras's gate order.
        recurrent_kernel: (units, gates * units).
        initial_states: list of (batch, units) tensors: ``[h]``, or ``[h, c]`` for LSTM.
        bias: the input bias (gates * units,) (GRU reset_after: Keras's ``bias[0]``), or None.
        recurrent_bias: (gates * units,) for ``"gru"`` (Keras's ``bias[1]``), else None.
        mask: optional (timesteps, batch) bool array or tensor (not differentiated): a False step
            keeps the previous states.
        return_sequences: False to return the final states only (no copy of every step's states
            out, and backward reads no per-step gradients).

    Returns:
        (n_states, timesteps, units, batch) tensor -- batch last, the op's internal layout -- of the
        states after every step: ``[h]``, or ``[h, c]`` for LSTM; ``[:, -1]`` are the final states
        (transposed). With ``return_sequences=False``, (n_states, units, batch): the final states.

    Raises:
        ValueError: an unknown ``cell``, or shapes that do not fit together.
        TypeError: inputs of different dtypes.
    """
    if cell not in CELLS:
        raise ValueError(f"recurrent_sequence: Expected cell to be one of {sorted(CELLS)}. Received: cell={cell!r}")
    kind = CELLS[cell]
    x = convert_to_tensor(inputs)
    k, uk = (convert_to_tensor(w, dtype=x.dtype) for w in (kernel, recurrent_kernel))
    states = [convert_to_tensor(s, dtype=x.dtype) for s in initial_states]
    b, rb = (None if v is None else convert_to_tensor(v, dtype=x.dtype) for v in (bias, recurrent_bias))
    units = uk.shape[0] if uk.ndim == 2 else None
    gu = None if units is None else kind.gates * units
    if x.ndim != 3 or x.shape[0] == 0 or units is None or tuple(uk.shape) != (units, gu) or \
            tuple(k.shape) != (x.shape[-1], gu):
        raise ValueError(f"recurrent_sequence ({cell}): Expected inputs (timesteps > 0, batch, input_dim), kernel "
                         f"(input_dim, {kind.gates}*units) and recurrent_kernel (units, {kind.gates}*units). Received: "
                         f"inputs.shape={tuple(x.shape)}, kernel.shape={tuple(k.shape)}, "
                         f"recurrent_kernel.shape={tuple(uk.shape)}")
    steps, batch, features = x.shape
    if len(states) != kind.n_states or any(tuple(s.shape) != (batch, units) for s in states):
        raise ValueError(f"recurrent_sequence ({cell}): Expected {kind.n_states} initial state(s) of shape "
                         f"{(batch, units)}. Received: shapes={[tuple(s.shape) for s in states]}")
    if b is not None and tuple(b.shape) != (gu,):
        raise ValueError(f"recurrent_sequence ({cell}): Expected bias of shape {(gu,)}. "
                         f"Received: bias.shape={tuple(b.shape)}")
    if (rb is not None and cell != "gru") or (rb is not None and tuple(rb.shape) != (gu,)):
        raise ValueError(f"recurrent_sequence ({cell}): Expected recurrent_bias of shape {(gu,)} for 'gru' "
                         f"only. Received: recurrent_bias.shape={None if rb is None else tuple(rb.shape)}")
    biases = tuple(v for v in (b, rb) if v is not None)
    check_same_device("recurrent_sequence", x, k, uk, *states, *biases)
    be = x._backend
    xp = be.xp
    m = None
    if mask is not None:
        m = convert_to_tensor(mask)._data.astype(bool, copy=False)
        if tuple(m.shape) != (steps, batch):
            raise ValueError(f"recurrent_sequence: Expected mask of shape (timesteps, batch)={(steps, batch)}. "
                             f"Received: mask.shape={tuple(m.shape)}")
    w = _Weights(xp, kind, k._data, uk._data, None if b is None else b._data, None if rb is None else rb._data)
    out = xp.empty((kind.n_states,) + ((steps,) if return_sequences else ()) + (units, batch), x._data.dtype)
    cells = {}  # first column of a chunk -> its cell

    def forward(b0, b1):
        xt = xp.empty((steps, w.k_f.shape[1], b1 - b0), out.dtype)
        xt[:, :features] = x._data[:, b0:b1].transpose(0, 2, 1)
        xt[:, features:] = 1  # the bias's row of ones, if any
        c = cells[b0] = kind(xp, w, xt)
        for j, s0 in enumerate(states):
            c.hs[j, 0] = s0._data[b0:b1].T
        for s in range(steps):
            c.forward(s)
            if m is not None:
                xp.copyto(c.hs[:, s + 1], c.hs[:, s], where=~m[s, b0:b1])
        out[..., b0:b1] = c.hs[:, 1:] if return_sequences else c.hs[:, -1]
    _by_rows(be, forward, batch)
    inputs_ = (x, k, uk, *states) + biases
    name = CELL_NAMES[kind]

    def vjp(g, needs):
        gd = g._data
        dx = xp.empty(x.shape, gd.dtype) if needs[0] else None
        dstates = xp.empty((kind.n_states, batch, units), gd.dtype)

        def backward(b0, b1):
            c = cells[b0]
            # the gradient of the states after step s
            d = xp.zeros((kind.n_states, units, b1 - b0), gd.dtype) if return_sequences else gd[..., b0:b1].copy()
            dz = xp.empty(c.a.shape, gd.dtype)
            keep = xp.empty_like(d) if m is not None else None
            for s in range(steps - 1, -1, -1):
                if return_sequences:
                    d += gd[:, s, :, b0:b1]
                if m is not None:  # a masked step passes its states' gradient through unchanged
                    xp.multiply(d, ~m[s, b0:b1], out=keep)
                    d *= m[s, b0:b1]
                c.backward(s, d, dz[s])
                if m is not None:
                    d += keep
            dstates[:, b0:b1] = d.transpose(0, 2, 1)
            if dx is not None:
                dx[:, b0:b1] = xp.matmul(w.k_b, dz).transpose(0, 2, 1)
            return c.weight_grads(dz)
        parts = _by_rows(be, backward, batch)
        # the partials' sum; NumPy's matmul of 16-bit floats (ml_dtypes) gives float32
        duk, dk, drb = (None if p[0] is None else sum(p[1:], p[0]).astype(gd.dtype, copy=False) for p in zip(*parts))
        dk = w.reorder(xp, dk.T, units, inverse=True)  # (input_dim [+ 1], G*u)
        grads = [dx, dk[:features], w.reorder(xp, duk.T, units, inverse=True)] + list(dstates) + \
            ([dk[features]] if b is not None else []) + \
            ([w.reorder(xp, drb, units, inverse=True)] if rb is not None else [])
        return tuple(make_gradient_op(f"{name}SequenceGrad", (g,) + inputs_, a) if need else None
                     for a, need in zip(grads, needs))
    return make_op(f"{name}Sequence", inputs_, out, vjp)
