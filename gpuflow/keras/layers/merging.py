"""Merge layers (``keras.layers``): Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot,
and their functional forms (``keras.layers.add([a, b])``, ...).

Each takes a list of tensors. The elementwise merges broadcast as Keras 3's ``Merge`` base
does (equal shapes, or size-1 axes; an input of lower rank gets size-1 axes inserted after the
batch axis), and refuse incompatible shapes with Keras's message.
"""
from __future__ import annotations

from ...ops import array_ops as _a, math_ops as _m
from .base import Layer


def _check_list(layer, input_shape, what="A merge layer"):
    if not isinstance(input_shape, (list, tuple)) or not input_shape or \
            not isinstance(input_shape[0], (list, tuple)):
        raise ValueError(f"{what} should be called on a list of inputs. Received: input_shape={input_shape} "
                         f"(not a list of shapes) (layer '{layer.name}')")


def _elemwise_shape(shape1, shape2):
    """Keras 3's ``Merge._compute_elemwise_op_output_shape`` (shapes without the batch axis)."""
    if len(shape1) < len(shape2):
        return _elemwise_shape(shape2, shape1)
    if not shape2:
        return tuple(shape1)
    out = list(shape1[:-len(shape2)])
    for i, j in zip(shape1[-len(shape2):], shape2):
        if i is None or j is None:
            out.append(None)
        elif i == 1:
            out.append(j)
        elif j == 1 or i == j:
            out.append(i)
        else:
            raise ValueError(f"Inputs have incompatible shapes. Received shapes {tuple(shape1)} and {tuple(shape2)}")
    return tuple(out)


class _Merge(Layer):
    """Base of the elementwise merge layers; subclasses define ``_merge_function(list_of_tensors)``."""

    _min_inputs = 1

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def _output_shape(self, input_shape):
        _check_list(self, input_shape)
        if len(input_shape) < self._min_inputs:
            raise ValueError(f"A `{type(self).__name__}` layer should be called on a list of at least "
                             f"{self._min_inputs} inputs. Received {len(input_shape)} inputs "
                             f"(layer '{self.name}')")
        batch_sizes = {s[0] for s in input_shape if s} - {None}
        if len(batch_sizes) > 1:
            raise ValueError(f"Cannot merge tensors with different batch sizes. Received tensors with shapes "
                             f"{[tuple(s) for s in input_shape]} (layer '{self.name}')")
        out = tuple(input_shape[0][1:])
        for s in input_shape[1:]:
            try:
                out = _elemwise_shape(out, tuple(s[1:]))
            except ValueError as e:
                raise ValueError(f"{e} (layer '{self.name}', all input shapes: "
                                 f"{[tuple(t) for t in input_shape]})") from None
        batch = next(iter(batch_sizes)) if batch_sizes else None
        return (batch,) + out

    def build(self, input_shape):
        self._output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"A merge layer should be called on a list of inputs. Received: inputs={inputs!r:.200} "
                             f"(not a list of tensors) (layer '{self.name}')")
        self._output_shape([tuple(x.shape) for x in inputs])
        ndim = max(x.ndim for x in inputs)
        xs = []
        for x in inputs:  # a lower-rank input gets size-1 axes after the batch axis (Keras's _reshape_required)
            while x.ndim < ndim:
                x = _a.expand_dims(x, 1)
            xs.append(x)
        return self._merge_function(xs)

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape)

    def _merge_function(self, inputs):
        raise NotImplementedError


