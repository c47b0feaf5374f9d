"""Fused recurrent sequences: SimpleRNN, LSTM and GRU over all time steps as one op.

:func:`recurrent_sequence` runs the recurrence of a built-in cell (Keras 3's equations and gate
order, see :mod:`gpuflow.keras.layers.rnn`) over every step of an already projected input
``p[t] = x_t @ kernel + input bias``, and its gradient does backpropagation through time.
Forward and backward of each cell are written once, side by side, in ``_SimpleRNN``, ``_LSTM``,
``_GRU`` and ``_GRUResetBefore``; all array work goes through the backend's ``xp`` (NumPy or
CuPy), on buffers allocated once per call:

* forward, per step: the recurrent GEMM into a preallocated buffer (``out=``), the gate
  activations in place (the sigmoid as ``0.5 + 0.5 * tanh(z / 2)``, so that an LSTM's four gates
  take one tanh; within about 6e-8 of ``math_ops.sigmoid``, which the per-step path uses), the
  new state written into the step's row of the state buffer;
  what backward needs (activated gates, states, ``tanh(c)``) stays in those buffers, no copies.
* backward, per step: elementwise gate gradients into one buffer of every step's pre-activation
  gradients (which is also the gradient of ``p``) and one GEMM for the state gradient; after the
  loop ONE GEMM over all steps and the whole batch for the recurrent kernel's gradient
  (``h_prev^T @ dz``, see ``_at_b``).

With a mask, a masked step keeps the previous states (Keras), done by one ``copyto(where=)`` on
the step's states; its gradient passes the state gradient through unchanged. On the CPU the batch
runs in chunks of rows, each chunk's whole recurrence (forward, then backward) on one of the
backend's threads with BLAS on one thread (see ``_by_rows``), then the weight gradients' GEMM in
chunks of the kernel's rows; the chunks depend on the shapes alone, so the results do not depend on
the thread count.

The gradient ops are recorded as ops with no derivative of their own (as the fused conv and dense
ops are): a second derivative through this op raises ``NotImplementedError``. The Keras layers use
the per-step path of differentiable ops when a second derivative may be taken (nested tapes).
"""
from __future__ import annotations

from .core import check_same_device, convert_to_tensor, make_gradient_op, make_op

__all__ = ["recurrent_sequence", "CELLS"]


def _sigmoid(xp, z, out):
    """``out = sigmoid(z) = 0.5 + 0.5 * tanh(z / 2)``, halving ``z`` in place (exactly: a power of two).

    Four NumPy calls instead of ``math_ops.sigmoid``'s seven (``exp(-|z|)`` then a select and a division;
    measured, forward and backward took 0.95x the time for an LSTM, with one tanh over all its gates, and
    0.93x for a GRU). Within
    about 6e-8 of the exact value (absolute: a very negative ``z`` may give 0 instead of a tiny number)."""
    z *= 0.5
    xp.tanh(z, out=out)
    out *= 0.5
    out += 0.5


class _Cell:
    """Buffers and per-step forward/backward of one cell over ``steps`` steps of ``batch`` rows.

    ``hs`` (n_states, steps + 1, batch, units) holds the states (h, and c for LSTM) after every step,
    step 0 the initial ones, each state of each step contiguous: NumPy's ``matmul`` with ``out=`` leaves
    BLAS for a slow loop when an input is a strided view. ``dz`` (steps, batch, gates * units) holds
    the pre-activation gradients; ``d`` (n_states, batch, units) the gradients of a step's states.
    ``bufs``: this chunk's rows of the whole-batch arrays of :meth:`buffers`.
    """

    gates = 1
    n_states = 1

    def __init__(self, xp, p, u_kernel, bias, bufs):
        self.xp, self.p, self.uk, self.bias, self.bufs = xp, p, u_kernel, bias, bufs
        self.uk_t = xp.ascontiguousarray(u_kernel.T)  # for the state gradient's GEMMs: 20% faster than a .T view
        self.steps, self.batch, _ = p.shape
        self.units = u_kernel.shape[0]
        shape = (self.batch, self.gates * self.units)
        self.z = xp.empty(shape, p.dtype)
        self.tmp = xp.empty(shape, p.dtype)

    def h(self, s):
        return self.hs[0, s]

    @staticmethod
    def buffers(xp, steps, batch, units, dtype):
        """The whole-batch per-step arrays, by name, that :meth:`weight_grads` reads besides the states and
        ``dz`` (each chunk's cell fills its rows), so that the weight gradients are GEMMs over the whole batch."""
        return {}

    @staticmethod
    def weight_grads(be, hs, dz, bufs, bias):
        """``(d recurrent_kernel, d recurrent_bias or None)`` over the whole batch from the states ``hs`` and
        every step's pre-activation gradients ``dz`` (steps, batch, gates * units): ``h_prev^T @ dz``."""
        return _at_b(be, hs[0, :-1].reshape(-1, hs.shape[-1]), dz.reshape(-1, dz.shape[-1])), None


