"""Optimizers (``keras.optimizers``): SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, Ftrl, Lion,
Adafactor and Lamb with Keras 3's update rules and defaults (each class's docstring gives its formula),
LossScaleOptimizer.

Updates are written once with the backend's array module (NumPy or CuPy) and
run in place on the variables' buffers. Formulas (Keras 3 ``keras/src/optimizers``):

* SGD: ``m = momentum * m - lr * g``; ``w += m`` (nesterov: ``w += momentum * m - lr * g``);
  without momentum ``w -= lr * g``.
* Adam (Kingma & Ba 2015, with Keras's epsilon-hat placement):
  ``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)``; ``m += (g - m)(1 - b1)``;
  ``v += (g^2 - v)(1 - b2)``; ``w -= alpha * m / (sqrt(v) + epsilon)``.
* RMSprop: ``v = rho v + (1 - rho) g^2``; (centered: ``a = rho a + (1 - rho) g``, ``v - a^2``);
  ``inc = lr g / sqrt(v + epsilon)``; with momentum ``m = momentum m + inc; w -= m``, else ``w -= inc``.

``clipnorm`` / ``clipvalue`` / ``global_clipnorm`` clip gradients first (0 turns clipping off, as Keras 3);
``weight_decay`` applies decoupled decay ``w -= w * weight_decay * lr`` (as Keras 3).

On a backend that keeps training steps on the device (CUDA, ``backend.sync_free``) an update makes no host
contact: the learning rate and the step (``iterations + 1``) are read as device scalars and the clipping norms
stay on the device (``clip * g / max(norm, clip)``); a ``LearningRateSchedule`` is evaluated on the device from
the step (see :mod:`~gpuflow.keras.schedules`; another callable still takes the step as an int, one
device-to-host copy per step). On the CPU the update is computed with Python floats as before.

Hyperparameters are checked at construction, in the ranges where the update rules make sense (Keras 3 checks
only SGD's momentum): a finite learning rate >= 0 (or a schedule / callable), betas and rho in [0, 1), momentum in
[0, 1], epsilon > 0, weight decay and clipping thresholds >= 0. A NaN, an infinity or a beta_1 of 2 is a ValueError
naming the argument instead of weights that silently become NaN.
"""
from __future__ import annotations

import inspect
import math
import re
import warnings

import numpy as np

from ..tensor import Tensor, Variable
from ..ops.core import convert_to_tensor
from ..distribute.keras_hooks import aggregate_gradients
from ._checks import check_real

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "Lion",
           "Adafactor", "Lamb", "LossScaleOptimizer", "get", "serialize", "deserialize"]


def _check_learning_rate(value, owner):
    """A schedule or callable as it is, else the rate as a float >= 0 (Keras 3's message for other types)."""
    if callable(value):
        return value
    if isinstance(value, (bool, str, bytes)) or not hasattr(value, "__float__"):
        raise ValueError(f"{owner}: Argument `learning_rate` should be float, or an instance of LearningRateSchedule, "
                         "or a callable (that takes in the current iteration value and returns the corresponding "
                         f"learning rate value). Received instead: learning_rate={value!r}")
    return check_real(value, "learning_rate", low=0, owner=owner)


def _takes_an_argument(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)