class Add(_Merge):
    """Elementwise sum of a list of inputs (``keras.layers.Add``)."""

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = _m.add(out, x)
        return out


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (``keras.layers.Subtract``); exactly two inputs."""

    def _output_shape(self, input_shape):
        _check_list(self, input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. Received: "
                             f"input_shape={input_shape} (layer '{self.name}')")
        return super()._output_shape(input_shape)

    def _merge_function(self, inputs):
        return _m.subtract(inputs[0], inputs[1])


class Multiply(_Merge):
    """Elementwise product of a list of inputs (``keras.layers.Multiply``)."""

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = _m.multiply(out, x)
        return out


class Average(_Merge):
    """Elementwise mean of a list of inputs (``keras.layers.Average``)."""

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = _m.add(out, x)
        return out / float(len(inputs))


class Maximum(_Merge):
    """Elementwise maximum of a list of inputs (``keras.layers.Maximum``)."""

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = _m.maximum(out, x)
        return out


class Minimum(_Merge):
    """Elementwise minimum of a list of inputs (``keras.layers.Minimum``)."""

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = _m.minimum(out, x)
        return out


class Concatenate(Layer):
    """Concatenates a list of inputs along ``axis`` (``keras.layers.Concatenate``, default -1).

    Raises:
        ValueError: not a list, or shapes that differ outside the concatenation axis (Keras's
            message, with every input shape).
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _check(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not isinstance(input_shape[0], (list, tuple)):
            raise ValueError(f"A `Concatenate` layer should be called on a list of at least 1 input. "
                             f"Received: input_shape={input_shape} (layer '{self.name}')")
        shapes = [tuple(s) for s in input_shape]
        ranks = {len(s) for s in shapes}
        msg = (f"A `Concatenate` layer requires inputs with matching shapes except for the concatenation axis. "
               f"Received: input_shape={shapes} (layer '{self.name}', axis={self.axis})")
        if len(ranks) != 1:
            raise ValueError(msg)
        rank = ranks.pop()
        if not -rank <= self.axis < rank:
            raise ValueError(f"Concatenate: axis {self.axis} is out of bounds for inputs of rank {rank}. "
                             f"Received: input_shape={shapes} (layer '{self.name}')")
        ax = self.axis % rank
        for i in range(rank):
            if i == ax:
                continue
            dims = {s[i] for s in shapes if s[i] is not None}
            if len(dims) > 1:
                raise ValueError(msg)
        return shapes, ax

    def build(self, input_shape):
        self._check(input_shape)
        self.built = True

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"A `Concatenate` layer should be called on a list of inputs. "
                             f"Received: inputs={inputs!r:.200} (layer '{self.name}')")
        self._check([tuple(x.shape) for x in inputs])
        return _a.concat(list(inputs), axis=self.axis)

    def compute_output_shape(self, input_shape):
        shapes, ax = self._check(input_shape)
        out = list(shapes[0])
        for i in range(len(out)):
            if i != ax and out[i] is None:
                out[i] = next((s[i] for s in shapes if s[i] is not None), None)
        sizes = [s[ax] for s in shapes]
        out[ax] = None if None in sizes else sum(sizes)
        return tuple(out)

    def get_config(self):
        c = super().get_config()
        c["axis"] = self.axis
        return c


def batch_dot(x, y, axes=None):
    """Keras 3's ``batch_dot`` (``keras/src/layers/merging/dot.py``): per sample, the dot product of ``x`` and
    ``y`` over ``axes`` = (axis of x, axis of y), as one batched matmul.

    Shapes: x (batch, *a), y (batch, *b) -> (batch, *a without the x axis, *b without the y axis); a rank-2
    side contributes no axis, a rank-2 result becomes (batch, 1) in :class:`Dot`.

    Raises:
        ValueError: an input of rank < 2, different batch sizes, axis 0, or sizes that differ on the axes
            (Keras's messages).
    """
    x_shape, y_shape = tuple(x.shape), tuple(y.shape)
    x_ndim, y_ndim = len(x_shape), len(y_shape)
    if x_ndim < 2 or y_ndim < 2:
        raise ValueError(f"Cannot do batch_dot on inputs with rank < 2. Received inputs with shapes {x_shape} and "
                         f"{y_shape}.")
    if x_shape[0] != y_shape[0]:
        raise ValueError(f"Cannot do batch_dot on inputs with different batch sizes. Received inputs with shapes "
                         f"{x_shape} and {y_shape}.")
    if isinstance(axes, int):
        axes = [axes, axes]
    if axes is None:
        axes = [x_ndim - 1, y_ndim - 1] if y_ndim == 2 else [x_ndim - 1, y_ndim - 2]
    a0, a1 = axes[0] % x_ndim if axes[0] < 0 else axes[0], axes[1] % y_ndim if axes[1] < 0 else axes[1]
    if 0 in (a0, a1):
        raise ValueError("Cannot perform batch_dot over axis 0. If your inputs are not batched, add a dummy batch "
                         "dimension to your inputs using keras.ops.expand_dims(x, 0)")
    if x_shape[a0] != y_shape[a1]:
        raise ValueError(f"Cannot do batch_dot on inputs with shapes {x_shape} and {y_shape} with axes={[a0, a1]}. "
                         f"x.shape[{a0}] != y.shape[{a1}] ({x_shape[a0]} != {y_shape[a1]}).")
    x = _a.transpose(x, [i for i in range(x_ndim) if i != a0] + [a0])  # the summed axis last
    y = _a.transpose(y, [0, a1] + [i for i in range(1, y_ndim) if i != a1])  # ... and second
    x_mid, y_trail = tuple(x.shape[1:-1]), tuple(y.shape[2:])
    x3 = _a.reshape(x, (x_shape[0], -1, x_shape[a0]))
    y3 = _a.reshape(y, (y_shape[0], y_shape[a1], -1))
    return _a.reshape(_m.matmul(x3, y3), (x_shape[0],) + x_mid + y_trail)


