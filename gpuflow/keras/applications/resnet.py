"""``keras.applications.resnet``: ResNet50, ResNet101 and ResNet152 (He et al., "Deep Residual Learning for Image
Recognition", CVPR 2015), layer for layer as ``keras/src/applications/resnet.py`` (Keras 3.15, the v1 bottleneck
blocks): the same layer names, weight shapes and order, so Keras's published weight files load.
"""
from __future__ import annotations

from .. import layers
from ..models import Model
from . import imagenet_utils

BASE_WEIGHTS_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
WEIGHTS_HASHES = {  # md5 of Keras's files: (with the top, without)
    "resnet50": ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
}
_BN = dict(axis=3, epsilon=1.001e-5)


def residual_block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """A bottleneck block: 1x1 (stride ``stride``), ``kernel_size`` "same" and 1x1 (4 * filters) convolutions,
    each with batch normalization, added to the shortcut (a 1x1 convolution when ``conv_shortcut``, else ``x``)."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(**_BN, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(**_BN, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="SAME", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(**_BN, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(**_BN, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """``blocks`` bottleneck blocks; the first has a convolution shortcut and stride ``stride1``."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def ResNet(blocks, name, weights_name, include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
           pooling=None, classes=1000, classifier_activation="softmax"):
    """The ResNet v1 builder: a 7x7/2 convolution, 3x3/2 max pooling, then four stacks of ``blocks`` (a 4-tuple)
    bottleneck blocks of 64, 128, 256 and 512 filters, then global average pooling and ``predictions`` (or the
    optional pooling). Arguments: see :func:`ResNet50`."""
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    data_format="channels_last", require_flatten=include_top,
                                                    weights=weights)
    img_input, inputs = imagenet_utils.model_input(input_tensor, input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=True, name="conv1_conv")(x)
    x = layers.BatchNormalization(**_BN, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for stack, (filters, n) in enumerate(zip((64, 128, 256, 512), blocks), 2):
        x = stack_residual_blocks_v1(x, filters, n, stride1=1 if stack == 2 else 2, name=f"conv{stack}")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pool_top(x, pooling, name="pool")
    model = Model(inputs, x, name=name)
    file_name = f"{weights_name}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return imagenet_utils.load_weights(model, weights, file_name, BASE_WEIGHTS_PATH + file_name,
                                       WEIGHTS_HASHES[weights_name][0 if include_top else 1])


_DOC = """Instantiates {name} (``keras.applications.{name}``); {params} parameters with the top.

    Call :func:`preprocess_input` on the images first (RGB -> BGR, ImageNet mean subtracted, no scaling).

    Args:
        include_top: include global average pooling (``avg_pool``) and the ``predictions`` Dense layer.
        weights: None (random initialization), ``"imagenet"`` (Keras's published file, downloaded into
            ``$KERAS_HOME/models/`` or found there; see :func:`imagenet_utils.get_file`), or the path of a weights
            file (legacy ``.h5``, ``.weights.h5``, ``.keras``).
        input_tensor: optional KerasTensor (from ``keras.Input`` or a layer) to use as the image input.
        input_shape: (height, width, 3), height and width >= 32; only without the top (with it: (224, 224, 3)).
        pooling: without the top: None (the 4-D output of the last block), ``"avg"`` (layer ``avg_pool``) or
            ``"max"`` (``max_pool``), giving (batch, 2048).
        classes: number of classes of the top (1000 with ImageNet weights).
        classifier_activation: activation of ``predictions`` (None gives logits); with pretrained weights only
            None or ``"softmax"``.
        name: the model's name.

    Returns:
        A functional ``Model``: (batch, h, w, 3) -> (batch, classes) with the top, else (batch, h/32, w/32, 2048)
        or (batch, 2048) with pooling.

    Raises:
        ValueError: bad ``weights``, ``classes``, ``input_shape`` or ``classifier_activation`` (Keras's messages).
        FileNotFoundError: ``weights="imagenet"`` offline with no cached file (the message says where to put it).
    """


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="resnet50"):
    return ResNet((3, 4, 6, 3), name, "resnet50", include_top, weights, input_tensor, input_shape, pooling, classes,
                  classifier_activation)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet101"):
    return ResNet((3, 4, 23, 3), name, "resnet101", include_top, weights, input_tensor, input_shape, pooling,
                  classes, classifier_activation)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet152"):
    return ResNet((3, 8, 36, 3), name, "resnet152", include_top, weights, input_tensor, input_shape, pooling,
                  classes, classifier_activation)


ResNet50.__doc__ = _DOC.format(name="ResNet50", params="25,636,712")
ResNet101.__doc__ = _DOC.format(name="ResNet101", params="44,707,176")
ResNet152.__doc__ = _DOC.format(name="ResNet152", params="60,419,944")


def preprocess_input(x, data_format=None):
    """ResNet's preprocessing: RGB -> BGR, then each channel minus its ImageNet mean, no scaling ("caffe" mode of
    :func:`imagenet_utils.preprocess_input`, which gives the argument types and errors)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="caffe")


def decode_predictions(preds, top=5):
    """See :func:`imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