class _SimpleRNN(_Cell):
    """``h = tanh(p + h_prev @ U)``."""

    def forward(self, s):
        xp, z = self.xp, self.z
        xp.matmul(self.h(s), self.uk, out=z)
        z += self.p[s]
        xp.tanh(z, out=self.hs[0, s + 1])

    def backward(self, s, d, dz):
        xp, h, dh = self.xp, self.hs[0, s + 1], d[0]
        xp.multiply(h, h, out=dz)
        xp.subtract(1, dz, out=dz)
        dz *= dh
        xp.matmul(dz, self.uk_t, out=dh)


class _LSTM(_Cell):
    """Gates i, f, c, o: ``c = f*c_prev + i*tanh(z_c)``, ``h = o*tanh(c)``; states packed [h, c]."""

    gates, n_states = 4, 2

    def __init__(self, xp, p, u_kernel, bias, bufs):
        super().__init__(xp, p, u_kernel, bias, bufs)
        self.acts = xp.empty(p.shape, p.dtype)  # activated gates [i, f, tanh(z_c), o] of every step
        self.tanh_c = xp.empty(p.shape[:2] + (self.units,), p.dtype)
        self.t = xp.empty((self.batch, self.units), p.dtype)  # contiguous scratch: ops on column blocks are slower
        u = self.units
        self.scale = xp.full(4 * u, 0.5, p.dtype)  # _sigmoid's formula on i, f, o; tanh on c
        self.scale[2 * u:3 * u] = 1
        self.shift = xp.full(4 * u, 0.5, p.dtype)
        self.shift[2 * u:3 * u] = 0

    def forward(self, s):
        xp, z, u, a = self.xp, self.z, self.units, self.acts[s]
        xp.matmul(self.h(s), self.uk, out=z)
        z += self.p[s]
        z *= self.scale  # one tanh over all four gates (the scalings by 0.5 are exact)
        xp.tanh(z, out=a)
        a *= self.scale
        a += self.shift
        c_prev, c, tmp = self.hs[1, s], self.hs[1, s + 1], self.t
        xp.multiply(a[:, u:2 * u], c_prev, out=c)
        xp.multiply(a[:, :u], a[:, 2 * u:3 * u], out=tmp)
        c += tmp
        xp.tanh(c, out=self.tanh_c[s])
        xp.multiply(a[:, 3 * u:], self.tanh_c[s], out=self.hs[0, s + 1])

    def backward(self, s, d, dz):
        xp, u, a, tc = self.xp, self.units, self.acts[s], self.tanh_c[s]
        i, f, g, o = a[:, :u], a[:, u:2 * u], a[:, 2 * u:3 * u], a[:, 3 * u:]
        dh, dc, t = d[0], d[1], self.t
        # dc += dh * o * (1 - tanh(c)^2)
        xp.multiply(tc, tc, out=t)
        xp.subtract(1, t, out=t)
        t *= o
        t *= dh
        dc += t
        # pre-activation gradients: every gate's value times its derivative
        xp.multiply(dh, tc, out=dz[:, 3 * u:])  # do
        xp.multiply(dc, g, out=dz[:, :u])  # di
        xp.multiply(dc, self.hs[1, s], out=dz[:, u:2 * u])  # df
        xp.multiply(dc, i, out=dz[:, 2 * u:3 * u])  # dg
        # the activations' derivatives: s * (1 - s) over all gates, then 1 - g^2 over the candidate's block
        xp.subtract(1, a, out=self.tmp)
        self.tmp *= a
        xp.multiply(g, g, out=t)
        xp.subtract(1, t, out=self.tmp[:, 2 * u:3 * u])
        dz *= self.tmp
        dc *= f  # dc_prev
        xp.matmul(dz, self.uk_t, out=dh)  # dh_prev


