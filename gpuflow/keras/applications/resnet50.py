"""``keras.applications.resnet50``: ResNet50 and its preprocessing, as Keras exports them under this name too."""
from .resnet import ResNet50, decode_predictions, preprocess_input  # noqa: F401