class Optimizer:
    """Base optimizer (``keras.optimizers.Optimizer``).

    Args:
        learning_rate: float, or a schedule: a callable taking the step (int) and
            returning the rate, or a callable with no argument returning it (as Keras).
        weight_decay, clipnorm, clipvalue, global_clipnorm: as in Keras 3.
        use_ema, ema_momentum, ema_overwrite_frequency: Keras 3's moving averages of the weights (an ``average``
            slot per variable; ``fit`` ends by setting the weights to them, :meth:`finalize_variable_values`).
        loss_scale_factor: a fixed loss scale (:meth:`scale_loss`; the gradients are divided by it), as Keras 3.
        gradient_accumulation_steps: update every n calls with the mean of the n gradients (a
            ``gradient_accumulator`` slot per variable), as Keras 3; ``iterations`` still counts every call, the
            step the update rules see is the number of updates.
        name: optimizer name.

    Raises:
        ValueError: more than one clipping option; a learning rate that is not a finite number >= 0, a schedule
            or a callable; a negative or non-finite ``weight_decay`` or clipping threshold; with ``use_ema``, an
            ``ema_momentum`` outside [0, 1] or an ``ema_overwrite_frequency`` that is not an int >= 1; a
            ``gradient_accumulation_steps`` that is not an int >= 2 (Keras's messages); a ``loss_scale_factor`` not
            a finite number > 0.
    """

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"Argument(s) not recognized: {kwargs}")
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        if gradient_accumulation_steps and (isinstance(gradient_accumulation_steps, bool) or not isinstance(
                gradient_accumulation_steps, (int, np.integer)) or gradient_accumulation_steps < 2):
            raise ValueError("`gradient_accumulation_steps` must be an integer >= 2. Received: "
                             f"gradient_accumulation_steps={gradient_accumulation_steps}")
        if loss_scale_factor is not None:
            check_real(loss_scale_factor, "loss_scale_factor", low=0, low_open=True, owner=type(self).__name__)
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = int(gradient_accumulation_steps) if gradient_accumulation_steps else None
        if use_ema:  # Keras 3's checks and messages
            if not 0 <= check_real(ema_momentum, "ema_momentum", owner=type(self).__name__) <= 1:
                raise ValueError(f"`ema_momentum` must be in the range [0, 1]. Received: ema_momentum={ema_momentum}")
            freq = ema_overwrite_frequency
            if freq and (not isinstance(freq, int) or freq < 1):
                raise ValueError("`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                                 f"ema_overwrite_frequency={ema_overwrite_frequency}")
        self.use_ema, self.ema_momentum, self.ema_overwrite_frequency = bool(use_ema), ema_momentum, \
            ema_overwrite_frequency
        self.name = name or type(self).__name__.lower()
        owner = type(self).__name__
        for arg, value in (("weight_decay", weight_decay), ("clipnorm", clipnorm), ("clipvalue", clipvalue),
                           ("global_clipnorm", global_clipnorm)):
            if value is not None:
                check_real(value, arg, low=0, owner=owner)
        self.weight_decay, self.clipnorm, self.clipvalue, self.global_clipnorm = (
            weight_decay, clipnorm, clipvalue, global_clipnorm)
        learning_rate = _check_learning_rate(learning_rate, owner)
        self._schedule = learning_rate if callable(learning_rate) else None
        self._learning_rate = Variable(0.0 if self._schedule is not None else learning_rate, trainable=False,
                                       name="learning_rate", dtype="float32")
        self.iterations = Variable(np.int64(0), trainable=False, name="iteration", dtype="int64")
        self._slots = {}  # id(model variable) -> {slot name: Variable}
        self.built = False
        self._no_decay_ids, self._no_decay_pattern = set(), None  # see exclude_from_weight_decay
        self._var_index, self._created = {}, []  # Keras 3's subclass API: build order, add_variable's variables
        # Variables Keras makes with backend.Variable, not add_variable (Nadam's u_product, Adafactor's scalars):
        # inside a LossScaleOptimizer (whose build turns Keras's tracking off) its files do not hold them
        self._plain_ids, self._inside_loss_scale = set(), False

    # -- learning rate ---------------------------------------------------------
    @property
    def learning_rate(self):
        if self._schedule is not None:
            # a schedule takes the step (LearningRateSchedule); a plain callable with no argument gives the rate
            # on a backend that keeps steps on the device, a LearningRateSchedule takes the step as the device
            # scalar ``iterations`` (as Keras passes it) and its value stays there; other callables take an int
            on_device = (isinstance(self._schedule, schedules.LearningRateSchedule)
                         and getattr(self.iterations.backend, "sync_free", False))
            if on_device:
                value = self._schedule(self.iterations)
            elif _takes_an_argument(self._schedule):
                value = self._schedule(int(self.iterations.numpy()))
            else:
                value = self._schedule()
            if on_device and isinstance(value, Tensor):
                self._learning_rate.assign(value)
            else:
                self._learning_rate.assign(float(value.numpy() if hasattr(value, "numpy") else value))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        value = _check_learning_rate(value, type(self).__name__)
        if callable(value):
            self._schedule = value
        else:
            self._schedule = None
            self._learning_rate.assign(value)

    lr = learning_rate

    def _current_lr(self):
        return float(self.learning_rate.numpy())

    # -- state -----------------------------------------------------------------
    @property
    def slot_groups(self):
        """The slot variables kept per model variable, declared as Keras 3 creates them.

        One tuple of slot names per ``add_optimizer_variables(var_list, names)`` call of Keras's ``build``, in call
        order; each call makes, variable by variable, one slot per name. Keras's files list the slots in that
        order: Adam's ``(("momentum", "velocity"), ("velocity_hat",))`` interleaves momentum and velocity per
        variable, RMSprop's ``(("velocity",), ("momentum",), ("average_gradient",))`` lists every velocity
        first. The base optimizer keeps no slots.

        Returns:
            A tuple of tuples of slot names (str); only the slots this configuration uses.
        """
        return ()

    @property
    def slot_names(self):
        """Every slot name of :attr:`slot_groups`, in order, after ``average`` with ``use_ema``."""
        return tuple(name for group in self._groups() for name in group)

    def _groups(self):
        # Keras's base build makes the moving averages (use_ema), then the gradient accumulators, before the
        # optimizer's own slots
        return ((("average",),) if self.use_ema else ()) + \
            ((("gradient_accumulator",),) if self.gradient_accumulation_steps else ()) + tuple(self.slot_groups)

    def build(self, var_list):
        names = self.slot_names
        for v in var_list:
            if id(v) not in self._slots:
                self._var_index[id(v)] = len(self._var_index)
                self._slots[id(v)] = {n: self._new_slot(v, n) for n in names}
        self.built = True
        self._restore_deferred()

    def _restore_deferred(self):
        if "_deferred_restores" in self.__dict__:  # a tf.train.Checkpoint restore waits for variables made later
            from ..train import restore_deferred
            restore_deferred(self, version=len(self.variables))  # retried only when the variables changed

    # -- Keras 3's API for optimizers written as subclasses (build + update_step(gradient, variable, lr)) -------
    def add_variable(self, shape, initializer="zeros", dtype=None, aggregation="none", layout=None, name=None):
        """A new optimizer Variable of ``shape`` (Keras 3's ``add_variable``), saved after the built-in slots in the
        order created, as Keras's files keep it."""
        from . import initializers
        dtype = dtype or "float32"
        v = Variable(initializers.get(initializer)(tuple(int(d) for d in shape), dtype=dtype), trainable=False,
                     name=name or "variable", dtype=dtype)
        self._created.append(v)
        return v

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        """A new optimizer Variable of ``reference_variable``'s shape and dtype, named
        ``<its path with _>_<name>`` (Keras 3's ``add_variable_from_reference``)."""
        return self.add_variable(tuple(reference_variable.shape), initializer, reference_variable.dtype.name,
                                 name=f"{reference_variable.path.replace('/', '_')}_{name or 'var'}")

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """One Variable per model variable (a list), or a tuple of such lists for a list of names, created variable by
        variable (Keras 3's ``add_optimizer_variables``)."""
        names = [name] if isinstance(name, str) else list(name)
        inits = initializer if isinstance(initializer, (list, tuple)) else [initializer] * len(names)
        out = tuple([] for _ in names)
        for v in trainable_variables:
            for i, (n, init) in enumerate(zip(names, inits)):
                out[i].append(self.add_variable_from_reference(v, n, init))
        return out[0] if isinstance(name, str) else out

    def _get_variable_index(self, variable):
        """The position of ``variable`` in the list the optimizer was built on (Keras 3's helper)."""
        return self._var_index[id(variable)]

    def assign(self, variable, value):
        variable.assign(value)

    def assign_add(self, variable, value):
        variable.assign_add(value)

    def assign_sub(self, variable, value):
        variable.assign_sub(value)

    def _keras_update_step(self):
        # a subclass written for Keras 3 defines update_step(gradient, variable, learning_rate) on Tensors
        try:
            return len(inspect.signature(self.update_step).parameters) == 3
        except (TypeError, ValueError):
            return False

    def _new_slot(self, v, name):
        """The slot ``name`` of the model variable ``v``: zeros like ``v`` (Keras's ``add_variable_from_reference``);
        an optimizer whose slots start elsewhere or have another shape overrides it."""
        return Variable(v.backend.xp.zeros_like(v._data), trainable=False, name=f"{v.path.replace('/', '_')}_{name}")

    @property
    def variables(self):
        """Keras 3's ``optimizer.variables``: ``iteration``, ``learning_rate`` (not with a schedule), the slots
        group by group (:attr:`slot_groups`) in the order the variables were built, then the other variables
        (Nadam's ``u_product``)."""
        return self._in_keras_order(list(self._slots.values()))

    def _in_keras_order(self, slot_dicts):
        head = [self.iterations] + ([self._learning_rate] if self._schedule is None else [])
        return head + [slots[name] for group in self._groups() for slots in slot_dicts for name in group
                       if name in slots] + self._extra_variables()

    def get_slot(self, var, slot_name):
        """The slot variable ``slot_name`` (one of :attr:`slot_names`) of the model variable ``var`` (tf.keras 2's
        ``Optimizer.get_slot``).

        Raises:
            KeyError: the optimizer is not built on ``var``, or keeps no such slot (naming both).
        """
        slots = self._slots.get(id(var), {})
        if slot_name not in slots:
            raise KeyError(f"{type(self).__name__} '{self.name}' has no slot '{slot_name}' for variable "
                           f"'{getattr(var, 'path', var.name)}'. Expected one of {list(slots)} (built on the variable: "
                           f"{id(var) in self._slots}).")
        return slots[slot_name]

    def saved_variables(self, var_list, include_slots=True):
        """The variables a Keras 3 file stores for this optimizer, in the order Keras creates them.

        That is the order of Keras's ``optimizer.variables`` once built on ``var_list``: ``iteration``, then
        ``learning_rate`` (absent when the rate is a schedule or a callable: Keras keeps no variable for it),
        then the slots, group by group of :attr:`slot_groups`, each group variable by variable. Slots of
        variables not in ``var_list`` follow in the order they were created, then the variables an optimizer keeps
        besides its slots (Nadam's ``u_product``). Inside a :class:`LossScaleOptimizer`, the variables Keras makes
        untracked (Nadam's ``u_product``, Adafactor's int32 scalars) are left out, as Keras's files do.

        Args:
            var_list: the model's trainable variables in Keras's order (those the optimizer was built on).
            include_slots: False for the iteration and learning rate only (what Keras saves before the first
                step, when no slot exists yet).

        Returns:
            A list of Variables (no copies).
        """
        head = [self.iterations] + ([self._learning_rate] if self._schedule is None else [])
        if not include_slots:
            return head
        targets, done = [], set()
        for v in var_list:
            if id(v) in self._slots and id(v) not in done:
                done.add(id(v))
                targets.append(self._slots[id(v)])
        targets.extend(slots for key, slots in self._slots.items() if key not in done)
        out = self._in_keras_order(targets)
        return [v for v in out if id(v) not in self._plain_ids] if self._inside_loss_scale else out

    def _extra_variables(self):
        """Variables kept besides the slots, saved after them (Keras's order): those of :meth:`add_variable`."""
        return list(self._created)

    # -- applying ----------------------------------------------------------------
    def apply_gradients(self, grads_and_vars):
        """Applies ``(gradient, variable)`` pairs; pairs with a None gradient are skipped.

        Raises:
            ValueError: every gradient is None (Keras's "No gradients provided for any variable.").

        Warns:
            UserWarning: naming the variables whose gradient is None, as Keras.
        """
        given = list(grads_and_vars)
        if not given:
            return self.iterations
        pairs = [(g, v) for g, v in given if g is not None]
        missing = [getattr(v, "path", v.name) for g, v in given if g is None]
        if not pairs:
            raise ValueError(f"No gradients provided for any variable. Received variables: {missing}")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the loss. If using "
                          "`model.compile()`, did you forget to provide a `loss` argument?", stacklevel=2)
        grads = [convert_to_tensor(g, dtype=v.dtype, device=v.device)._data for g, v in pairs]
        grads = aggregate_gradients(grads)  # summed over the replicas of a tf.distribute strategy (TF's rule)
        variables = [v for _, v in pairs]
        for g, v in zip(grads, variables):
            if g.shape != v._data.shape:
                raise ValueError(f"Gradient shape {g.shape} does not match variable '{v.path}' of shape "
                                 f"{tuple(v.shape)}.")
        self.build(variables)
        self._restore_deferred()  # again: a subclass's build (Nadam's, a Keras 3 one) may add variables after the base
        on_device = getattr(variables[0].backend, "sync_free", False)
        if self.loss_scale_factor:  # Keras 3: scale_loss multiplied the loss; the gradients are unscaled first
            grads = [g / self.loss_scale_factor for g in grads]
        n = self.gradient_accumulation_steps
        it = self.iterations._data if on_device else int(self.iterations.numpy())  # device scalar on CUDA
        if n and not on_device and (it + 1) % n:  # Keras 3: not an update step, the gradients are only summed
            for g, v in zip(grads, variables):
                self._slots[id(v)]["gradient_accumulator"]._data += g
                if v.constraint is not None:
                    v.assign(v.constraint(v))
        else:
            self._update(grads, variables, on_device, it)
        if self.use_ema:
            self._update_averages(variables, on_device)
        if on_device:
            self.iterations._data += 1  # in place on the device (assign_add would copy a host 1 up)
        else:
            self.iterations.assign_add(1)
        return self.iterations

    def _update(self, grads, variables, on_device, it):
        """One update of ``variables`` (clipping, weight decay, ``update_step``, constraints). With
        ``gradient_accumulation_steps`` n, Keras 3's update step: the mean of the n summed gradients, the step count
        ``it // n + 1``, the accumulators zeroed; on the device every call computes it and the state takes it only
        where ``(it + 1) % n == 0`` (a device select; else the gradients are summed), with no host contact."""
        n = self.gradient_accumulation_steps
        if n:
            accs = [self._slots[id(v)]["gradient_accumulator"]._data for v in variables]
            summed = [g + a for g, a in zip(grads, accs)]
            grads = [t / n for t in summed]
            if on_device:
                keep = (it + 1) % n != 0
                state = variables + [x for v in variables for k, x in self._slots[id(v)].items()
                                     if k != "gradient_accumulator"] + self._extra_variables()
                old = [x._data.copy() for x in state]
        grads = self._clip(grads, variables, on_device)
        if on_device:  # device scalars: no host contact
            lr = self.learning_rate._data
            step = (it // n if n else it) + 1
        else:
            lr = self._current_lr()
            step = (it // n if n else it) + 1
        self._prepare_step(step)
        keras_style = self._keras_update_step()
        for g, v in zip(grads, variables):
            if self.weight_decay and self._use_weight_decay(v):
                v._data -= v._data * (self.weight_decay * lr)
            if keras_style:  # Keras 3's signature: Tensors, the rate as its variable
                self.update_step(Tensor(g, v.device, v.backend), v, self._learning_rate)
            else:
                self.update_step(g, v, lr, step)
            if v.constraint is not None:
                v.assign(v.constraint(v))
        if n:
            xp = variables[0].backend.xp
            if on_device:
                for x, before in zip(state, old):
                    xp.copyto(x._data, before, where=keep)
                for a, t in zip(accs, summed):
                    xp.copyto(a, xp.where(keep, t, 0).astype(a.dtype))
            else:
                for a in accs:
                    a[...] = 0

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Leaves variables out of ``weight_decay`` (Keras 3's ``exclude_from_weight_decay``): those of
        ``var_list``, and those whose name contains one of the strings (regular expressions) of ``var_names``
        (``var_names=["bias"]`` leaves every bias out). Each call replaces the previous one's choice; a call after
        the first step applies from the next (Keras 3.15 documents "before build" but checks an attribute its
        optimizers never set, so it accepts it too).
        """
        self._no_decay_ids = {id(v) for v in var_list or ()}
        self._no_decay_pattern = re.compile("|".join(set(var_names))) if var_names else None

    def _use_weight_decay(self, v):
        return id(v) not in self._no_decay_ids and not (
            self._no_decay_pattern is not None and self._no_decay_pattern.search(v.name))

    def scale_loss(self, loss):
        """The loss the training step differentiates: ``loss * loss_scale_factor`` when that is set (Keras 3; the
        gradients are divided by it again before the update), else ``loss`` itself (a :class:`LossScaleOptimizer`
        scales it dynamically)."""
        return loss * self.loss_scale_factor if self.loss_scale_factor else loss

    def apply(self, grads, trainable_variables=None):
        """Keras 3's ``optimizer.apply(grads, trainable_variables)``."""
        return self.apply_gradients(zip(grads, trainable_variables))

    def _clip(self, grads, variables, on_device=False):
        xp = variables[0].backend.xp if variables else np
        if self.clipvalue:  # None or 0: no clipping (Keras 3's `if self.clipvalue and self.clipvalue > 0`)
            grads = [xp.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if on_device:  # g * clip / max(norm, clip): the norm stays on the device (1 when norm <= clip)
            if self.clipnorm:
                grads = [g * (self.clipnorm / xp.maximum(xp.sqrt(xp.sum(g * g)), self.clipnorm)) for g in grads]
            if self.global_clipnorm:
                n = xp.sqrt(sum(xp.sum(g * g, dtype=np.float64) for g in grads))
                grads = [g * (self.global_clipnorm / xp.maximum(n, self.global_clipnorm)).astype(g.dtype)
                         for g in grads]
            return grads
        if self.clipnorm:
            out = []
            for g in grads:
                n = float(xp.sqrt(xp.sum(g * g)))
                out.append(g * (self.clipnorm / n) if n > self.clipnorm else g)
            grads = out
        if self.global_clipnorm:
            n = math.sqrt(sum(float(xp.sum(g * g)) for g in grads))
            if n > self.global_clipnorm:
                grads = [g * (self.global_clipnorm / n) for g in grads]
        return grads

    def _update_averages(self, variables, on_device):
        """Keras 3's ``use_ema``: ``average = m average + (1 - m) w`` after each step, with ``m = ema_momentum``
        (0 at the first step, which copies the weights), and every ``ema_overwrite_frequency`` steps the weights take
        their averages. On the device the step tests are device selects."""
        xp = variables[0].backend.xp
        it = self.iterations._data if on_device else int(self.iterations.numpy())
        if self.gradient_accumulation_steps:  # Keras's `iterations` then counts the updates
            it = it // self.gradient_accumulation_steps
        freq = self.ema_overwrite_frequency
        for v in variables:
            avg, w = self._slots[id(v)]["average"]._data, v._data
            m = (xp.where(it != 0, self.ema_momentum, 0.0).astype(w.dtype) if on_device
                 else (self.ema_momentum if it != 0 else 0.0))
            avg *= m
            avg += (1 - m) * w
            if freq and on_device:
                xp.copyto(w, avg, where=(it + 1) % freq == 0)
            elif freq and (it + 1) % freq == 0:
                xp.copyto(w, avg)

    def finalize_variable_values(self, var_list):
        """With ``use_ema``, sets each variable of ``var_list`` to its moving average (Keras 3; ``fit`` calls it once
        training ends). Nothing otherwise."""
        if self.use_ema:
            for v in var_list:
                if id(v) in self._slots:
                    v.assign(self._slots[id(v)]["average"])

    def _prepare_step(self, step):
        """Called once per :meth:`apply_gradients`, before the per-variable updates (Keras's
        ``_backend_update_step``): state shared by every variable (Nadam's ``u_product``). None here."""

    def update_step(self, grad, variable, lr, step):
        raise NotImplementedError

    def get_config(self):
        lr = self._schedule if self._schedule is not None else float(self._learning_rate.numpy())
        if self._schedule is not None and hasattr(self._schedule, "get_config"):
            lr = {"module": "keras.optimizers.schedules", "class_name": type(self._schedule).__name__,
                  "config": self._schedule.get_config(), "registered_name": None}
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency,
                "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config):
        """The optimizer of a :meth:`get_config` dict; a schedule's config (a dict under ``learning_rate``) is
        rebuilt, as Keras 3's ``from_config`` deserializes it.

        Raises:
            ValueError: a ``learning_rate`` dict naming no schedule of ``keras.optimizers.schedules``.
        """
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            schedule = getattr(schedules, str(lr.get("class_name")), None)
            if not (isinstance(schedule, type) and issubclass(schedule, schedules.LearningRateSchedule)):
                raise ValueError(f"Unknown learning rate schedule {lr.get('class_name')!r}. Expected one of "
                                 f"{schedules.__all__[1:]}. Received: learning_rate={lr}")
            config["learning_rate"] = schedule.from_config(lr.get("config", {}))
        return cls(**config)


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum (``keras.optimizers.SGD``).

    Raises:
        ValueError: ``momentum`` not in [0, 1] (as Keras 3), or a bad base argument (see :class:`Optimizer`).
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.momentum = check_real(momentum, "momentum", 0, 1, owner="SGD")  # Keras 3's own check
        self.nesterov = bool(nesterov)

    @property
    def slot_groups(self):
        """Keras 3's SGD: one momentum per variable, only when ``momentum`` is not 0."""
        return (("momentum",),) if self.momentum else ()

    def update_step(self, g, v, lr, step):
        w = v._data
        if not self.momentum:
            w -= lr * g
            return
        m = self._slots[id(v)]["momentum"]._data
        m *= self.momentum
        m -= lr * g
        if self.nesterov:
            w += self.momentum * m - lr * g
        else:
            w += m

    def get_config(self):
        c = super().get_config()
        c.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return c


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) as ``keras.optimizers.Adam`` (defaults lr 1e-3, betas 0.9/0.999, epsilon 1e-7).

    Raises:
        ValueError: ``beta_1`` or ``beta_2`` not in [0, 1) (the paper's range; 1 divides by zero or freezes the
            moments), ``epsilon`` not > 0, or a bad base argument (see :class:`Optimizer`).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name="adam",
                 **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        owner = type(self).__name__
        self.beta_1 = check_real(beta_1, "beta_1", 0, 1, high_open=True, owner=owner)
        self.beta_2 = check_real(beta_2, "beta_2", 0, 1, high_open=True, owner=owner)
        self.epsilon = check_real(epsilon, "epsilon", low=0, low_open=True, owner=owner)
        self.amsgrad = amsgrad

    @property
    def slot_groups(self):
        """Keras 3's Adam: momentum and velocity made together, then velocity_hat with ``amsgrad``."""
        return (("momentum", "velocity"),) + ((("velocity_hat",),) if self.amsgrad else ())

    def update_step(self, g, v, lr, step):
        xp = v.backend.xp
        s = self._slots[id(v)]
        m, vel = s["momentum"]._data, s["velocity"]._data
        if isinstance(step, int):
            alpha = lr * math.sqrt(1 - self.beta_2 ** step) / (1 - self.beta_1 ** step)
        else:  # device scalars (see the module docstring), float32 as the update
            t = step.astype(np.float64)
            alpha = (lr * (xp.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t))).astype(lr.dtype)
        m += (g - m) * (1 - self.beta_1)
        vel += (g * g - vel) * (1 - self.beta_2)
        if self.amsgrad:
            vh = s["velocity_hat"]._data
            xp.maximum(vh, vel, out=vh)
            denom = xp.sqrt(vh)
        else:
            denom = xp.sqrt(vel)
        denom += self.epsilon
        v._data -= (alpha * m) / denom

    def get_config(self):
        c = super().get_config()
        c.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon, "amsgrad": self.amsgrad})
        return c


