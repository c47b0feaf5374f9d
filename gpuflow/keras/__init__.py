"""``gpuflow.keras``: the Keras 3 API on gpuflow (``import gpuflow as tf; tf.keras...``)."""
from . import activations, callbacks, datasets, initializers, layers, losses, metrics, optimizers, utils  # noqa: F401
from . import constraints, regularizers  # noqa: F401
from . import backend, config, preprocessing, random, saving  # noqa: F401
from .layers import Input, Layer  # noqa: F401
from .models import Model, Sequential  # noqa: F401
from . import models  # noqa: F401
from . import applications  # noqa: F401
from . import mixed_precision  # noqa: F401
from . import ops  # noqa: F401  (keras.ops)
from .mixed_precision import DTypePolicy, FloatDTypePolicy  # noqa: F401  (keras.DTypePolicy)

from .._unsupported import KERAS as _KERAS_NAMES, module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__, "tf.keras", _KERAS_NAMES)  # a Keras name gpuflow lacks: "not supported"
