"""``keras.applications.vgg19``: VGG19, as ``keras/src/applications/vgg19.py`` (Keras 3.15): VGG16 with a fourth
convolution in blocks 3, 4 and 5 (``block3_conv4``...); 143,667,240 parameters with the top, 20,024,384 without."""
from __future__ import annotations

from .vgg16 import build_vgg, decode_predictions, preprocess_input  # noqa: F401  (the same preprocessing)

WEIGHTS_PATH = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5")
WEIGHTS_PATH_NO_TOP = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                       "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
WEIGHTS_HASHES = ("cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6")  # md5: top, no top


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg19"):
    """Instantiates VGG19 (``keras.applications.VGG19``). Arguments, returns and errors as
    :func:`gpuflow.keras.applications.vgg16.VGG16`."""
    return build_vgg((2, 2, 4, 4, 4), name, (WEIGHTS_PATH, WEIGHTS_PATH_NO_TOP), WEIGHTS_HASHES, include_top,
                     weights, input_tensor, input_shape, pooling, classes, classifier_activation)
