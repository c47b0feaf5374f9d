"""``keras.ops`` (``from keras import ops``): Keras 3.15's backend-agnostic operations on gpuflow tensors.

Organised as Keras's ``keras/src/ops``: :mod:`.numpy` (NumPy-style maths, reductions, shapes, indexing,
creation), :mod:`.nn` (activations, cross-entropies, normalization, attention, convolution and pooling),
:mod:`.math` (segment reductions, ``top_k``, ``logsumexp``, ``erf``...), :mod:`.linalg`, :mod:`.core`
(conversion, dtypes, control flow, slicing and scattering) and :mod:`.image`; all but ``image`` are exported flat
here, and ``ops.nn``, ``ops.linalg``, ``ops.image`` and ``ops.numpy`` are submodules, as in Keras.

Arguments, defaults and result dtypes follow Keras 3.15 on the TensorFlow backend; inputs may be gpuflow tensors,
NumPy arrays, nested lists or Python numbers, and results are gpuflow Tensors, differentiable through
``GradientTape`` except where a docstring says otherwise. The ops run eagerly; called on symbolic tensors (a
``keras.Input`` or a layer's output) they become nodes of the functional model, as in Keras 3, saved and loaded in
Keras's form (:mod:`.operation`). A Keras op gpuflow does not implement raises
AttributeError "`tf.keras.ops.<name>` is not supported in gpuflow".
"""
from . import core, einops, image, linalg, math, nn, numpy  # noqa: F401
from .einops import rearrange  # noqa: F401
from .linalg import *  # noqa: F401,F403
from .math import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403
from .core import *  # noqa: F401,F403
from .numpy import *  # noqa: F401,F403  (last: keras.ops.tanh, abs, ... are keras.ops.numpy's)
from . import _names
from ..._unsupported import module_getattr

__all__ = [n for n in _names.OPS.split() if n in globals()]
__getattr__ = module_getattr(__name__, "tf.keras.ops", _names.OPS)  # a Keras op gpuflow lacks: "not supported"
