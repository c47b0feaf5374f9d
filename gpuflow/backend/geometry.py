"""The geometry of a 2-D convolution or pooling window over an NHWC input: the one place output sizes and
padding are computed.

Padding follows TensorFlow's definition (https://www.tensorflow.org/api_docs/python/tf/nn#notes_on_padding_2):
``VALID`` uses none; ``SAME`` gives ``out = ceil(in / stride)`` with
``total = max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0)`` pixels of padding, ``total // 2``
before and the rest after; explicit padding gives ``out = (in + before + after - (k - 1) * dilation - 1)
// stride + 1``.
"""
from __future__ import annotations

from dataclasses import InitVar, dataclass, field


def conv_output_size(in_size, k, s, d, padding, op="conv2d"):
    """Output size and (before, after) padding of one spatial axis of a convolution or pooling.

    Args:
        in_size: the input size along the axis (int).
        k, s, d: window size, stride and dilation along the axis (ints >= 1).
        padding: ``"VALID"``, ``"SAME"`` (upper case) or an explicit ``(before, after)`` pair.
        op: the op named in the error.

    Returns:
        ``(out, (before, after))``.

    Raises:
        ValueError: if the output would be empty (the message names the op and every argument).
    """
    eff = (k - 1) * d + 1
    if padding == "VALID":
        out = (in_size - eff) // s + 1
        pads = (0, 0)
    elif padding == "SAME":
        out = -(-in_size // s)
        total = max((out - 1) * s + eff - in_size, 0)
        pads = (total // 2, total - total // 2)
    else:  # explicit (before, after)
        pads = tuple(int(p) for p in padding)
        out = (in_size + pads[0] + pads[1] - eff) // s + 1
    if out <= 0:
        raise ValueError(f"{op}: the input is too small for the window. Received: input size {in_size} along a "
                         f"spatial axis, window {k} (dilation {d}, effective {eff}), stride {s}, "
                         f"padding={padding!r}, which gives an output size of {out}.")
    return out, pads


def padding_per_axis(padding, op="conv2d"):
    """The padding of the height and of the width axis, as :func:`conv_output_size` takes each.

    Args:
        padding: ``"same"``/``"valid"`` (any case), or explicit ``[[top, bottom], [left, right]]`` or
            TensorFlow's ``[[0, 0], [top, bottom], [left, right], [0, 0]]``.
        op: the op named in errors.

    Returns:
        ``(height padding, width padding)``: each ``"SAME"``, ``"VALID"`` or a ``(before, after)`` pair.

    Raises:
        ValueError: an unknown string, padding of the batch or channel axis, or a malformed list.
    """
    if isinstance(padding, str):
        p = padding.upper()
        if p not in ("SAME", "VALID"):
            raise ValueError(f"{op}: unknown padding. Expected 'SAME' or 'VALID' (or 'same'/'valid'). "
                             f"Received: padding={padding!r}")
        return p, p
    p = [tuple(int(a) for a in pair) for pair in padding]
    if len(p) == 4:
        if p[0] != (0, 0) or p[3] != (0, 0):
            raise ValueError(f"{op}: explicit padding of the batch and channel axes must be 0. Received: {padding}")
        p = p[1:3]
    if len(p) != 2:
        raise ValueError(f"{op}: explicit padding must be [[0,0],[top,bottom],[left,right],[0,0]]. Received: {padding}")
    return p[0], p[1]


def _ints(name, v, n):
    v = tuple(int(a) for a in v)
    if len(v) != n:
        raise ValueError(f"ConvGeometry: expected {name} of {n} ints. Received: {name}={v}")
    return v


@dataclass(frozen=True)
class ConvGeometry:
    """Where a 2-D window (a convolution's kernel or a pooling window) meets an NHWC input.

    Built once per op, from explicit pads (``ConvGeometry(input_shape, kernel_hw, strides, dilations, pads)``)
    or from Keras/TensorFlow padding (:meth:`of`), and handed to every convolution and pooling primitive.
    The output size is computed on construction, by :func:`conv_output_size`.

    Attributes:
        input_shape: ``(N, H, W, C)`` of the (unpadded) input: ints.
        kernel_hw: ``(kh, kw)``, the kernel's or the pooling window's size.
        strides: ``(sh, sw)``.
        dilations: ``(dh, dw)``; ``(1, 1)`` for pooling.
        pads: ``(top, bottom, left, right)`` in pixels.
        output_hw: ``(OH, OW)``, computed.

    Raises:
        ValueError: on construction, if the output would be empty (naming ``op``).
    """

    input_shape: tuple
    kernel_hw: tuple
    strides: tuple = (1, 1)
    dilations: tuple = (1, 1)
    pads: tuple = (0, 0, 0, 0)
    output_hw: tuple = field(init=False)
    op: InitVar[str] = "conv2d"

    def __post_init__(self, op):
        for name, n in (("input_shape", 4), ("kernel_hw", 2), ("strides", 2), ("dilations", 2), ("pads", 4)):
            object.__setattr__(self, name, _ints(name, getattr(self, name), n))
        (_, h, w, _), (kh, kw), (sh, sw), (dh, dw), (t, b, l, r) = (
            self.input_shape, self.kernel_hw, self.strides, self.dilations, self.pads)
        object.__setattr__(self, "output_hw", (conv_output_size(h, kh, sh, dh, (t, b), op)[0],
                                               conv_output_size(w, kw, sw, dw, (l, r), op)[0]))

    @classmethod
    def of(cls, input_shape, kernel_hw, strides=(1, 1), dilations=(1, 1), padding="valid", op="conv2d"):
        """The geometry of a window over an input, with Keras's or TensorFlow's padding.

        Args:
            input_shape: ``(N, H, W, C)``.
            kernel_hw: ``(kh, kw)``: a kernel's ``w.shape[:2]`` or a pooling window.
            strides, dilations: ``(h, w)`` pairs of ints >= 1.
            padding: ``"valid"``, ``"same"`` (any case) or explicit, as :func:`padding_per_axis` takes it.
            op: the op named in errors.

        Raises:
            ValueError: malformed padding, or an input too small for the window.
        """
        ph, pw = padding_per_axis(padding, op)
        _, (t, b) = conv_output_size(int(input_shape[1]), int(kernel_hw[0]), int(strides[0]), int(dilations[0]), ph, op)
        _, (l, r) = conv_output_size(int(input_shape[2]), int(kernel_hw[1]), int(strides[1]), int(dilations[1]), pw, op)
        return cls(input_shape, kernel_hw, strides, dilations, (t, b, l, r), op)

    @property
    def padded_hw(self):
        """``(H + top + bottom, W + left + right)``."""
        t, b, l, r = self.pads
        return self.input_shape[1] + t + b, self.input_shape[2] + l + r

    def output_shape(self, channels):
        """``(N, OH, OW, channels)``."""
        return (self.input_shape[0],) + self.output_hw + (int(channels),)
