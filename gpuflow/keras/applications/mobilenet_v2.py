"""``keras.applications.mobilenet_v2``: MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear
Bottlenecks", CVPR 2018), layer for layer as ``keras/src/applications/mobilenet_v2.py`` (Keras 3.15): the same
layer names, weight shapes and order, so Keras's published weight files load.
"""
from __future__ import annotations

import warnings

from .. import layers
from ..layers.base import KerasTensor
from ..models import Model
from . import imagenet_utils

BASE_WEIGHT_PATH = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
_SIZES = (96, 128, 160, 192, 224)  # the input sizes Keras publishes weights for
_ALPHAS = (0.35, 0.50, 0.75, 1.0, 1.3, 1.4)
# (filters, stride, expansion) of the 17 inverted residual blocks, block_id 0..16.
_BLOCKS = ((16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6), (64, 1, 6),
           (64, 1, 6), (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6),
           (320, 1, 6))
_BN = dict(axis=-1, epsilon=1e-3, momentum=0.999)


def _make_divisible(v, divisor, min_value=None):
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v  # never round down by more than 10%


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """Expand (1x1, ReLU6; not in block 0), 3x3 depthwise (ReLU6), project (1x1, linear); plus the input when
    the shapes agree. Layer names ``block_{id}_...`` (``expanded_conv_...`` for block 0), as Keras."""
    in_channels = inputs.shape[-1]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x, prefix = inputs, f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, kernel_size=1, padding="same", use_bias=False, activation=None,
                          name=f"{prefix}expand")(x)
        x = layers.BatchNormalization(**_BN, name=f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=imagenet_utils.correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid", name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(**_BN, name=f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False, activation=None,
                      name=f"{prefix}project")(x)
    x = layers.BatchNormalization(**_BN, name=f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def _default_size(input_shape, input_tensor):
    """Keras's rule: the input's size when square and one of the published sizes, else 224."""
    if input_shape is None and isinstance(input_tensor, KerasTensor):
        input_shape = input_tensor.shape[1:]
    if input_shape is not None and input_shape[0] == input_shape[1] and input_shape[0] in _SIZES:
        return input_shape[0]
    return 224


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                classes=1000, classifier_activation="softmax", name=None):
    """Instantiates MobileNetV2 (``keras.applications.MobileNetV2``); 3,538,984 parameters with the top at
    ``alpha=1.0``.

    Call :func:`preprocess_input` on the images first (scales pixels to [-1, 1]).

    Args:
        input_shape: (height, width, 3), height and width >= 32; without the top any such size (default
            (224, 224, 3) with the top, (None, None, 3) without). Ignored when ``input_tensor`` is given.
        alpha: width multiplier: the filters of every layer are scaled by it (rounded to multiples of 8); with
            ImageNet weights one of 0.35, 0.5, 0.75, 1.0, 1.3, 1.4.
        include_top: include global average pooling and the ``predictions`` Dense layer.
        weights: None (random initialization), ``"imagenet"`` (Keras's published file for ``alpha`` and the input
            size, 224 when the input is not square or not one of 96, 128, 160, 192, 224; downloaded into
            ``$KERAS_HOME/models/`` or found there; Keras publishes no hash for these files, so none is checked),
            or the path of a weights file (legacy ``.h5``, ``.weights.h5``, ``.keras``).
        input_tensor: optional KerasTensor to use as the image input.
        pooling: without the top: None (the 4-D output), ``"avg"`` or ``"max"`` (global pooling).
        classes: number of classes of the top (1000 with ImageNet weights).
        classifier_activation: activation of ``predictions`` (None gives logits); with pretrained weights only
            None or ``"softmax"``.
        name: the model's name (default ``mobilenetv2_{alpha:0.2f}_{rows}``).

    Returns:
        A functional ``Model``: (batch, h, w, 3) -> (batch, classes) with the top, else
        (batch, ceil(h/32), ceil(w/32), 1280 or more when ``alpha`` > 1) or 2-D with pooling.

    Raises:
        ValueError: bad ``weights``, ``classes``, ``alpha`` (with ImageNet weights), ``input_shape``,
            ``input_tensor`` or ``classifier_activation`` (Keras's messages).
        FileNotFoundError: ``weights="imagenet"`` offline with no cached file (the message says where to put it).
    """
    imagenet_utils.check_weights_argument(weights, include_top, classes)
    if input_tensor is not None and not isinstance(input_tensor, KerasTensor):
        raise ValueError(f"input_tensor is not a Keras tensor; Received `input_tensor={input_tensor}`")
    if input_shape is not None and input_tensor is not None and input_tensor.shape[2] != input_shape[1]:
        raise ValueError(f"input_tensor.shape[2] must equal input_shape[1]; Received "
                         f"`input_tensor.shape={input_tensor.shape}`, `input_shape={input_shape}`")
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=_default_size(input_shape, input_tensor),
                                                    min_size=32, data_format="channels_last",
                                                    require_flatten=include_top, weights=weights)
    rows, cols = input_shape[0], input_shape[1]
    if weights == "imagenet":
        if alpha not in _ALPHAS:
            raise ValueError("If imagenet weights are being loaded, alpha must be one of `0.35`, `0.50`, `0.75`, "
                             f"`1.0`, `1.3` or `1.4` only; Received `alpha={alpha}`")
        if rows != cols or rows not in _SIZES:
            rows = 224
            warnings.warn("`input_shape` is undefined or non-square, or `rows` is not in [96, 128, 160, 192, 224]. "
                          "Weights for input shape (224, 224) will be loaded as the default.", stacklevel=2)
    img_input, inputs = imagenet_utils.model_input(input_tensor, input_shape)
    x = layers.Conv2D(_make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2), padding="same", use_bias=False,
                      name="Conv1")(img_input)
    x = layers.BatchNormalization(**_BN, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    for block_id, (filters, stride, expansion) in enumerate(_BLOCKS):
        x = _inverted_res_block(x, filters=filters, alpha=alpha, stride=stride, expansion=expansion,
                                block_id=block_id)
    # No alpha on the last convolution (the paper), except to widen it when alpha > 1.
    last_block_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_block_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(**_BN, name="Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        imagenet_utils.validate_activation(classifier_activation, weights)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = imagenet_utils.pool_top(x, pooling)
    model = Model(inputs, x, name=name if name is not None else f"mobilenetv2_{alpha:0.2f}_{rows}")
    file_name = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}"
                 f"{'' if include_top else '_no_top'}.h5")
    return imagenet_utils.load_weights(model, weights, file_name, BASE_WEIGHT_PATH + file_name, None)


def preprocess_input(x, data_format=None):
    """MobileNetV2's preprocessing: pixels scaled to [-1, 1] (``x / 127.5 - 1``, "tf" mode of
    :func:`imagenet_utils.preprocess_input`, which gives the argument types and errors)."""
    return imagenet_utils.preprocess_input(x, data_format=data_format, mode="tf")


def decode_predictions(preds, top=5):
    """See :func:`imagenet_utils.decode_predictions`."""
    return imagenet_utils.decode_predictions(preds, top=top)
