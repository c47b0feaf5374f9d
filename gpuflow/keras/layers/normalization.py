"""``keras.layers.BatchNormalization``, ``LayerNormalization``, ``GroupNormalization`` and ``UnitNormalization``
(Keras 3 semantics).

Both are written with gpuflow ops (:func:`gpuflow.ops.nn_ops.moments` and
:func:`gpuflow.ops.nn_ops.batch_normalization`, TensorFlow's formulas), so they run and
differentiate on every backend.
"""
from __future__ import annotations

from ... import autodiff
from ...ops import nn_ops as _nn, array_ops as _a, math_ops as _m
from .. import initializers as _init
from .._checks import check_real
from .base import Layer, InputSpec


def _no_regularizer(layer_cls, **kw):
    for arg, v in kw.items():
        if v is not None:
            raise NotImplementedError(f"{layer_cls}: `{arg}` is not supported yet. Received: {arg}={v!r}")


class BatchNormalization(Layer):
    """Normalizes each feature of ``axis`` with batch statistics in training and moving statistics
    in inference (``keras.layers.BatchNormalization``; Ioffe & Szegedy 2015).

    Training (``training=True`` and the layer trainable): ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta``
    with the mean and (biased) variance of the batch over every axis but ``axis``, and the moving
    statistics updated in place, as Keras 3: ``moving = moving * momentum + batch * (1 - momentum)``.
    Inference, or a frozen layer (``trainable=False``, as Keras 3 for transfer learning): the
    moving statistics replace the batch's.

    Weights, in Keras's order: ``gamma`` (if ``scale``), ``beta`` (if ``center``), then the
    non-trainable ``moving_mean`` and ``moving_variance``, each of shape (channels,).

    Args:
        axis: the feature axis (an int, -1 by default: channels_last).
        momentum: moving-average momentum (0.99).
        epsilon: added to the variance (1e-3).
        center, scale: whether to learn ``beta`` / ``gamma``.
        synchronized: under a ``tf.distribute`` strategy with several replicas, compute the batch
            statistics over every replica's batch (TensorFlow's SyncBatchNormalization: the sums of ``x`` and
            ``x**2`` are all-reduced, differentiably); otherwise each replica uses its own batch, as TF.
            With one replica both are the same.

    Raises:
        ValueError: ``momentum`` not in [0, 1] or ``epsilon`` not > 0 (at construction); an ``axis`` out of
            range or of unknown size; an input of another rank or feature size than the layer was built for.
        NotImplementedError: ``renorm=True``.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # Keras: the input's mask passes through
        self._set_weight_options(beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                                 beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        _no_regularizer("BatchNormalization", renorm_clipping=renorm_clipping)
        if renorm:
            raise NotImplementedError("BatchNormalization: renorm=True is not supported yet.")
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(f"BatchNormalization: `axis` must be a single integer. Received: axis={axis}")
            axis = axis[0]
        self.axis = int(axis)
        # Keras 3 checks neither; outside these ranges the moving statistics diverge or the variance divides by 0
        self.momentum = check_real(momentum, "momentum", 0, 1, owner="BatchNormalization")
        self.epsilon = check_real(epsilon, "epsilon", low=0, low_open=True, owner="BatchNormalization")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = _init.get(beta_initializer)
        self.gamma_initializer = _init.get(gamma_initializer)
        self.moving_mean_initializer = _init.get(moving_mean_initializer)
        self.moving_variance_initializer = _init.get(moving_variance_initializer)
        self.synchronized, self.renorm, self.renorm_momentum = bool(synchronized), False, renorm_momentum
        self.gamma = self.beta = None

    def build(self, input_shape):
        rank = len(input_shape)
        if not -rank <= self.axis < rank:
            raise ValueError(f"Axis {self.axis} is out of bounds for input shape {tuple(input_shape)}. "
                             f"Received: axis={self.axis} (layer '{self.name}')")
        size = input_shape[self.axis]
        if size is None:
            raise ValueError(f"BatchNormalization '{self.name}': the size of axis {self.axis} must be known. "
                             f"Received: input_shape={tuple(input_shape)}")
        shape = (size,)
        if self.scale:
            self.gamma = self.add_weight(shape=shape, name="gamma", initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
                                         autocast=False)
        if self.center:
            self.beta = self.add_weight(shape=shape, name="beta", initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint,
                                        autocast=False)
        # as Keras 3, no weight is autocast: 16-bit inputs are normalized in float32 (see call)
        self.moving_mean = self.add_weight(shape=shape, name="moving_mean", initializer=self.moving_mean_initializer,
                                           trainable=False, autocast=False)
        self.moving_variance = self.add_weight(shape=shape, name="moving_variance",
                                               initializer=self.moving_variance_initializer, trainable=False,
                                               autocast=False)
        self.input_spec = InputSpec(ndim=rank, axes={self.axis: size})
        self._reduction_axes = [i for i in range(rank) if i != self.axis % rank]
        self._param_shape = [1] * rank
        self._param_shape[self.axis % rank] = size
        self.built = True

    def _param(self, v, last):
        return v if (v is None or last) else _a.reshape(v, self._param_shape)

    def call(self, inputs, training=None):
        low = inputs.dtype.name if inputs.dtype.name in ("float16", "bfloat16") else None
        if low is not None and self.variable_dtype != low:  # Keras 3: normalize 16-bit inputs in float32
            return _m.cast(self.call(_m.cast(inputs, self.variable_dtype), training=training), low)
        last = self.axis % inputs.ndim == inputs.ndim - 1
        if training and self.trainable:
            if self.synchronized:
                from ...distribute.keras_hooks import sync_moments
                mean, variance = sync_moments(inputs, self._reduction_axes)
            else:
                mean, variance = _nn.moments(inputs, self._reduction_axes)
            with autodiff.stop_recording():  # the moving statistics are state, not part of the gradient
                m = self.momentum
                self.moving_mean.assign(self.moving_mean.value() * m + mean * (1.0 - m))
                self.moving_variance.assign(self.moving_variance.value() * m + variance * (1.0 - m))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return _nn.batch_normalization(inputs, self._param(mean, last), self._param(variance, last),
                                       self._param(self.beta, last), self._param(self.gamma, last), self.epsilon)

    def compute_output_shape(self, input_shape):
        if not -len(input_shape) <= self.axis < len(input_shape):
            raise ValueError(f"Axis {self.axis} is out of bounds for input shape {tuple(input_shape)}. "
                             f"Received: axis={self.axis}")
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c.update({"axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon, "center": self.center,
                  "scale": self.scale, "beta_initializer": _init.serialize(self.beta_initializer),
                  "gamma_initializer": _init.serialize(self.gamma_initializer),
                  "moving_mean_initializer": _init.serialize(self.moving_mean_initializer),
                  "moving_variance_initializer": _init.serialize(self.moving_variance_initializer),
                  **self._weight_options_config("beta_regularizer", "gamma_regularizer", "beta_constraint",
                                                "gamma_constraint"),
                  "synchronized": self.synchronized, "renorm": False, "renorm_clipping": None,
                  "renorm_momentum": self.renorm_momentum})
        return c


class LayerNormalization(Layer):
    """Normalizes each example over ``axis`` (``keras.layers.LayerNormalization``; Ba et al. 2016).

    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the mean and biased variance of
    each example over ``axis`` (an int or a list of ints, -1 by default), computed as Keras 3's
    ``ops.layer_normalization``. ``gamma`` and ``beta`` have the shape of the normalized axes.
    As Keras, ``axis`` becomes a sorted list once the layer is built.

    Raises:
        ValueError: an axis out of range; ``epsilon`` not > 0 (at construction).
        TypeError: an ``axis`` that is neither an int nor a list of ints (Keras's message).
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # Keras: the input's mask passes through
        self._set_weight_options(beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                                 beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)
        if isinstance(axis, (list, tuple)):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError(f"Expected an int or a list/tuple of ints for the argument 'axis', but received: {axis!r}")
        self.epsilon = check_real(epsilon, "epsilon", low=0, low_open=True, owner="LayerNormalization")
        self.center, self.scale, self.rms_scaling = bool(center), bool(scale), bool(rms_scaling)
        self.beta_initializer = _init.get(beta_initializer)
        self.gamma_initializer = _init.get(gamma_initializer)
        self.gamma = self.beta = None

    def _axes(self, rank):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for a in axes:
            if not -rank <= a < rank:
                raise ValueError(f"Axis {a} is out of bounds for input of rank {rank}. Received: axis={self.axis} "
                                 f"(layer '{self.name}')")
        return sorted(a % rank for a in axes)

    def build(self, input_shape):
        rank = len(input_shape)
        axes = self._axes(rank)
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        shape = tuple(input_shape[a] for a in axes)
        if None in shape:
            raise ValueError(f"LayerNormalization '{self.name}': the normalized axes must have known sizes. "
                             f"Received: input_shape={tuple(input_shape)}, axis={self.axis}")
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(shape=shape, name="gamma", initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(shape=shape, name="beta", initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        self.built = True

    def call(self, inputs):
        rank = inputs.ndim
        axes = self._axes(rank)
        bshape = [1] * rank
        for a in axes:
            bshape[a] = inputs.shape[a]

        def bc(v):
            if v is None or axes == [rank - 1]:
                return v
            return _a.reshape(v, bshape)
        from ...ops import math_ops as _m
        if self.rms_scaling:  # Keras 3's (deprecated) rms_scaling: x * rsqrt(var + eps) * gamma
            _, variance = _nn.moments(inputs, axes, keepdims=True)
            out = inputs * _m.rsqrt(variance + self.epsilon)
            return out * bc(self.gamma) if self.gamma is not None else out
        mean, variance = _nn.moments(inputs, axes, keepdims=True)
        inv = _m.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            inv = inv * bc(self.gamma)
        res = -mean * inv
        if self.beta is not None:
            res = res + bc(self.beta)
        return inputs * inv + res

    def compute_output_shape(self, input_shape):
        self._axes(len(input_shape))
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c.update({"axis": self.axis, "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                  "rms_scaling": self.rms_scaling, "beta_initializer": _init.serialize(self.beta_initializer),
                  "gamma_initializer": _init.serialize(self.gamma_initializer),
                  **self._weight_options_config("beta_regularizer", "gamma_regularizer", "beta_constraint",
                                                "gamma_constraint")})
        return c


def l2_normalize(x, axis, epsilon):
    """Keras 3's ``ops.normalize(x, axis, order=2, epsilon)``: ``x * minimum(rsqrt(sum(x**2, axis)), 1 / epsilon)``.

    Args:
        x: a float tensor.
        axis: an int or a list of ints.
        epsilon: the smallest norm divided by (the norm's floor).
    """
    axis = list(axis) if isinstance(axis, (list, tuple)) else axis
    inv_norm = _m.rsqrt(_m.reduce_sum(_m.square(x), axis=axis, keepdims=True))
    return x * _m.minimum(inv_norm, 1.0 / epsilon)


class UnitNormalization(Layer):
    """Scales each example to unit L2 norm over ``axis`` (``keras.layers.UnitNormalization(axis=-1)``):
    ``x * minimum(rsqrt(sum(x**2, axis)), 1e12)``, as Keras 3's ``ops.normalize(..., epsilon=1e-12)``.

    Input: any shape; output: the same.

    Raises:
        TypeError: an ``axis`` that is neither an int nor a list/tuple of ints (Keras's message).
        ValueError: an axis out of bounds for the input (Keras's message).
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = list(axis)
        elif isinstance(axis, int):
            self.axis = axis
        else:
            raise TypeError(f"Invalid value for `axis` argument: expected an int or a list/tuple of ints. "
                            f"Received: axis={axis}")
        self.supports_masking = True

    def call(self, inputs):
        return l2_normalize(inputs, self.axis, 1e-12)

    def compute_output_shape(self, input_shape):
        for axis in [self.axis] if isinstance(self.axis, int) else self.axis:
            if axis >= len(input_shape) or axis < -len(input_shape):
                raise ValueError(f"Axis {self.axis} is out of bounds for input shape {input_shape}.")
        return input_shape

    def get_config(self):
        c = super().get_config()
        c["axis"] = self.axis
        return c


class GroupNormalization(Layer):
    """Group normalization (``keras.layers.GroupNormalization``; Wu & He 2018): the channels of ``axis`` are split
    into ``groups`` groups, each example normalized over every non-batch axis within a group, then scaled by
    ``gamma`` and shifted by ``beta`` (one per channel). ``groups=-1`` is instance normalization (as many groups
    as channels; the config then records the channel count, as Keras).

    Computed as Keras 3: ``inv = rsqrt(var + epsilon) * gamma``, ``y = x * inv + (beta - mean * inv)`` with the
    mean and biased variance of :func:`gpuflow.ops.nn_ops.moments`, in float32 for 16-bit inputs.

    Input: any shape with a known size C at ``axis``; output: the same. Weights ``gamma`` then ``beta``, (C,)
    each (Keras's order).

    Raises:
        ValueError: ``groups`` neither positive nor -1; at build, an unknown channel count, more groups than
            channels, or channels not divisible by the groups (Keras's messages).
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        if not isinstance(groups, int) or isinstance(groups, bool) or (groups <= 0 and groups != -1):
            raise ValueError(f"Received an invalid value for argument `groups`, expected a positive integer (or `-1` "
                             f"for instance normalization). Received: groups={groups}")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.autocast = False
        self.groups, self.axis, self.epsilon, self.center, self.scale = groups, axis, epsilon, center, scale
        self.beta_initializer = _init.get(beta_initializer)
        self.gamma_initializer = _init.get(gamma_initializer)
        self._set_weight_options(beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                                 beta_constraint=beta_constraint, gamma_constraint=gamma_constraint)

    def build(self, input_shape):
        dim = input_shape[self.axis]
        if dim is None:
            raise ValueError(f"Axis {self.axis} of input tensor should have a defined dimension but the layer "
                             f"received an input with shape {input_shape}.")
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(f"Number of groups ({self.groups}) cannot be more than the number of channels ({dim}).")
        if dim % self.groups != 0:
            raise ValueError(f"Number of groups ({self.groups}) must be a multiple of the number of channels "
                             f"({dim}).")
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: dim})
        self.gamma = self.add_weight(shape=(dim,), name="gamma", initializer=self.gamma_initializer,
                                     regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
                                     autocast=False) if self.scale else None
        self.beta = self.add_weight(shape=(dim,), name="beta", initializer=self.beta_initializer,
                                    regularizer=self.beta_regularizer, constraint=self.beta_constraint,
                                    autocast=False) if self.center else None
        self.built = True

    def _grouped(self, shape):
        """``shape`` with the channel axis split into (groups, channels // groups), as Keras inserts it."""
        shape = list(shape)
        shape[self.axis] = shape[self.axis] // self.groups
        shape.insert(self.axis, self.groups)
        return shape

    def call(self, inputs):
        in_dtype = inputs.dtype.name
        x = _m.cast(inputs, "float32") if in_dtype in ("float16", "bfloat16") else inputs
        x = _a.reshape(x, [-1] + self._grouped(inputs.shape)[1:])
        axes = list(range(1, x.ndim))
        axes.pop(-2 if self.axis == -1 else self.axis - 1)  # every axis but the batch and the groups (Keras)
        mean, variance = _nn.moments(x, axes, keepdims=True)
        bshape = [1] * inputs.ndim
        bshape[self.axis] = inputs.shape[self.axis]
        bshape = self._grouped(bshape)
        inv = _m.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            inv = inv * _m.cast(_a.reshape(self.gamma, bshape), x.dtype)
        res = -mean * inv
        if self.beta is not None:
            res = res + _m.cast(_a.reshape(self.beta, bshape), x.dtype)
        y = _m.cast(x * inv + res, in_dtype)
        return _m.cast(_a.reshape(y, inputs.shape), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        for axis in [self.axis] if isinstance(self.axis, int) else self.axis:
            if axis >= len(input_shape) or axis < -len(input_shape):
                raise ValueError(f"Axis {axis} is out of bounds for input shape {input_shape}. "
                                 f"Received: axis={self.axis}")
        return input_shape

    def get_config(self):
        c = super().get_config()
        c.update({"groups": self.groups, "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                  "scale": self.scale, "beta_initializer": _init.serialize(self.beta_initializer),
                  "gamma_initializer": _init.serialize(self.gamma_initializer),
                  **self._weight_options_config("beta_regularizer", "gamma_regularizer", "beta_constraint",
                                                "gamma_constraint")})
        return c
