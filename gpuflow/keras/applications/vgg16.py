"""``keras.applications.vgg16``: VGG16 (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale
Image Recognition", ICLR 2015), layer for layer as ``keras/src/applications/vgg16.py`` (Keras 3.15): the same layer
names, weight shapes and order, so Keras's published weight files load.
"""
from __future__ import annotations

from .. import layers
from ..models import Model
from . import imagenet_utils

WEIGHTS_PATH = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5")
WEIGHTS_PATH_NO_TOP = ("https://storage.googleapis.com/tensorflow/keras-applications/"
                       "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
WEIGHTS_HASHES = ("64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc")  # md5: top, no top


def build_vgg(convs_per_block, name, weights_paths, weights_hashes, include_top=True, weights="imagenet",
              input_tensor=None, input_shape=None, pooling=None, classes=1000, classifier_activation="softmax"):
    """VGG16 and VGG19: five blocks of 3x3 "same" ReLU convolutions (64, 128, 256, 512, 512 filters; the counts in
    ``convs_per_block``), each closed by 2x2 max pooling; then Flatten and the fully-connected top ``fc1``,
    ``fc2`` (4096 ReLU units) and ``predictions``, or the optional global pooling. Arguments: see :func:`VGG16`."""
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format="channels_last", require_flatten=include_top,
                                                    weights=weights)
    x, inputs = imagenet_utils.model_input(input_tensor, input_shape)
    for block, (filters, convs) in enumerate(zip((64, 128, 256, 512, 512), convs_per_block), 1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{block}_conv{i}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pool_top(x, pooling)
    model = Model(inputs, x, name=name)
    top = 0 if include_top else 1
    return imagenet_utils.load_weights(model, weights, weights_paths[top].rsplit("/", 1)[1], weights_paths[top],
                                       weights_hashes[top])


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg16"):
    """Instantiates VGG16 (``keras.applications.VGG16``); 138,357,544 parameters with the top, 14,714,688 without.

    Call :func:`preprocess_input` on the images first (RGB -> BGR, ImageNet mean subtracted, no scaling).

    Args:
        include_top: include the three fully-connected layers (``fc1``, ``fc2``, ``predictions``).
        weights: None (random initialization), ``"imagenet"`` (Keras's published file, downloaded into
            ``$KERAS_HOME/models/`` or found there; see :func:`imagenet_utils.get_file`), or the path of a weights
            file (legacy ``.h5``, ``.weights.h5``, ``.keras``).
        input_tensor: optional KerasTensor (from ``keras.Input`` or a layer) to use as the image input.
        input_shape: (height, width, 3) with height and width >= 32; only without the top (with it: (224, 224,
            3)). Default (224, 224, 3) with the top, (None, None, 3) without.
        pooling: without the top: None (the 4-D output of the last block), ``"avg"`` or ``"max"`` (global
            pooling to (batch, 512)).
        classes: number of classes of the top (1000 with ImageNet weights).
        classifier_activation: activation of ``predictions`` (a name or callable; None gives logits). With
            pretrained weights only None or ``"softmax"``.
        name: the model's name.

    Returns:
        A functional ``Model``: input (batch, h, w, 3) float32 -> (batch, classes) with the top, else
        (batch, h/32, w/32, 512) or (batch, 512) with pooling.

    Raises:
        ValueError: bad ``weights``, ``classes``, ``input_shape`` or ``classifier_activation`` (Keras's messages).
        FileNotFoundError: ``weights="imagenet"`` offline with no cached file (the message says where to put it).
    """
    return build_vgg((2, 2, 3, 3, 3), name, (WEIGHTS_PATH, WEIGHTS_PATH_NO_TOP), WEIGHTS_HASHES, include_top,
                     weights, input_tensor, input_shape, pooling, classes, classifier_activation)


def preprocess_input(x, data_format=None):
    """VGG16's preprocessing: RGB -> BGR, then each channel minus its ImageNet mean, no scaling ("caffe" mode of
    :func:`imagenet_utils.preprocess_input`, which gives the argument types and errors)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """See :func:`imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
