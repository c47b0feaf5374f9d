"""``keras.layers.EinsumDense``: a dense layer whose contraction is an einsum equation (Keras 3.15's
``keras/src/layers/core/einsum_dense.py``: arguments, the kernel and bias shapes from the equation, config).

The einsum of the input and the kernel is :func:`gpuflow.ops.linalg_ops.einsum` (``tf.einsum``), so it
differentiates on every backend.
"""
from __future__ import annotations

import re
import string

from ...ops import linalg_ops as _linalg
from .. import activations as _act, initializers as _init
from .. import regularizers as _regularizers
from .base import Layer, InputSpec

__all__ = ["EinsumDense"]


def _expand_ellipsis(equation, ndims):
    """``equation`` with each operand's "..." replaced by letters it does not use (as many as its rank asks)."""
    if "..." not in equation:
        return equation
    inputs, out = equation.split("->")
    specs = inputs.split(",")
    free = [c for c in string.ascii_letters if c not in equation]
    n = max(nd - (len(s) - 3) for s, nd in zip(specs, ndims) if "..." in s)
    fill = "".join(free[:n])
    specs = [s.replace("...", fill[n - (nd - (len(s) - 3)):]) if "..." in s else s for s, nd in zip(specs, ndims)]
    return ",".join(specs) + "->" + out.replace("...", fill)


