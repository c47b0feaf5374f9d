"""``gpuflow.data`` — TensorFlow's ``tf.data`` input pipeline (see :mod:`gpuflow.data.dataset`)."""
from .dataset import Dataset, AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY  # noqa: F401


class experimental:  # noqa: N801 - TensorFlow's namespace
    AUTOTUNE = AUTOTUNE
    INFINITE_CARDINALITY = INFINITE_CARDINALITY
    UNKNOWN_CARDINALITY = UNKNOWN_CARDINALITY