class RMSprop(Optimizer):
    """RMSprop (Hinton, lecture 6e) as ``keras.optimizers.RMSprop`` (lr 1e-3, rho 0.9, epsilon 1e-7).

    Raises:
        ValueError: ``rho`` not in [0, 1), ``momentum`` not in [0, 1], ``epsilon`` not > 0, or a bad base
            argument (see :class:`Optimizer`).
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name="rmsprop",
                 **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho = check_real(rho, "rho", 0, 1, high_open=True, owner="RMSprop")
        self.momentum = check_real(momentum, "momentum", 0, 1, owner="RMSprop")
        self.epsilon = check_real(epsilon, "epsilon", low=0, low_open=True, owner="RMSprop")
        self.centered = centered

    @property
    def slot_groups(self):
        """Keras 3's RMSprop: velocity; momentum when ``momentum`` is not 0; average_gradient when ``centered``."""
        return ((("velocity",),) + ((("momentum",),) if self.momentum else ())
                + ((("average_gradient",),) if self.centered else ()))

    def update_step(self, g, v, lr, step):
        xp = v.backend.xp
        s = self._slots[id(v)]
        vel = s["velocity"]._data
        vel *= self.rho
        vel += (1 - self.rho) * g * g
        if self.centered:
            avg = s["average_gradient"]._data
            avg *= self.rho
            avg += (1 - self.rho) * g
            denom = vel - avg * avg + self.epsilon
        else:
            denom = vel + self.epsilon
        inc = lr * g / xp.sqrt(denom)
        if self.momentum:
            m = s["momentum"]._data
            m *= self.momentum
            m += inc
            v._data -= m
        else:
            v._data -= inc

    def get_config(self):
        c = super().get_config()
        c.update({"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered})
        return c


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), ``keras.optimizers.AdamW``: Keras 3's
    Adam update plus ``w -= w * weight_decay * lr`` each step (default weight_decay 0.004)."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="adamw", **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, name=name, weight_decay=weight_decay,
                         **kwargs)