class _GRU(_Cell):
    """reset_after=True: ``r_all = h_prev @ U + b_rec``; ``z, r = sigmoid(p_zr + r_all_zr)``;
    ``hh = tanh(p_h + r * r_all_h)``; ``h = z*h_prev + (1-z)*hh``."""

    gates = 3

    def __init__(self, xp, p, u_kernel, bias, bufs):
        super().__init__(xp, p, u_kernel, bias, bufs)
        self.acts = xp.empty(p.shape, p.dtype)  # [z, r, hh] of every step
        self.rec = xp.empty(p.shape, p.dtype)  # h_prev @ U + b_rec of every step
        self.dh = xp.empty((self.batch, self.units), p.dtype)

    @staticmethod
    def buffers(xp, steps, batch, units, dtype):
        return {"drec": xp.empty((steps, batch, 3 * units), dtype)}  # gradient of r_all at every step

    def forward(self, s):
        xp, u, a, rec, tmp = self.xp, self.units, self.acts[s], self.rec[s], self.tmp
        xp.matmul(self.h(s), self.uk, out=rec)
        if self.bias is not None:
            rec += self.bias
        xp.add(self.p[s][:, :2 * u], rec[:, :2 * u], out=self.z[:, :2 * u])
        _sigmoid(xp, self.z[:, :2 * u], a[:, :2 * u])
        hh = a[:, 2 * u:]
        xp.multiply(a[:, u:2 * u], rec[:, 2 * u:], out=hh)
        hh += self.p[s][:, 2 * u:]
        xp.tanh(hh, out=hh)
        _blend(xp, a[:, :u], self.h(s), hh, self.hs[0, s + 1], tmp[:, :u])

    def backward(self, s, d, dz):
        xp, u, a, dh = self.xp, self.units, self.acts[s], d[0]
        zg, r, hh, drec = a[:, :u], a[:, u:2 * u], a[:, 2 * u:], self.bufs["drec"][s]
        _blend_backward(xp, zg, self.h(s), hh, dh, dz, self.tmp)
        xp.multiply(dz[:, 2 * u:], r, out=drec[:, 2 * u:])  # d(r_all_h)
        xp.multiply(dz[:, 2 * u:], self.rec[s][:, 2 * u:], out=dz[:, u:2 * u])  # dr
        _sigmoid_backward(xp, a[:, :2 * u], dz[:, :2 * u], self.tmp[:, :2 * u])
        drec[:, :2 * u] = dz[:, :2 * u]
        xp.matmul(drec, self.uk_t, out=self.dh)
        dh += self.dh

    @staticmethod
    def weight_grads(be, hs, dz, bufs, bias):
        u = hs.shape[-1]
        drec = bufs["drec"].reshape(-1, 3 * u)
        return _at_b(be, hs[0, :-1].reshape(-1, u), drec), (drec.sum(axis=0) if bias is not None else None)


class _GRUResetBefore(_Cell):
    """reset_after=False: ``z, r = sigmoid(p_zr + h_prev @ U_zr)``; ``hh = tanh(p_h + (r*h_prev) @ U_h)``."""

    gates = 3

    def __init__(self, xp, p, u_kernel, bias, bufs):
        super().__init__(xp, p, u_kernel, bias, bufs)
        u = self.units
        self.uzr, self.uh = xp.ascontiguousarray(u_kernel[:, :2 * u]), xp.ascontiguousarray(u_kernel[:, 2 * u:])
        self.acts = xp.empty(p.shape, p.dtype)  # [z, r, hh] of every step
        self.rh = bufs["rh"]
        self.zr = xp.empty((self.batch, 2 * u), p.dtype)

    @staticmethod
    def buffers(xp, steps, batch, units, dtype):
        return {"rh": xp.empty((steps, batch, units), dtype)}  # r * h_prev of every step

    def forward(self, s):
        xp, u, a, tmp = self.xp, self.units, self.acts[s], self.tmp
        h_prev = self.h(s)
        xp.matmul(h_prev, self.uzr, out=self.zr)
        self.zr += self.p[s][:, :2 * u]
        _sigmoid(xp, self.zr, a[:, :2 * u])
        xp.multiply(a[:, u:2 * u], h_prev, out=self.rh[s])
        hh = a[:, 2 * u:]
        xp.matmul(self.rh[s], self.uh, out=hh)
        hh += self.p[s][:, 2 * u:]
        xp.tanh(hh, out=hh)
        _blend(xp, a[:, :u], h_prev, hh, self.hs[0, s + 1], tmp[:, :u])

    def backward(self, s, d, dz):
        xp, u, a, dh = self.xp, self.units, self.acts[s], d[0]
        h_prev = self.h(s)
        _blend_backward(xp, a[:, :u], h_prev, a[:, 2 * u:], dh, dz, self.tmp)
        drh = dz[:, 2 * u:] @ self.uh.T  # d(r * h_prev); no out=: the input is a strided view
        xp.multiply(drh, h_prev, out=dz[:, u:2 * u])  # dr
        drh *= a[:, u:2 * u]
        dh += drh
        _sigmoid_backward(xp, a[:, :2 * u], dz[:, :2 * u], self.tmp[:, :2 * u])
        dh += dz[:, :2 * u] @ self.uzr.T

    @staticmethod
    def weight_grads(be, hs, dz, bufs, bias):
        u = hs.shape[-1]
        d2 = dz.reshape(-1, 3 * u)
        duk = be.xp.empty((u, 3 * u), dz.dtype)
        _at_b(be, hs[0, :-1].reshape(-1, u), d2[:, :2 * u], duk[:, :2 * u])
        _at_b(be, bufs["rh"].reshape(-1, u), d2[:, 2 * u:], duk[:, 2 * u:])
        return duk, None


