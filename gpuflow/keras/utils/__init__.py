"""``keras.utils``."""
from .file_utils import get_file  # noqa: F401
from .numerical_utils import to_categorical  # noqa: F401
from .progbar import Progbar  # noqa: F401
from .py_dataset import PyDataset  # noqa: F401
Sequence = PyDataset  # Keras 3's alias of the Keras 2 name
from .timeseries_dataset import timeseries_dataset_from_array  # noqa: F401
from .image_dataset import image_dataset_from_directory  # noqa: F401


def set_random_seed(seed):
    """Seeds Python's ``random``, NumPy's global generator and gpuflow's generators
    (``keras.utils.set_random_seed``)."""
    import random as _pyrandom
    import numpy as _np
    from ... import random as _gfrandom
    _pyrandom.seed(seed)
    _np.random.seed(seed)
    _gfrandom.set_seed(seed)
