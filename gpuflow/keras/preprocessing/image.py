"""``keras.preprocessing.image``: images to and from arrays and files (see :mod:`gpuflow.keras.utils.image_utils`)."""
from ..utils.image_utils import array_to_img, img_to_array, load_img, save_img  # noqa: F401
