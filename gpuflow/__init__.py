"""gpuflow: a deep learning framework with a NumPy reference backend and a CUDA path,
and a Keras-compatible API. ``import gpuflow as tf`` runs tf.keras code for every
feature gpuflow supports.

Importing never needs a GPU: the device is chosen lazily (see :mod:`gpuflow.device`).
"""
from __future__ import annotations

__version__ = "0.1.0"

from . import dtypes
from .dtypes import (DType, as_dtype, float16, float32, float64, int8, int16, int32, int64,  # noqa: F401
                     uint8, bool)
if "bfloat16" in dtypes.__all__:  # NumPy's bfloat16 comes from the optional ml-dtypes package
    from .dtypes import bfloat16  # noqa: F401
from . import device  # noqa: F401  (the module, callable as tf.device: gpuflow.device("cpu"); see device.py)
from .device import Device, DeviceUnavailableError  # noqa: F401
from .tensor import Tensor, Variable, TensorShape  # noqa: F401
from .autodiff import GradientTape, stop_recording  # noqa: F401
from .ops.core import convert_to_tensor  # noqa: F401
from .ops.math_ops import (  # noqa: F401
    add, subtract, multiply, divide, truediv, floordiv, pow, negative, abs, sign, exp, log, sqrt, rsqrt, square,
    sigmoid, tanh, maximum, minimum, matmul, reduce_sum, reduce_mean, reduce_max, reduce_min, reduce_prod,
    reduce_any, reduce_all, reduce_logsumexp, argmax, argmin, equal, not_equal, less, less_equal, greater,
    greater_equal, logical_and, logical_or, logical_not, where, cast, clip_by_value, add_n, round, floor, ceil,
    sin, cos, tan, sinh, cosh, asin, acos, atan, cumsum,
)
from .ops.array_ops import (  # noqa: F401
    reshape, transpose, concat, stack, unstack, squeeze, expand_dims, one_hot, broadcast_to, zeros, ones, fill,
    zeros_like, ones_like, identity, stop_gradient, gather, shape, size, rank, tile, pad, split, range,
    linspace, eye, boolean_mask, reverse, roll, repeat, sequence_mask, gather_nd, meshgrid, scatter_nd,
    tensor_scatter_nd_update, tensor_scatter_nd_add,
)
from .ops.math_ops import atan2  # noqa: F401
from .ops.math_ops import divide as realdiv  # noqa: F401
from .ops.core import is_tensor, get_static_value  # noqa: F401
from .ops.linalg_ops import einsum, tensordot, norm, clip_by_norm, clip_by_global_norm  # noqa: F401
from .ops.sort_ops import sort, argsort, unique  # noqa: F401
from .ops.control_flow_ops import cond, while_loop, map_fn, vectorized_map, executing_eagerly  # noqa: F401
from .ops.logging_ops import print  # noqa: F401,A004  (tf.print)
from .ops.gradient_ops import custom_gradient  # noqa: F401
from .ops.tensor_array_ops import TensorArray  # noqa: F401
from .ops.array_ops import ensure_shape  # noqa: F401
from . import debugging, errors, nest  # noqa: F401  (tf.debugging, tf.errors, tf.nest)
from .module import Module, name_scope, get_current_name_scope  # noqa: F401

newaxis = None  # tf.newaxis
from . import ops, nn, random, math, linalg, profiler  # noqa: F401
from . import io, summary  # noqa: F401  (tf.io (files), tf.summary; tensorboardX is imported by the first writer)
from . import distribute  # noqa: F401  (tf.distribute; mpi4py is imported only by MultiWorkerMirroredStrategy)
from . import config  # noqa: F401  (tf.config)
from . import train  # noqa: F401  (tf.train: Checkpoint, CheckpointManager, latest_checkpoint)
from .tf_function import function, TensorSpec  # noqa: F401  (tf.function runs eagerly; see tf_function.py)


def constant(value, dtype=None, shape=None, name=None):
    """Creates a constant tensor (``tf.constant``).

    Args:
        value: a Python scalar, nested list, NumPy array or Tensor.
        dtype: optional dtype; the value is cast to it (Python floats default to
            float32, ints to int32).
        shape: optional shape; a scalar is filled to it, a value with the same
            number of elements is reshaped to it.

    Raises:
        TypeError: for non-numeric values.
        ValueError: if ``shape`` does not fit the value.
    """
    if isinstance(value, Tensor):
        t = cast(value, dtype) if dtype is not None else value
        t = identity(t)
    else:
        t = convert_to_tensor(value, dtype=dtype)
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        n = 1
        for d in shape:
            n *= d
        if t.ndim == 0 or t._data.size == 1:
            t = broadcast_to(reshape(t, ()), shape)
            t = identity(t)
        elif t._data.size == n:
            t = reshape(t, shape)
        else:
            raise ValueError(f"constant: cannot fit a value of shape {tuple(t.shape)} into shape {shape}.")
    return t


# TF 2's initializers (tf.random_normal_initializer ...): the Keras classes of the same arguments and defaults
_INITIALIZERS = {"random_normal_initializer": "RandomNormal", "random_uniform_initializer": "RandomUniform",
                 "constant_initializer": "Constant", "zeros_initializer": "Zeros", "ones_initializer": "Ones"}


def _lazy(name):
    # keras, data and image (built on keras's image ops) are imported on first use, keeping `import gpuflow` light.
    if name in ("keras", "data", "image"):
        import importlib
        mod = importlib.import_module(f".{name}", __name__)
        globals()[name] = mod
        return mod
    if name in _INITIALIZERS:
        from .keras import initializers
        return getattr(initializers, _INITIALIZERS[name])
    return None


from ._unsupported import TF as _TF_NAMES, module_getattr as _module_getattr  # noqa: E402

# A TensorFlow name gpuflow lacks: "`tf.X` is not supported in gpuflow <version>" (still an AttributeError).
__getattr__ = _module_getattr(__name__, "tf", _TF_NAMES, lazy=_lazy)