def _analyze_einsum_string(equation, bias_axes, input_shape, output_shape):
    """Keras 3.15's ``_analyze_einsum_string``: (kernel shape, bias shape or None, full output shape, the kernel's
    input axes, its output axes) for an input of ``input_shape``.

    Raises:
        ValueError: an equation of another form, or shapes/axes that do not fit it (Keras's messages).
    """
    dot_replaced = re.sub(r"\.\.\.", "0", equation)
    for pattern, left in (("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", False),
                          ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", True),
                          ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", False)):
        split = re.match(pattern, dot_replaced)
        if split:
            return _analyze_split_string(split, bias_axes, input_shape, output_shape, left)
    raise ValueError(f"Invalid einsum equation '{equation}'. Equations must be in the form [X],[Y]->[Z], "
                     f"...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")


def _analyze_split_string(split_string, bias_axes, input_shape, output_shape, left_elided=False):
    input_spec, weight_spec, output_spec = split_string.group(1), split_string.group(2), split_string.group(3)
    elided = len(input_shape) - len(input_spec)
    output_shape = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    output_shape.insert(0, input_shape[0])
    if elided > 0 and left_elided:
        for i in range(1, elided):
            output_shape.insert(1, input_shape[i])  # Keras's order (the elided axes reversed), kept
    elif elided > 0 and not left_elided:
        for i in range(len(input_shape) - elided, len(input_shape)):
            output_shape.append(input_shape[i])
    if left_elided:
        input_dim_map = {dim: (i + elided) - len(input_shape) for i, dim in enumerate(input_spec)}
        output_dim_map = {dim: (i + elided) for i, dim in enumerate(output_spec)}
    else:
        input_dim_map = {dim: i for i, dim in enumerate(input_spec)}
        output_dim_map = {dim: i for i, dim in enumerate(output_spec)}
    for dim in input_spec:
        input_shape_at_dim = input_shape[input_dim_map[dim]]
        if dim in output_dim_map:
            output_shape_at_dim = output_shape[output_dim_map[dim]]
            if output_shape_at_dim is not None and output_shape_at_dim != input_shape_at_dim:
                raise ValueError(f"Input shape and output shape do not match at shared dimension '{dim}'. Input "
                                 f"shape is {input_shape_at_dim}, and output shape is "
                                 f"{output_shape[output_dim_map[dim]]}.")
    for dim in output_spec:
        if dim not in input_spec and dim not in weight_spec:
            raise ValueError(f"Dimension '{dim}' was specified in the output '{output_spec}' but has no "
                             f"corresponding dim in the input spec '{input_spec}' or weight spec '{output_spec}'")
    weight_shape, input_axes, output_axes = [], [], []
    for i, dim in enumerate(weight_spec):
        if dim in output_dim_map:
            weight_shape.append(output_shape[output_dim_map[dim]])
            output_axes.append(i)
        elif dim in input_dim_map:
            weight_shape.append(input_shape[input_dim_map[dim]])
            input_axes.append(i)
        else:
            raise ValueError(f"Weight dimension '{dim}' did not have a match in either the input spec "
                             f"'{input_spec}' or the output spec '{output_spec}'. For this layer, the weight must "
                             f"be fully specified.")
    bias_shape = None
    if bias_axes is not None:
        num_left_elided = elided if left_elided else 0
        idx_map = {char: output_shape[i + num_left_elided] for i, char in enumerate(output_spec)}
        for char in bias_axes:
            if char not in output_spec:
                raise ValueError(f"Bias dimension '{char}' was requested, but is not part of the output spec "
                                 f"'{output_spec}'")
        bias_output_spec = output_spec[min(output_spec.find(char) for char in bias_axes):]
        bias_shape = [idx_map[char] if char in bias_axes else 1 for char in bias_output_spec]
        if not left_elided:
            bias_shape += [1] * elided
    return weight_shape, bias_shape, output_shape, input_axes, output_axes


class EinsumDense(Layer):
    """A dense layer of any rank defined by an einsum equation (``keras.layers.EinsumDense``).

    ``y = activation(einsum(equation, inputs, kernel) + bias)``; the kernel's shape follows from the equation,
    the input shape and ``output_shape`` (the output shape without the batch axis; None for an axis the input
    gives), as Keras 3.15 computes it; ``bias_axes`` (letters of the output) give the bias's axes. A
    VarianceScaling ``kernel_initializer`` (glorot_uniform by default) takes its fans from the equation's
    input and output axes of the kernel, as Keras's. Weights ``kernel``, then ``bias``.

    Examples: ``EinsumDense("ab,bc->ac", output_shape=64)`` is Dense(64); ``EinsumDense("abc,cd->abd",
    output_shape=(None, 64), bias_axes="d")`` a Dense over the last axis of a sequence.

    Raises:
        ValueError: an equation of another form than ``[X],[Y]->[Z]``, ``...[X],[Y]->...[Z]`` or
            ``[X]...,[Y]->[Z]...``, or shapes that do not fit it (Keras's messages).
        NotImplementedError: ``lora_rank`` or ``quantization_config`` (not supported).
    """

    def __init__(self, equation, output_shape, activation=None, bias_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, lora_rank=None, lora_alpha=None, gptq_unpacked_column_size=None,
                 quantization_config=None, **kwargs):
        super().__init__(**kwargs)
        if lora_rank is not None or quantization_config is not None:
            raise NotImplementedError(f"EinsumDense: lora_rank and quantization_config are not supported. Received: "
                                      f"lora_rank={lora_rank!r}, quantization_config={quantization_config!r}")
        self.equation = equation
        self.partial_output_shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
        self.bias_axes = bias_axes
        self.activation = _act.get(activation)
        self.kernel_initializer = _init.get(kernel_initializer)
        self.bias_initializer = _init.get(bias_initializer)
        self._set_weight_options(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                                 kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)

    def build(self, input_shape):
        kernel_shape, bias_shape, _, input_axes, output_axes = _analyze_einsum_string(
            self.equation, self.bias_axes, input_shape, self.partial_output_shape)
        self.input_spec = InputSpec(ndim=len(input_shape))
        init = self.kernel_initializer
        if isinstance(init, _init.VarianceScaling) and (init.input_axes is None or init.output_axes is None):
            config = dict(init.get_config(), input_axes=input_axes, output_axes=output_axes)
            init = type(init).from_config(config)
        self.kernel = self.add_weight(name="kernel", shape=tuple(kernel_shape), initializer=init,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = None if bias_shape is None else self.add_weight(
            name="bias", shape=tuple(bias_shape), initializer=self.bias_initializer,
            regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        self.built = True

    def compute_output_shape(self, input_shape):
        """The einsum's output shape for ``input_shape``: each output letter's size from the input or the kernel.

        Keras 3.15's own ``compute_output_shape`` leaves the input's axes of an ``output_shape`` None unknown and
        puts elided ("...") axes in the wrong order, while its symbolic call traces the einsum and gets this
        shape; gpuflow's symbolic call uses this method, so it returns the traced shape.
        """
        kernel_shape = _analyze_einsum_string(self.equation, self.bias_axes, input_shape, self.partial_output_shape)[0]
        eq = _expand_ellipsis(self.equation.replace(" ", ""), (len(input_shape), len(kernel_shape)))
        (a, b), out = eq.split("->")[0].split(","), eq.split("->")[1]
        size = dict(zip(b, kernel_shape))
        size.update(zip(a, input_shape))
        return tuple(size[c] for c in out)

    def call(self, inputs, training=None):
        x = _linalg.einsum(self.equation, inputs, self.kernel)
        if self.bias is not None:
            x = x + self.bias
        return self.activation(x)

    def get_config(self):
        c = super().get_config()
        c.update({"output_shape": self.partial_output_shape, "equation": self.equation,
                  "activation": _act.serialize(self.activation), "bias_axes": self.bias_axes,
                  "kernel_initializer": _init.serialize(self.kernel_initializer),
                  "bias_initializer": _init.serialize(self.bias_initializer),
                  **self._weight_options_config("kernel_regularizer", "bias_regularizer"),
                  "activity_regularizer": _regularizers.serialize(self.activity_regularizer),
                  **self._weight_options_config("kernel_constraint", "bias_constraint"),
                  "quantization_config": None})
        return c