def _blend(xp, z, h_prev, hh, out, tmp):
    """``out = z * h_prev + (1 - z) * hh`` (the GRU update, in the per-step path's order of operations)."""
    xp.multiply(z, h_prev, out=out)
    xp.subtract(1, z, out=tmp)
    tmp *= hh
    out += tmp


def _blend_backward(xp, z, h_prev, hh, dh, dz, tmp):
    """From ``dh`` (the update's output gradient): ``dz[:, :u] = dh * (h_prev - hh)`` (dz gate),
    ``dz[:, 2u:] = dh * (1 - z) * (1 - hh^2)`` (the candidate's pre-activation), ``dh = dh * z``."""
    u = z.shape[1]
    xp.subtract(h_prev, hh, out=dz[:, :u])
    dz[:, :u] *= dh
    dah, t = dz[:, 2 * u:], tmp[:, :u]
    xp.multiply(hh, hh, out=dah)
    xp.subtract(1, dah, out=dah)
    xp.subtract(1, z, out=t)
    dah *= t
    dah *= dh
    dh *= z


def _sigmoid_backward(xp, s, d, tmp):
    """``d *= s * (1 - s)``: the pre-activation gradient of sigmoid gates with values ``s``."""
    xp.subtract(1, s, out=tmp)
    tmp *= s
    d *= tmp


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


def _at_b(be, a, b, out=None):
    """``a.T @ b`` for ``a`` (rows, k) and ``b`` (rows, n), into ``out`` (k, n) when given: a weight gradient over
    every step of the whole batch. On the CPU in chunks of ``_ROWS`` of a's columns (the output's rows), each one
    GEMM over all the rows on one of the backend's threads: no partial sums to add, and ``a`` and ``b`` are the
    whole-batch arrays, reshaped without a copy (a chunk of the batch's rows of them is not: measured, those
    copies took a tenth of an LSTM's backward pass)."""
    xp = be.xp
    if out is None:
        out = xp.empty((a.shape[1], b.shape[1]), xp.result_type(a, b))
    be.map_batch_chunks(lambda k0, k1: xp.matmul(a[:, k0:k1].T, b, out=out[k0:k1]), a.shape[1], _ROWS)
    return out


CELLS = {"simple_rnn": _SimpleRNN, "lstm": _LSTM, "gru": _GRU, "gru_reset_before": _GRUResetBefore}
CELL_NAMES = {k: k.__name__.strip("_") for k in CELLS.values()}