class LossScaleOptimizer(Optimizer):
    """Dynamic loss scaling around another optimizer (``keras.optimizers.LossScaleOptimizer``, Keras 3's rules).

    The training step multiplies the loss by :attr:`dynamic_scale` (:meth:`scale_loss`), so small float16
    gradients do not underflow; :meth:`apply_gradients` then, as Keras 3:

    * if any gradient holds an inf or a NaN, skips the step (the weights and the inner optimizer's
      ``iterations`` do not move), halves the scale and resets :attr:`step_counter`;
    * else divides the gradients by the scale, lets ``inner_optimizer`` apply them, and doubles the scale
      once ``dynamic_growth_steps`` finite steps have passed since it last changed (resetting the counter),
      else counts the step.

    ``Model.compile`` wraps the optimizer in one when the model's policy is ``"mixed_float16"``. The scale and
    the counter are saved with the optimizer (Keras's ``optimizer/vars``: its own ``iteration`` and
    ``learning_rate``, ``step_counter``, ``dynamic_scale``, then the inner optimizer's variables).

    On the CPU whether a step is finite is read on the host. On a backend that keeps training steps on the device
    (CUDA) nothing is: the step is applied, then undone by a device-side select where a gradient was not finite,
    and the scale and counter are updated there too (Keras 3's ``ops.cond``); it costs a copy of the variables the
    step changes.

    Args:
        inner_optimizer: the :class:`Optimizer` to wrap (or a name or config :func:`get` resolves).
        initial_scale: the first loss scale (float, default 2**15).
        dynamic_growth_steps: finite steps between doublings of the scale (int, default 2000).
        name: the optimizer name.

    Raises:
        ValueError: ``dynamic=False`` or a base optimizer argument (set them on the inner optimizer; Keras 3's
            messages), or another keyword argument.
    """

    _BASE_DEFAULTS = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
                      "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                      "loss_scale_factor": None, "gradient_accumulation_steps": None}

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic_growth_steps=2000, name=None, **kwargs):
        if not kwargs.pop("dynamic", True):
            raise ValueError("LossScaleOptimizer no longer supports `dynamic=False`. Instead, simply set "
                             "`loss_scale_factor` directly on the `inner_optimizer`.")
        for arg, default in self._BASE_DEFAULTS.items():
            if arg in kwargs and kwargs.pop(arg) != default:
                raise ValueError(f"LossScaleOptimizer does not support `{arg}`. Instead, set `{arg}` on the "
                                 "`inner_optimizer`.")
        if kwargs:
            raise ValueError(f"LossScaleOptimizer does not support arguments: `{'`, `'.join(kwargs)}`.")
        super().__init__(learning_rate=0.0, name=name or "loss_scale_optimizer")  # Keras's auto_name
        self.inner_optimizer = get(inner_optimizer)
        self.inner_optimizer._inside_loss_scale = True
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self.step_counter = Variable(np.int64(0), trainable=False, name="step_counter", dtype="int64")
        self.dynamic_scale = Variable(np.float32(self.initial_scale), trainable=False, name="dynamic_scale",
                                      dtype="float32")
        #: True when ``Model.compile`` made this wrapper (the model's compile config then names the inner
        #: optimizer, the one given to compile, as Keras 3's does).
        self.wrapped_by_compile = False

    # Keras 3: the step count and the learning rate are the inner optimizer's
    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    @iterations.setter
    def iterations(self, value):  # the base class's own counter, saved first as Keras saves it
        self._own_iterations = value

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    lr = learning_rate

    @property
    def built(self):
        return self.inner_optimizer.built

    @built.setter
    def built(self, value):
        pass  # follows the inner optimizer

    def build(self, var_list):
        self.inner_optimizer.build(var_list)

    @property
    def variables(self):
        return [self._own_iterations, self._learning_rate, self.step_counter, self.dynamic_scale] + \
            self.inner_optimizer.variables

    def saved_variables(self, var_list, include_slots=True):
        """Keras 3's order: this optimizer's ``iteration``, ``learning_rate``, ``step_counter`` and
        ``dynamic_scale``, then the inner optimizer's :meth:`Optimizer.saved_variables`."""
        return [self._own_iterations, self._learning_rate, self.step_counter, self.dynamic_scale] + \
            self.inner_optimizer.saved_variables(var_list, include_slots)

    def get_slot(self, var, slot_name):
        return self.inner_optimizer.get_slot(var, slot_name)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def scale_loss(self, loss):
        """``loss * dynamic_scale`` (in the loss's dtype)."""
        scale = self.dynamic_scale
        return loss * (scale if loss.dtype == scale.dtype else _cast(scale, loss.dtype))

    def apply_gradients(self, grads_and_vars):
        """Applies the unscaled gradients through the inner optimizer, or skips the step (see the class
        docstring). Returns ``iterations``."""
        pairs = list(grads_and_vars)
        grads = [g for g, _ in pairs if g is not None]
        if grads and getattr(grads[0].backend, "sync_free", False):
            return self._apply_on_device(pairs, grads)
        finite = all(bool(g.backend.xp.isfinite(g._data).all()) for g in grads)
        if not finite:
            self.step_counter.assign(0)
            self.dynamic_scale.assign(self.dynamic_scale.numpy() * 0.5)
            return self.iterations
        self.inner_optimizer.apply_gradients(
            [(None if g is None else g / _cast(self.dynamic_scale, g.dtype), v) for g, v in pairs])
        if int(self.step_counter.numpy()) == self.dynamic_growth_steps - 1:
            self.step_counter.assign(0)
            self.dynamic_scale.assign(self.dynamic_scale.numpy() * 2.0)
        else:
            self.step_counter.assign_add(1)
        return self.iterations

    def _apply_on_device(self, pairs, grads):
        """:meth:`apply_gradients` with no host contact (Keras 3's ``ops.cond`` as a select): the inner optimizer
        applies the unscaled gradients, then every variable it may have changed (the model's, its slots, its
        iterations and learning rate) takes back its old value where a gradient was not finite; the scale and the
        counter follow the same rules, computed on the device."""
        xp = grads[0].backend.xp
        finite = xp.all(xp.stack([xp.isfinite(g._data).all() for g in grads]))
        self.inner_optimizer.build([v for g, v in pairs if g is not None])  # the slots exist before the snapshot
        state = [v for g, v in pairs if g is not None] + self.inner_optimizer.variables
        old = [v._data.copy() for v in state]
        with np.errstate(all="ignore"):  # a non-finite step's arithmetic, undone below (NumPy arrays would warn)
            self.inner_optimizer.apply_gradients(
                [(None if g is None else g / _cast(self.dynamic_scale, g.dtype), v) for g, v in pairs])
        for v, before in zip(state, old):
            xp.copyto(v._data, before, where=~finite)
        counter, scale = self.step_counter._data, self.dynamic_scale._data
        grow = finite & (counter == self.dynamic_growth_steps - 1)
        xp.copyto(scale, scale * xp.where(finite, xp.where(grow, 2.0, 1.0), 0.5).astype(scale.dtype))
        xp.copyto(counter, xp.where(finite & ~grow, counter + 1, 0))
        return self.iterations

    def get_config(self):
        """Keras 3's: the name, the inner optimizer's serialized config, ``initial_scale`` and
        ``dynamic_growth_steps``."""
        inner = type(self.inner_optimizer)
        return {"name": self.name,
                "inner_optimizer": {"module": "keras.optimizers", "class_name": inner.__name__,
                                    "config": self.inner_optimizer.get_config(), "registered_name": None},
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(get(config.pop("inner_optimizer")), **config)


def _cast(t, dtype):
    from ..ops.math_ops import cast
    return cast(t, dtype)


def _step_scalars(v, lr, step):
    """``lr`` and the step as 0-d arrays of ``v``'s dtype, as Keras casts both to the variable's dtype: from Python
    numbers on the CPU, from the device scalars on a sync-free backend (no host contact either way)."""
    xp, dtype = v.backend.xp, v._data.dtype
    return xp.asarray(lr, dtype=dtype), xp.asarray(step, dtype=dtype)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al. 2011) as ``keras.optimizers.Adagrad`` (lr 1e-3, initial_accumulator_value 0.1,
    epsilon 1e-7): ``acc += g^2``; ``w -= lr g / sqrt(acc + epsilon)``. Slot per variable: ``accumulator``
    (starting at ``initial_accumulator_value``).

    Raises:
        ValueError: ``initial_accumulator_value`` < 0, ``epsilon`` not > 0, or a bad base argument (see
            :class:`Optimizer`).
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = check_real(initial_accumulator_value, "initial_accumulator_value", low=0,
                                                    owner="Adagrad")
        self.epsilon = check_real(epsilon, "epsilon", low=0, low_open=True, owner="Adagrad")

    @property
    def slot_groups(self):
        return (("accumulator",),)

    def _new_slot(self, v, name):
        slot = super()._new_slot(v, name)
        slot._data.fill(self.initial_accumulator_value)  # Keras's Constant initializer
        return slot

    def update_step(self, g, v, lr, step):
        xp = v.backend.xp
        acc = self._slots[id(v)]["accumulator"]._data
        acc += g * g
        v._data -= lr * g / xp.sqrt(acc + self.epsilon)

    def get_config(self):
        c = super().get_config()
        c.update({"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon})
        return c


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012) as ``keras.optimizers.Adadelta`` (lr 1e-3, rho 0.95, epsilon 1e-7):
    ``ag = rho ag + (1 - rho) g^2``; ``d = -sqrt(ad + epsilon) g / sqrt(ag + epsilon)``;
    ``ad = rho ad + (1 - rho) d^2``; ``w += lr d``. Slots per variable: ``accumulated_grad``,
    ``accumulated_delta_var``.

    Raises:
        ValueError: ``rho`` not in [0, 1], ``epsilon`` not > 0, or a bad base argument (see :class:`Optimizer`).
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho = check_real(rho, "rho", 0, 1, owner="Adadelta")
        self.epsilon = check_real(epsilon, "epsilon", low=0, low_open=True, owner="Adadelta")

    @property
    def slot_groups(self):
        return (("accumulated_grad", "accumulated_delta_var"),)

    def update_step(self, g, v, lr, step):
        xp, rho = v.backend.xp, self.rho
        s = self._slots[id(v)]
        ag, ad = s["accumulated_grad"]._data, s["accumulated_delta_var"]._data
        ag *= rho
        ag += (1 - rho) * g * g
        delta = -(xp.sqrt(ad + self.epsilon) * g) / xp.sqrt(ag + self.epsilon)
        ad *= rho
        ad += (1 - rho) * delta * delta
        v._data += lr * delta

    def get_config(self):
        c = super().get_config()
        c.update({"rho": self.rho, "epsilon": self.epsilon})
        return c


class Adamax(Optimizer):
    """Adamax (Kingma & Ba 2015, section 7.1) as ``keras.optimizers.Adamax`` (lr 1e-3, betas 0.9/0.999, epsilon
    1e-7): ``m += (g - m)(1 - b1)``; ``u = max(b2 u, |g|)``; ``w -= lr m / ((1 - b1^t)(u + epsilon))``. Slots per
    variable: ``momentum``, ``norm``.

    Raises:
        ValueError: ``beta_1`` not in [0, 1), ``beta_2`` not in [0, 1], ``epsilon`` not > 0, or a bad base
            argument (see :class:`Optimizer`).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1 = check_real(beta_1, "beta_1", 0, 1, high_open=True, owner="Adamax")
        self.beta_2 = check_real(beta_2, "beta_2", 0, 1, owner="Adamax")
        self.epsilon = check_real(epsilon, "epsilon", low=0, low_open=True, owner="Adamax")

    @property
    def slot_groups(self):
        return (("momentum", "norm"),)

    def update_step(self, g, v, lr, step):
        xp = v.backend.xp
        lr, t = _step_scalars(v, lr, step)
        s = self._slots[id(v)]
        m, u = s["momentum"]._data, s["norm"]._data
        m += (g - m) * (1 - self.beta_1)
        xp.maximum(u * self.beta_2, xp.abs(g), out=u)
        v._data -= lr * m / ((1 - self.beta_1 ** t) * (u + self.epsilon))

    def get_config(self):
        c = super().get_config()
        c.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return c


class Nadam(Optimizer):
    """Nadam, Adam with Nesterov momentum (Dozat 2015), as ``keras.optimizers.Nadam`` (lr 1e-3, betas 0.9/0.999,
    epsilon 1e-7), with Keras 3's momentum schedule ``u_t = b1 (1 - 0.5 * 0.96^t)`` and its running product
    ``u_product`` (one scalar variable, updated once per step)::

        m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2)
        m_hat = u_{t+1} m / (1 - u_product u_{t+1}) + (1 - u_t) g / (1 - u_product)
        w -= lr m_hat / (sqrt(v / (1 - b2^t)) + epsilon)

    Slots per variable: ``momentum``, ``velocity``; Keras saves ``u_product`` after them.

    Raises:
        ValueError: ``beta_1`` or ``beta_2`` not in [0, 1), ``epsilon`` not > 0, or a bad base argument (see
            :class:`Optimizer`).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1 = check_real(beta_1, "beta_1", 0, 1, high_open=True, owner="Nadam")
        self.beta_2 = check_real(beta_2, "beta_2", 0, 1, high_open=True, owner="Nadam")
        self.epsilon = check_real(epsilon, "epsilon", low=0, low_open=True, owner="Nadam")
        self._u_product = None

    @property
    def slot_groups(self):
        return (("momentum", "velocity"),)

    def build(self, var_list):
        super().build(var_list)
        if self._u_product is None and var_list:
            v = var_list[0]
            self._u_product = Variable(v.backend.xp.ones((), v._data.dtype), trainable=False, name="variable")
            self._plain_ids.add(id(self._u_product))

    def _extra_variables(self):
        return super()._extra_variables() + ([self._u_product] if self._u_product is not None else [])

    def _u(self, t):
        return self.beta_1 * (1.0 - 0.5 * 0.96 ** t)

    def _prepare_step(self, step):
        u = self._u_product._data
        u *= self._u(u.dtype.type(step) if isinstance(step, int) else step.astype(u.dtype))

    def update_step(self, g, v, lr, step):
        xp = v.backend.xp
        lr, t = _step_scalars(v, lr, step)
        u_t, u_t_1 = self._u(t), self._u(t + 1)
        u_product_t = self._u_product._data.astype(v._data.dtype)
        s = self._slots[id(v)]
        m, vel = s["momentum"]._data, s["velocity"]._data
        m += (g - m) * (1 - self.beta_1)
        vel += (g * g - vel) * (1 - self.beta_2)
        m_hat = u_t_1 * m / (1 - u_product_t * u_t_1) + (1 - u_t) * g / (1 - u_product_t)
        v._data -= m_hat * lr / (xp.sqrt(vel / (1 - self.beta_2 ** t)) + self.epsilon)

    def get_config(self):
        c = super().get_config()
        c.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return c


