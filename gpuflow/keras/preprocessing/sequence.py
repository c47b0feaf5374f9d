"""``keras.preprocessing.sequence``: ``pad_sequences`` (see :mod:`gpuflow.keras.utils.sequence_utils`)."""
from ..utils.sequence_utils import pad_sequences  # noqa: F401
