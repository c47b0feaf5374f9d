"""A model's inference batches in a helper process of the NumPy backend (:mod:`gpuflow.backend.cpu_workers`).

``predict`` on the CPU may run two batches at once (:meth:`gpuflow.backend.numpy_backend.NumpyBackend.map_batches`).
On two threads of one process the batches' many short NumPy calls keep waiting for each other's GIL, so where the
backend's helper processes run, the second batch of a pair goes to one of them instead: it rebuilds the model from
its JSON config (``model_from_json``: built-in layers only, never code from this process) with this call's weights
(copied once per ``predict`` call through the helper's shared-memory arena), runs the batch, and copies the
outputs back through the arena. Measured on the 2-core Zen 4, the seed CNN's predict at batch 32: 0.37 s for
10,000 images against 0.55-0.71 s on two threads (a throwaway prototype; see benchmarks/README.md).

The helper computes with the same code, chunks and one BLAS thread, so the outputs are the same bytes as this
process's; the first batch a helper computes for a model config is also computed here and compared, and a config
whose outputs differ (or that a helper cannot rebuild) stays on threads from then on.
"""
from __future__ import annotations

import itertools
import threading

import numpy as np

from .. import nest as _nest

__all__ = ["RemoteForward", "serve"]

_tokens = itertools.count(1)
_checked = {}  # model config (JSON) -> True: a helper's outputs matched this process's; False: they did not
_lock = threading.Lock()


class RemoteRefused(RuntimeError):
    """A helper reported an error for a forward request (the caller computes the batch itself)."""


class RemoteForward:
    """The helper side of one ``predict`` call's pairs: ``fn(batch)`` (this process's predict step) for a batch
    ``(x, ...)`` whose ``x`` is one array, computed in a helper process.

    Args:
        model: a model :func:`gpuflow.keras.models._pairable_backend` accepts.
        fn: the predict step, ``fn(batch) -> outputs``, for the byte check.
    """

    Refused = RemoteRefused

    def __init__(self, model, fn):
        self.model, self.fn = model, fn
        self._spec = None  # the JSON config, made when a helper is first free (0.2 ms for the seed CNN)
        self.token = next(_tokens)
        self._weights = None  # read at the first shipment of this call
        self._shipped = set()  # id() of the helpers that hold this call's model and weights
        self.slow = False  # whether the last batch received was slow for a reason of its own (not to be timed)

    @property
    def spec(self):
        """The model's JSON config; False for a model that has none (a layer's argument JSON cannot hold)."""
        if self._spec is None:
            try:
                self._spec = self.model.to_json()
            except Exception:  # noqa: BLE001 - such a model stays on threads
                self._spec = False
        return self._spec

    @property
    def usable(self):
        """False for a model without a JSON config, or a config whose helper outputs differed from this process's
        or that a helper could not rebuild (a function it cannot import)."""
        return self.spec is not False and _checked.get(self.spec) is not False

    def send(self, helper, batch):
        """Sends ``batch``'s inputs (and, the first time in this call for this helper, the model and its weights)
        to a locked helper: True, or False (nothing sent) for a batch whose ``x`` is not one float array. Raises
        OSError if the helper is gone."""
        x = batch[0] if isinstance(batch, tuple) else batch
        if not (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
            return False
        ship = id(helper) not in self._shipped
        if ship and self._weights is None:
            self._weights = [np.ascontiguousarray(w) for w in self.model.get_weights()]
        arena = helper.arena
        arena.reset()
        weights = [arena.put(w) for w in self._weights] if ship else None
        x_ref = arena.put(np.ascontiguousarray(x))
        helper.send(("forward", self.token, self.spec if ship else None, weights, x_ref, arena.size, arena.top))
        self._shipped.add(id(helper))
        return True

    def receive(self, helper, batch, like):
        """The outputs of the batch sent, in the structure of ``like`` (another batch's outputs here), as arrays.
        The first time for this config, also computed here and compared byte for byte: this process's are
        returned, and the config marked (un)usable. Raises :class:`RemoteRefused` for an error the helper
        reported (the caller then computes the batch here, which raises the error, if it was the batch's, in
        its place); OSError / EOFError if the helper is gone. Sets :attr:`slow` when the helper had to rebuild the
        model or the batch was also computed here."""
        reply = helper.receive()
        if reply[0] != "done":
            self._shipped.discard(id(helper))
            if reply[0] == "refused":  # the helper cannot rebuild this config: threads for it from now on
                with _lock:
                    _checked[self.spec] = False
            raise RemoteRefused(reply[1])
        _, size, refs, self.slow = reply
        helper.arena.map(size)
        arrays = [helper.arena.view(r).copy() for r in refs]  # before the helper is released
        flat = _nest.flatten(like)
        if len(arrays) != len(flat):  # the config did not rebuild the same model: threads for it from now on
            with _lock:
                _checked[self.spec] = False
            raise RemoteRefused(f"the helper's model gave {len(arrays)} outputs, this one {len(flat)}")
        outputs = _nest.pack_sequence_as(like, arrays) if _nest.is_nested(like) else arrays[0]
        if self.spec not in _checked:
            self.slow = True
            local = self.fn(batch)
            here = [np.asarray(_host(a)) for a in _nest.flatten(local)]
            same = all(a.shape == b.shape and a.tobytes() == b.tobytes() for a, b in zip(here, arrays))
            with _lock:
                _checked[self.spec] = same
            return local
        return outputs


def _host(t):
    return t.numpy() if hasattr(t, "numpy") else t


# -- in the helper process ---------------------------------------------------------------------------
_models = {}  # config JSON -> the model rebuilt from it (the newest few)
_current = [None, None]  # the token of the predict call whose weights the helper holds, and its model
_MAX_MODELS = 4


def serve(arena, request):
    """A helper's answer to a ``("forward", token, spec | None, weight Refs | None, x Ref, arena size, top)``
    request: ``("done", arena size, output Refs, built)``, the outputs of ``model(x, training=False)`` copied into
    the arena after ``top``; ``built``: the model was rebuilt for this request. ``spec`` (a model's JSON config)
    and the weights come with a call's first request; ``("refused", message)`` if they cannot make a model (an
    error of the batch itself raises, for the helper loop to report)."""
    from .models import model_from_json  # noqa: PLC0415 - in the helper only
    _, token, spec, weights, x_ref, size, top = request
    arena.map(size)
    built = False
    if spec is not None:
        try:
            model = _models.get(spec)
            if model is None:
                built = True
                model = model_from_json(spec)
                if len(_models) >= _MAX_MODELS:
                    _models.pop(next(iter(_models)))
                _models[spec] = model
            model.set_weights([arena.view(r) for r in weights])
        except Exception as e:  # noqa: BLE001 - not this batch's fault: the parent keeps this model on threads
            _current[:] = [None, None]
            return "refused", f"{type(e).__name__}: {e}"
        _current[:] = [token, model]
    elif _current[0] != token:
        raise RuntimeError("no model was sent for this predict call")
    out = _current[1](arena.view(x_ref), training=False)
    flat = [np.ascontiguousarray(_host(o)) for o in _nest.flatten(out)]
    arena.reset(top)
    refs = [arena.put(a) for a in flat]
    return "done", arena.size, refs, built