def _check_ftrl(value, arg, nonpositive=False):
    """Keras 3's Ftrl checks and messages (a finite number; >= 0, or <= 0 for ``learning_rate_power``)."""
    number = check_real(value, arg, owner="Ftrl")
    if (number > 0) if nonpositive else (number < 0):
        raise ValueError(f"`{arg}` needs to be {'negative' if nonpositive else 'positive'} or zero. "
                         f"Received: {arg}={value}.")
    return number


class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al. 2013) as ``keras.optimizers.Ftrl`` (lr 1e-3, learning_rate_power -0.5,
    initial_accumulator_value 0.1, regularization strengths and beta 0), Keras 3's update with ``p =
    -learning_rate_power``, ``l2 = l2_regularization_strength + beta / (2 lr)``::

        n' = n + g^2
        z += g + 2 l2_shrinkage w - (n'^p - n^p) / lr * w
        w = (clip(z, -l1, l1) - z) / (n'^p / lr + 2 l2);  n = n'

    Slots per variable: ``accumulator`` (n, starting at ``initial_accumulator_value``), ``linear`` (z).

    Raises:
        ValueError: Keras 3's checks (``initial_accumulator_value`` and the regularization strengths >= 0,
            ``learning_rate_power`` <= 0), ``beta`` < 0, a value that is not a finite number, or a bad base
            argument (see :class:`Optimizer`).
    """

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = _check_ftrl(initial_accumulator_value, "initial_accumulator_value")
        self.learning_rate_power = _check_ftrl(learning_rate_power, "learning_rate_power", nonpositive=True)
        self.l1_regularization_strength = _check_ftrl(l1_regularization_strength, "l1_regularization_strength")
        self.l2_regularization_strength = _check_ftrl(l2_regularization_strength, "l2_regularization_strength")
        self.l2_shrinkage_regularization_strength = _check_ftrl(l2_shrinkage_regularization_strength,
                                                                "l2_shrinkage_regularization_strength")
        self.beta = _check_ftrl(beta, "beta")

    @property
    def slot_groups(self):
        return (("accumulator", "linear"),)

    def _new_slot(self, v, name):
        slot = super()._new_slot(v, name)
        if name == "accumulator":
            slot._data.fill(self.initial_accumulator_value)
        return slot

    def update_step(self, g, v, lr, step):
        xp = v.backend.xp
        lr, _ = _step_scalars(v, lr, step)
        s = self._slots[id(v)]
        acc, linear, w = s["accumulator"]._data, s["linear"]._data, v._data
        p = -self.learning_rate_power
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        new_acc = acc + g * g
        new_acc_p = xp.power(new_acc, p)
        linear += g + 2 * self.l2_shrinkage_regularization_strength * w - (new_acc_p - xp.power(acc, p)) / lr * w
        l1 = self.l1_regularization_strength
        xp.copyto(w, (xp.clip(linear, -l1, l1) - linear) / (new_acc_p / lr + 2 * l2))
        xp.copyto(acc, new_acc)

    def get_config(self):
        c = super().get_config()
        c.update({"learning_rate_power": self.learning_rate_power,
                  "initial_accumulator_value": self.initial_accumulator_value,
                  "l1_regularization_strength": self.l1_regularization_strength,
                  "l2_regularization_strength": self.l2_regularization_strength,
                  "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                  "beta": self.beta})
        return c


class Lion(Optimizer):
    """Lion (Chen et al. 2023) as ``keras.optimizers.Lion`` (lr 1e-3, beta_1 0.9, beta_2 0.99):
    ``w -= lr sign(b1 m + (1 - b1) g)``; ``m = b2 m + (1 - b2) g``. Slot per variable: ``momentum``.

    Raises:
        ValueError: ``beta_1`` not in (0, 1] (Keras 3's check and message), ``beta_2`` not in [0, 1], or a bad
            base argument (see :class:`Optimizer`).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        b1 = check_real(beta_1, "beta_1", owner="Lion")
        if b1 <= 0 or b1 > 1:
            raise ValueError("Argument `beta_1` must be in the [0, 1] range. Otherwise, the optimizer degenerates to "
                             f"SignSGD. Received: beta_1={beta_1}.")
        self.beta_1 = b1
        self.beta_2 = check_real(beta_2, "beta_2", 0, 1, owner="Lion")

    @property
    def slot_groups(self):
        return (("momentum",),)

    def update_step(self, g, v, lr, step):
        xp = v.backend.xp
        m = self._slots[id(v)]["momentum"]._data
        v._data -= lr * xp.sign(m * self.beta_1 + g * (1.0 - self.beta_1))
        m *= self.beta_2
        m += g * (1.0 - self.beta_2)

    def get_config(self):
        c = super().get_config()
        c.update({"beta_1": self.beta_1, "beta_2": self.beta_2})
        return c


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern 2018) as ``keras.optimizers.Adafactor`` (lr 1e-3, beta_2_decay -0.8, epsilon_1
    1e-30, epsilon_2 1e-3, clip_threshold 1.0, relative_step True), Keras 3's update::

        rho = min(lr, 1 / sqrt(t));  alpha = max(epsilon_2, rms(w)) rho;  b = 1 - t^beta_2_decay
        G = g^2 + epsilon_1
        rank >= 2: r = b r + (1 - b) mean(G, -1);  c = b c + (1 - b) mean(G, -2)
                   v = (r / mean(r, -1))[..., None] * c[..., None, :]
        else:      v = b v + (1 - b) G
        u = g / sqrt(v);  w -= alpha u / max(1, rms(u) / clip_threshold)

    (``rms(x) = sqrt(mean(x^2))``; as in Keras 3.15, ``relative_step`` only caps the rate by ``1 / sqrt(t)``,
    which ``rho`` does anyway.) Slots per variable, in Keras's order: ``r`` (shape ``w.shape[:-1]``), ``c``
    (``w.shape[:-2] + w.shape[-1:]``) and ``velocity`` (``w``'s shape); for a variable of rank < 2, ``r`` and
    ``c`` are the unused int32 scalars Keras creates.

    Raises:
        ValueError: ``epsilon_1`` or ``epsilon_2`` < 0, ``clip_threshold`` not > 0, ``beta_2_decay`` not a finite
            number, or a bad base argument (see :class:`Optimizer`).
    """

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3, clip_threshold=1.0,
                 relative_step=True, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_2_decay = check_real(beta_2_decay, "beta_2_decay", owner="Adafactor")
        self.epsilon_1 = check_real(epsilon_1, "epsilon_1", low=0, owner="Adafactor")
        self.epsilon_2 = check_real(epsilon_2, "epsilon_2", low=0, owner="Adafactor")
        self.clip_threshold = check_real(clip_threshold, "clip_threshold", low=0, low_open=True, owner="Adafactor")
        self.relative_step = relative_step

    @property
    def slot_groups(self):
        return (("r", "c", "velocity"),)

    def _new_slot(self, v, name):
        xp, shape = v.backend.xp, tuple(v._data.shape)
        if name == "velocity":
            return super()._new_slot(v, name)
        if len(shape) < 2:
            scalar = Variable(xp.zeros((), np.int32), trainable=False, name=v.name)
            self._plain_ids.add(id(scalar))
            return scalar
        shape = shape[:-1] if name == "r" else shape[:-2] + shape[-1:]
        return Variable(xp.zeros(shape, v._data.dtype), trainable=False, name=v.name)

    def update_step(self, g, v, lr, step):
        xp = v.backend.xp
        lr, t = _step_scalars(v, lr, step)
        s = self._slots[id(v)]
        w, vel = v._data, s["velocity"]._data
        alpha = xp.maximum(self.epsilon_2, xp.sqrt(xp.mean(w * w))) * xp.minimum(lr, 1 / xp.sqrt(t))
        sq = g * g + self.epsilon_1
        b = 1 - t ** self.beta_2_decay
        if w.ndim >= 2:
            r, c = s["r"]._data, s["c"]._data
            xp.copyto(r, b * r + (1 - b) * xp.mean(sq, axis=-1))
            xp.copyto(c, b * c + (1 - b) * xp.mean(sq, axis=-2))
            xp.copyto(vel, (r / xp.mean(r, axis=-1, keepdims=True))[..., None] * c[..., None, :])
        else:
            xp.copyto(vel, b * vel + (1 - b) * sq)
        u = g / xp.sqrt(vel)
        w -= alpha * (u / xp.maximum(1, xp.sqrt(xp.mean(u * u)) / self.clip_threshold))

    def get_config(self):
        c = super().get_config()
        c.update({"beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1, "epsilon_2": self.epsilon_2,
                  "clip_threshold": self.clip_threshold, "relative_step": self.relative_step})
        return c


class Lamb(Optimizer):
    """LAMB (You et al. 2019), Adam with a layer-wise trust ratio, as ``keras.optimizers.Lamb`` (lr 1e-3, betas
    0.9/0.999, epsilon 1e-7)::

        m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2)
        u = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + epsilon)
        w -= r lr u,  r = ||w|| / ||u|| (1 when either norm is 0)

    Slots per variable: ``momentum``, ``velocity``. (Keras 3.15's ``get("lamb")`` and ``deserialize`` miss it from
    their table; gpuflow's resolve it like the others.)

    Raises:
        ValueError: ``beta_1`` or ``beta_2`` not in [0, 1), ``epsilon`` not > 0, or a bad base argument (see
            :class:`Optimizer`).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1 = check_real(beta_1, "beta_1", 0, 1, high_open=True, owner="Lamb")
        self.beta_2 = check_real(beta_2, "beta_2", 0, 1, high_open=True, owner="Lamb")
        self.epsilon = check_real(epsilon, "epsilon", low=0, low_open=True, owner="Lamb")

    @property
    def slot_groups(self):
        return (("momentum", "velocity"),)

    def update_step(self, g, v, lr, step):
        xp = v.backend.xp
        lr, t = _step_scalars(v, lr, step)
        s = self._slots[id(v)]
        m, vel, w = s["momentum"]._data, s["velocity"]._data, v._data
        m += (g - m) * (1 - self.beta_1)
        vel += (g * g - vel) * (1 - self.beta_2)
        update = (m / (1 - self.beta_1 ** t)) / (xp.sqrt(vel / (1 - self.beta_2 ** t)) + self.epsilon)
        w_norm, u_norm = xp.sqrt(xp.sum(w * w)), xp.sqrt(xp.sum(update * update))
        ratio = xp.where((w_norm > 0) & (u_norm > 0), w_norm / xp.where(u_norm > 0, u_norm, 1), 1).astype(w.dtype)
        w -= ratio * lr * update

    def get_config(self):
        c = super().get_config()
        c.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return c


_BY_NAME = {cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam,
                                                 Ftrl, Lion, Adafactor, Lamb)}