class Dot(_Merge):
    """Dot product of two samples' tensors over given axes (``keras.layers.Dot(axes, normalize=False)``).

    ``axes``: an int (the same axis of both inputs) or a pair; negative axes count from the end. With
    ``normalize=True`` each input is first L2-normalized along its axis (``ops.normalize``, epsilon 1e-7), so the
    output is the cosine proximity. Shapes: see :func:`batch_dot`; a result of rank 1 becomes (batch, 1).

    Raises:
        TypeError: ``axes`` neither an int nor a list/tuple.
        ValueError: ``axes`` not two ints; inputs that are not a list of two, or whose sizes on the axes
            differ (Keras's messages).
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(f"Invalid type for argument `axes`: it should be a list or an int. Received: "
                                f"axes={axes}")
            if len(axes) != 2:
                raise ValueError(f"Invalid format for argument `axes`: it should contain two elements. Received: "
                                 f"axes={axes}")
            if not isinstance(axes[0], int) or not isinstance(axes[1], int):
                raise ValueError(f"Invalid format for argument `axes`: list elements should be integers. Received: "
                                 f"axes={axes}")
        self.axes = axes
        self.normalize = normalize
        self.supports_masking = True

    def _axes_for(self, shapes):
        if isinstance(self.axes, int):
            return [self.axes % len(shapes[0]), self.axes % len(shapes[1])] if self.axes < 0 else [self.axes] * 2
        return [a % len(s) if a < 0 else a for a, s in zip(self.axes, shapes)]

    def _output_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 2 or \
                not isinstance(input_shape[0], (tuple, list)):
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                             f"input_shape={input_shape}")
        shape1, shape2 = list(input_shape[0]), list(input_shape[1])
        axes = self._axes_for([shape1, shape2])
        if None not in (shape1[axes[0]], shape2[axes[1]]) and shape1[axes[0]] != shape2[axes[1]]:
            raise ValueError(f"Incompatible input shapes: axis values {shape1[axes[0]]} (at axis {axes[0]}) != "
                             f"{shape2[axes[1]]} (at axis {axes[1]}). Full input shapes: {tuple(shape1)}, "
                             f"{tuple(shape2)}")
        shape1.pop(axes[0])
        shape2.pop(axes[1])
        shape2.pop(0)
        out = shape1 + shape2
        return tuple(out + [1] if len(out) == 1 else out)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"A `Dot` layer should be called on exactly 2 inputs. Received: inputs={inputs!r:.200}")
        self._output_shape([tuple(x.shape) for x in inputs])
        x1, x2 = inputs
        axes = self._axes_for([x1.shape, x2.shape])
        if self.normalize:
            from .normalization import l2_normalize
            x1, x2 = l2_normalize(x1, axes[0], 1e-7), l2_normalize(x2, axes[1], 1e-7)
        out = batch_dot(x1, x2, axes)
        return _a.expand_dims(out, -1) if out.ndim == 1 else out

    def compute_mask(self, inputs, previous_mask):
        return None

    def get_config(self):
        c = super().get_config()
        c.update({"axes": self.axes, "normalize": self.normalize})
        return c


def _functional(cls):
    def fn(inputs, **kwargs):
        return cls(**kwargs)(inputs)
    fn.__name__ = cls.__name__.lower()
    fn.__doc__ = f"Functional interface to ``{cls.__name__}``: ``{fn.__name__}(inputs, **kwargs)``."
    return fn


add = _functional(Add)
subtract = _functional(Subtract)
multiply = _functional(Multiply)
average = _functional(Average)
maximum = _functional(Maximum)
minimum = _functional(Minimum)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional interface to ``Concatenate``: ``concatenate(inputs, axis=-1, **kwargs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """Functional interface to ``Dot``: ``dot(inputs, axes=-1, **kwargs)``."""
    return Dot(axes=axes, **kwargs)(inputs)
