"""``keras.applications``: VGG16, VGG19, ResNet50/101/152 and MobileNetV2 with Keras 3.15's layer names and weight
order, so ``weights="imagenet"`` loads the files Keras publishes (see :mod:`.imagenet_utils` for where they are
looked for), and each family's ``preprocess_input`` / ``decode_predictions`` in its module
(``keras.applications.vgg16.preprocess_input``...)."""
from . import imagenet_utils, mobilenet_v2, resnet, resnet50, vgg16, vgg19  # noqa: F401
from .mobilenet_v2 import MobileNetV2  # noqa: F401
from .resnet import ResNet50, ResNet101, ResNet152  # noqa: F401
from .vgg16 import VGG16  # noqa: F401
from .vgg19 import VGG19  # noqa: F401