def serialize(optimizer):
    """The optimizer as Keras 3 serializes it (``keras.optimizers.serialize``): ``{"module": "keras.optimizers",
    "class_name", "config": get_config(), "registered_name": None}`` (a custom class: its registered name)."""
    from .saving.serialization import serialize_keras_object
    return serialize_keras_object(optimizer)


def deserialize(config, custom_objects=None):
    """The optimizer of a :func:`serialize` dict (``keras.optimizers.deserialize``): a built-in class named in any
    case (``"Nadam"``, ``"nadam"``, as Keras 3), else a class of ``custom_objects`` or a registered one.

    Raises:
        ValueError: a class that is not known, or not an optimizer.
    """
    name = str(config.get("class_name", "")) if isinstance(config, dict) else ""
    if name == "LossScaleOptimizer":
        return LossScaleOptimizer.from_config(config.get("config") or {})
    cls = _BY_NAME.get(name.lower())
    if cls is not None:
        return cls.from_config(config.get("config") or {})
    from .saving.serialization import deserialize_keras_object
    obj = deserialize_keras_object(config, custom_objects)
    if not isinstance(obj, Optimizer):
        raise ValueError(f"Could not interpret optimizer identifier: {config}")
    return obj


def get(identifier):
    """Resolves an optimizer name, config dict, class or instance (``keras.optimizers.get``); None gives None.

    Names are the class names in any case: ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``, ``"adagrad"``,
    ``"adadelta"``, ``"adamax"``, ``"nadam"``, ``"ftrl"``, ``"lion"``, ``"adafactor"``, ``"lamb"``.

    Raises:
        ValueError: for an unknown name or anything else (Keras's "Could not interpret optimizer identifier").
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Could not interpret optimizer identifier: {identifier}. "
                             f"Expected one of {sorted(_BY_NAME)}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")


from . import schedules  # noqa: E402,F401  (keras.optimizers.schedules)
