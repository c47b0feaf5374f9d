"""Merge layers (``keras.layers``): Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum,
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
