"""``keras.layers.MaxPooling1D`` and ``AveragePooling1D`` (channels_last), as 2-D pooling of height 1.

(batch, steps, channels) is pooled as (batch, 1, steps, channels) with a (1, pool_size) window, so the 2-D
pooling ops and their CUDA kernels do the work.
"""
from __future__ import annotations

from ...ops import nn_ops as _nn
from .pooling import BasePooling


class _Pooling1D(BasePooling):
    rank = 1


class MaxPooling1D(_Pooling1D):
    """Max pooling over windows of ``pool_size`` steps (``keras.layers.MaxPooling1D``); strides default to
    pool_size.

    Input (batch, steps, channels) -> (batch, new_steps, channels), TensorFlow's padding rules.

    Raises:
        ValueError: a bad ``pool_size``/``strides``/``padding``, or an input that is not rank 3.
    """
    _op = staticmethod(_nn.max_pool2d)


class AveragePooling1D(_Pooling1D):
    """Average pooling over windows of ``pool_size`` steps (``keras.layers.AveragePooling1D``); "same" padding
    is left out of each average. Shapes and errors as :class:`MaxPooling1D`."""
    _op = staticmethod(_nn.avg_pool2d)


MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
