"""BaseConv (gpuflow/keras/layers/base_conv.py): the convolution layers' shared argument checks and one output
shape rule (also the pooling layers'), and no import between the convolution and pooling modules."""
import ast
import os

import numpy as np
import pytest

import gpuflow as tf

layers = tf.keras.layers
LAYERS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gpuflow", "keras", "layers")

CONVS = {
    "Conv2D": lambda **kw: layers.Conv2D(3, **kw),
    "Conv2DTranspose": lambda **kw: layers.Conv2DTranspose(3, **kw),
    "DepthwiseConv2D": lambda **kw: layers.DepthwiseConv2D(**kw),
    "SeparableConv2D": lambda **kw: layers.SeparableConv2D(3, **kw),
}


@pytest.mark.parametrize("name", sorted(CONVS))
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(kernel_size=3, strides=2, dilation_rate=2), ValueError,
     r"`strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: strides=\(2, 2\) and "
     r"dilation_rate=\(2, 2\)"),
    (dict(kernel_size=0), ValueError, r"`kernel_size` argument must be a tuple of 2 integers >= 1. "
                                      r"Received kernel_size=0"),
    (dict(kernel_size=(3, 3, 3)), ValueError, r"`kernel_size` argument must be a tuple of 2 integers"),
    (dict(kernel_size=3, strides=(1, 0)), ValueError, r"Received strides=\(1, 0\)"),
    (dict(kernel_size=3, padding="full"), ValueError, r"one of 'valid', 'same'.*Received: padding='full'"),
    (dict(kernel_size=3, data_format="channels_first"), NotImplementedError,
     r"only data_format='channels_last' \(NHWC\) is supported. Received: data_format='channels_first'"),
])
def test_every_conv_layer_checks_the_shared_arguments_alike(name, kwargs, error, match):
    with pytest.raises(error, match=match):
        CONVS[name](**kwargs)


@pytest.mark.parametrize("make", [lambda: layers.Conv2D(0, 3), lambda: layers.SeparableConv2D(2.5, 3),
                                  lambda: layers.Conv2DTranspose(True, 3)])
def test_filters_must_be_a_positive_integer(make):
    with pytest.raises(ValueError, match="Received an invalid value for `filters`, expected a positive integer"):
        make()


@pytest.mark.parametrize("make", [
    lambda: layers.Conv2D(3, (3, 2), strides=2, padding="same"),
    lambda: layers.Conv2D(3, 3, dilation_rate=2),
    lambda: layers.Conv2DTranspose(3, 3, strides=2, padding="same"),
    lambda: layers.DepthwiseConv2D(3, strides=(2, 1), depth_multiplier=2),
    lambda: layers.SeparableConv2D(3, 2, padding="same", depth_multiplier=2),
    lambda: layers.MaxPooling2D(3, strides=2, padding="same"),
    lambda: layers.AveragePooling2D(2),
])
def test_compute_output_shape_is_the_shape_the_layer_computes(make):
    layer = make()
    x = np.random.default_rng(0).standard_normal((2, 7, 6, 4)).astype(np.float32)
    y = layer(x)
    assert layer.compute_output_shape((2, 7, 6, 4)) == tuple(y.shape)
    assert layer.compute_output_shape((None, 7, None, 4)) == (None, y.shape[1], None, y.shape[3])


def test_an_input_too_small_for_the_kernel_fails_at_build_naming_the_layer():
    conv = layers.Conv2D(2, 5, name="tiny")
    with pytest.raises(ValueError, match='Conv2D "tiny": the input is too small for the window'):
        conv(np.zeros((1, 4, 4, 1), np.float32))
    assert not conv.built


def _imported_modules(filename):
    """Every module a layers/ file imports, at any depth of its code (relative names as written)."""
    tree = ast.parse(open(os.path.join(LAYERS_DIR, filename)).read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_conv_and_pooling_modules_do_not_import_each_other():
    conv_modules = {"conv.py", "conv_transpose.py", "depthwise.py"}
    for name in conv_modules:
        assert not {".pooling", ".pooling_global"} & _imported_modules(name), name
    for name in ("pooling.py", "pooling_global.py"):
        assert not {"." + m[:-3] for m in conv_modules} & _imported_modules(name), name
