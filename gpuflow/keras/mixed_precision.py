"""``keras.mixed_precision``: dtype policies (Keras 3's ``DTypePolicy``) and ``LossScaleOptimizer``.

A policy names two dtypes: the **variable dtype** a layer creates its weights in and the **compute dtype** it
computes in. ``"mixed_float16"`` and ``"mixed_bfloat16"`` keep float32 variables and compute in float16 /
bfloat16; any other name is one dtype for both (``"float32"``, ``"float16"``, ``"bfloat16"``, ``"float64"``,
...). As Keras 3 (``keras/src/dtype_policies/dtype_policy.py`` and ``keras/src/layers/layer.py``):

* ``Layer(dtype=None)`` takes the global policy (:func:`global_policy`, ``"float32"`` until
  :func:`set_global_policy`) when the layer is made; ``dtype=`` takes a policy or its name.
  ``layer.dtype_policy`` is the policy, ``layer.dtype`` and ``layer.variable_dtype`` the variable dtype,
  ``layer.compute_dtype`` the compute dtype.
* Calling a layer casts its floating inputs to the compute dtype (integer and bool inputs are left alone);
  inside the call its floating weights read as the compute dtype (Keras's autocast: a cast recorded by the
  tape, so the gradients come back in the variable dtype), unless made with ``add_weight(autocast=False)``.
* Losses are computed in float32 (a ``Loss`` casts ``y_pred`` to its own dtype, float32 by default). Keras
  leaves the softmax in the compute dtype: its guidance is to make the model's last layer
  ``Activation("softmax", dtype="float32")``, whose float32 policy casts its input up.
* ``Model.compile`` wraps the optimizer in a :class:`LossScaleOptimizer` when the model's policy is
  ``"mixed_float16"`` (unless ``auto_scale_loss=False``); the training step multiplies the loss by the
  scale and the optimizer divides the gradients by it.

On the CPU, float16 is NumPy's and bfloat16 the ``ml-dtypes`` package's (``pip install 'gpuflow[bfloat16]'``);
the convolution, pooling and dense primitives compute both in float32 and round once, as tensor cores do.

Policies are saved in ``.keras`` files as Keras 3 writes them:
``{"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_float16"}, "registered_name": null}``.
"""
from __future__ import annotations

import functools
import threading

from .. import dtypes as _dtypes
from . import config as _config
from .optimizers import LossScaleOptimizer

__all__ = ["DTypePolicy", "Policy", "FloatDTypePolicy", "dtype_policy", "global_policy", "set_dtype_policy",
           "set_global_policy", "get", "serialize", "LossScaleOptimizer"]

_MIXED = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


class DTypePolicy:
    """A layer's dtype policy (``keras.DTypePolicy``, also ``keras.mixed_precision.Policy``).

    Args:
        name: ``"mixed_float16"`` (float16 compute, float32 variables), ``"mixed_bfloat16"`` (bfloat16
            compute, float32 variables), or a dtype name for both (``"float32"``, ``"float16"``,
            ``"bfloat16"``, ``"float64"``, ...). None: the global policy's name.

    Attributes:
        name: the policy name.
        compute_dtype: the dtype a layer computes in (str).
        variable_dtype: the dtype a layer creates its weights in (str).

    Raises:
        TypeError: ``name`` is not a string (Keras's message), or is "bfloat16"/"mixed_bfloat16" without the
            ml-dtypes package (saying how to install it).
        ValueError: ``name`` names no policy (Keras's message).
    """

    def __init__(self, name=None):
        if name is None:
            name = dtype_policy().name
        if not isinstance(name, str):
            raise TypeError(f"'name' must be a string, such as 'mixed_float16'. Received: name={name} "
                            f"(of type {type(name)})")
        self._name = name
        self._compute_dtype, self._variable_dtype = self._parse_name(name)

    @staticmethod
    def _parse_name(name):
        if name in _MIXED:
            return _dtypes.as_dtype(_MIXED[name]).name, "float32"
        try:
            dtype = _dtypes.as_dtype(name).name
        except TypeError as e:
            if "ml-dtypes" in str(e):
                raise
            raise ValueError(f"Cannot convert '{name}' to a mixed precision DTypePolicy. Valid policies include "
                             "'mixed_float16', 'mixed_bfloat16', and the name of any float dtype such as "
                             "'float32'.") from None
        return dtype, dtype

    @property
    def name(self):
        return self._name

    @property
    def compute_dtype(self):
        return self._compute_dtype

    @property
    def variable_dtype(self):
        return self._variable_dtype

    @property
    def quantization_mode(self):
        """Always None: gpuflow has no quantized policies."""
        return None

    def get_config(self):
        return {"name": self._name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and self._name == other._name

    def __hash__(self):
        return hash(self._name)

    def __repr__(self):
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy
FloatDTypePolicy = DTypePolicy

_state = threading.local()  # Keras's global_state is per thread too


def dtype_policy():
    """The global policy (``keras.mixed_precision.global_policy``): until :func:`set_global_policy`, the policy of
    ``keras.config.floatx()`` (``"float32"`` unless ``set_floatx`` changed it), as Keras."""
    return getattr(_state, "policy", None) or _floatx_policy(_config.floatx())


@functools.lru_cache(maxsize=None)
def _floatx_policy(name):
    return DTypePolicy(name)


def set_dtype_policy(policy):
    """Sets the global policy (``keras.mixed_precision.set_global_policy``), used by layers made afterwards.

    Args:
        policy: a :class:`DTypePolicy` or its name.

    Raises:
        ValueError: neither a policy nor a string (Keras's message), or an unknown name.
    """
    if not isinstance(policy, DTypePolicy):
        if not isinstance(policy, str):
            raise ValueError(f"Invalid `policy` argument. Expected the string name of a policy (such as "
                             f"'mixed_float16') or a `DTypePolicy` instance. Received: policy={policy} "
                             f"(of type {type(policy)})")
        policy = DTypePolicy(policy)
    _state.policy = policy


global_policy = dtype_policy
set_global_policy = set_dtype_policy


def get(identifier):
    """A policy from None (the global one), a policy, its name, a dtype, or its Keras config dict
    (``keras.dtype_policies.get``).

    Raises:
        ValueError: anything else (Keras's "Cannot interpret `dtype` argument" message), or an unknown name.
    """
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict) and identifier.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
        return DTypePolicy.from_config(identifier.get("config") or {})
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    try:
        return DTypePolicy(_dtypes.as_dtype(identifier).name)
    except TypeError:
        raise ValueError(f"Cannot interpret `dtype` argument. Expected a string or an instance of DTypePolicy. "
                         f"Received: dtype={identifier}") from None


def serialize(policy):
    """The Keras 3 config dict of a policy (what ``.keras`` files hold under a layer's ``"dtype"``)."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": policy.get_config(), "registered_name": None}
