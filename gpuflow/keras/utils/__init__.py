"""``keras.utils``."""
from .file_utils import get_file  # noqa: F401
from .numerical_utils import normalize, to_categorical  # noqa: F401
from .progbar import Progbar  # noqa: F401
from .py_dataset import PyDataset  # noqa: F401
Sequence = PyDataset  # Keras 3's alias of the Keras 2 name
from .timeseries_dataset import timeseries_dataset_from_array  # noqa: F401
from .image_dataset import image_dataset_from_directory  # noqa: F401
from .image_utils import array_to_img, img_to_array, load_img, save_img  # noqa: F401
from .sequence_utils import pad_sequences  # noqa: F401
from .dataset_utils import pack_x_y_sample_weight, split_dataset, unpack_x_y_sample_weight  # noqa: F401
from ..config import (disable_interactive_logging, enable_interactive_logging,  # noqa: F401
                      is_interactive_logging_enabled)
from ..backend import clear_session, is_keras_tensor, standardize_dtype  # noqa: F401


def set_random_seed(seed):
    """Seeds Python's ``random``, NumPy's global generator and gpuflow's generators
    (``keras.utils.set_random_seed``)."""
    import random as _pyrandom
    import numpy as _np
    from ... import random as _gfrandom
    _pyrandom.seed(seed)
    _np.random.seed(seed)
    _gfrandom.set_seed(seed)


def __getattr__(name):
    # keras.saving's names that Keras also exports from keras.utils; imported when first asked for, since
    # keras.saving imports the layers and models, which import this package.
    if name in ("CustomObjectScope", "custom_object_scope", "get_custom_objects", "get_registered_name",
                "get_registered_object", "register_keras_serializable", "serialize_keras_object",
                "deserialize_keras_object"):
        from .. import saving
        return getattr(saving, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
