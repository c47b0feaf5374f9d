"""``keras.layers``."""
from .base import Layer, InputSpec, KerasTensor  # noqa: F401
from .core import InputLayer, Input, Dense, Activation, ReLU, Softmax, Flatten, Dropout  # noqa: F401
from .conv import Conv2D  # noqa: F401
from .pooling import MaxPooling2D, AveragePooling2D, MaxPool2D, AvgPool2D  # noqa: F401

Convolution2D = Conv2D