def recurrent_sequence(cell, inputs, recurrent_kernel, initial_states, recurrent_bias=None, mask=None):
    """All time steps of a built-in recurrent cell (tanh activation, sigmoid gates) as one op.

    Args:
        cell: ``"simple_rnn"``, ``"lstm"``, ``"gru"`` (reset_after=True) or ``"gru_reset_before"``.
        inputs: (timesteps, batch, gates * units) float tensor, time-major, in processing order:
            ``x_t @ kernel + input bias`` of every step (gates: 1, 4, 3).
        recurrent_kernel: (units, gates * units).
        initial_states: list of (batch, units) tensors: ``[h]``, or ``[h, c]`` for LSTM.
        recurrent_bias: (gates * units,) for ``"gru"`` (Keras's ``bias[1]``), else None.
        mask: optional (timesteps, batch) bool array or tensor (not differentiated): a False step
            keeps the previous states.

    Returns:
        (n_states, timesteps, batch, units) tensor of the states after every step: ``[h]``, or
        ``[h, c]`` for LSTM; ``[:, -1]`` are the final states.

    Raises:
        ValueError: an unknown ``cell``, or shapes that do not fit together.
        TypeError: inputs of different dtypes.
    """
    if cell not in CELLS:
        raise ValueError(f"recurrent_sequence: Expected cell to be one of {sorted(CELLS)}. Received: cell={cell!r}")
    kind = CELLS[cell]
    p = convert_to_tensor(inputs)
    uk = convert_to_tensor(recurrent_kernel, dtype=p.dtype)
    states = [convert_to_tensor(s, dtype=p.dtype) for s in initial_states]
    bias = None if recurrent_bias is None else convert_to_tensor(recurrent_bias, dtype=p.dtype)
    steps, batch = p.shape[0], p.shape[1]
    units = uk.shape[0] if uk.ndim == 2 else None
    if p.ndim != 3 or units is None or tuple(uk.shape) != (units, kind.gates * units) or \
            p.shape[2] != kind.gates * units or steps == 0:
        raise ValueError(f"recurrent_sequence ({cell}): Expected inputs (timesteps > 0, batch, {kind.gates}*units) and "
                         f"recurrent_kernel (units, {kind.gates}*units). Received: inputs.shape={tuple(p.shape)}, "
                         f"recurrent_kernel.shape={tuple(uk.shape)}")
    if len(states) != kind.n_states or any(tuple(s.shape) != (batch, units) for s in states):
        raise ValueError(f"recurrent_sequence ({cell}): Expected {kind.n_states} initial state(s) of shape "
                         f"{(batch, units)}. Received: shapes={[tuple(s.shape) for s in states]}")
    if (bias is None) != (cell != "gru" or recurrent_bias is None) or \
            (bias is not None and tuple(bias.shape) != (3 * units,)):
        raise ValueError(f"recurrent_sequence ({cell}): Expected recurrent_bias of shape {(3 * units,)} for 'gru' "
                         f"only. Received: recurrent_bias.shape={None if bias is None else tuple(bias.shape)}")
    check_same_device("recurrent_sequence", p, uk, *states, *([bias] if bias is not None else []))
    be = p._backend
    xp = be.xp
    m = None
    if mask is not None:
        m = convert_to_tensor(mask)._data.astype(bool, copy=False)
        if tuple(m.shape) != (steps, batch):
            raise ValueError(f"recurrent_sequence: Expected mask of shape (timesteps, batch)={(steps, batch)}. "
                             f"Received: mask.shape={tuple(m.shape)}")
        m = m[:, :, None]
    hs = xp.empty((kind.n_states, steps + 1, batch, units), p._data.dtype)
    for k, s in enumerate(states):
        hs[k, 0] = s._data
    bufs = kind.buffers(xp, steps, batch, units, hs.dtype)
    cells = {}  # first row of a chunk -> its cell (views of p, hs and bufs)

    def forward(b0, b1):
        c = cells[b0] = kind(xp, p._data[:, b0:b1], uk._data, None if bias is None else bias._data,
                             {k: v[:, b0:b1] for k, v in bufs.items()})
        c.hs = hs[:, :, b0:b1]
        for s in range(steps):
            c.forward(s)
            if m is not None:
                xp.copyto(c.hs[:, s + 1], c.hs[:, s], where=~m[s, b0:b1])
    _by_rows(be, forward, batch)
    inputs_ = (p, uk, *states) + ((bias,) if bias is not None else ())
    name = CELL_NAMES[kind]

    def vjp(g, needs):
        gd = g._data
        dz = xp.empty(p.shape, gd.dtype)
        d = xp.zeros((kind.n_states, batch, units), gd.dtype)  # gradient of the states after step s

        def backward(b0, b1):
            c, dc, dzc = cells[b0], d[:, b0:b1], dz[:, b0:b1]
            keep = xp.empty_like(dc) if m is not None else None
            for s in range(steps - 1, -1, -1):
                dc += gd[:, s, b0:b1]
                if m is not None:  # a masked step passes its states' gradient through unchanged
                    xp.multiply(dc, ~m[s, b0:b1], out=keep)
                    dc *= m[s, b0:b1]
                c.backward(s, dc, dzc[s])
                if m is not None:
                    dc += keep
        _by_rows(be, backward, batch)
        duk, db = kind.weight_grads(be, hs, dz, bufs, bias)
        grads = [dz, duk] + [d[k] for k in range(kind.n_states)] + \
            ([db] if bias is not None else [])
        return tuple(make_gradient_op(f"{name}SequenceGrad", (g,) + inputs_, a) if need else None
                     for a, need in zip(grads, needs))
    return make_op(f"{name}Sequence", inputs_, hs[:, 1:], vjp)
