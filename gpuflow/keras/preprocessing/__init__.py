"""``keras.preprocessing``: Keras 3's home of the dataset builders and of the ``image`` and ``sequence`` helpers
(the same functions as in ``keras.utils``)."""
from . import image, sequence  # noqa: F401
from ..utils.image_dataset import image_dataset_from_directory  # noqa: F401
from ..utils.timeseries_dataset import timeseries_dataset_from_array  # noqa: F401
