"""``keras.applications.imagenet_utils``: input preprocessing, decoding of ImageNet predictions, the input-shape
rules of the applications, and the download of Keras's published weight files.

Follows ``keras/src/applications/imagenet_utils.py`` (Keras 3.15) and ``keras.utils.get_file``'s cache rules:
files live in ``$KERAS_HOME/models/`` (default ``~/.keras/models/``; ``/tmp/.keras/models/`` when that directory
cannot be written), the very place Keras downloads them to, so a file Keras already downloaded is reused. A file
is checked against the hash Keras publishes (md5, 32 hex digits, as ``get_file``'s ``hash_algorithm="auto"``); a
cached file with the wrong hash is downloaded again, as Keras does, and if that fails the error names the file.
Offline, the error says where the file was looked for and how to place it there.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ...ops import array_ops as _a, math_ops as _m
from ...ops.core import convert_to_tensor
from ...tensor import Tensor
from .. import activations as _activations
from ..layers.base import KerasTensor, Layer
from ..saving.registry import register_keras_serializable
from ..utils import file_utils

CLASS_INDEX = None
CLASS_INDEX_PATH = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"

_MEANS = {"caffe": ([103.939, 116.779, 123.68], None), "torch": ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])}


# ---- weight files ------------------------------------------------------------------------------------------------

def get_file(fname, origin, file_hash=None, cache_subdir="models"):
    """The local path of a published weight file: :func:`gpuflow.keras.utils.get_file` in Keras's ``models``
    cache, whose offline error also says that a local weights file can be passed as ``weights=``.

    Raises:
        FileNotFoundError: not cached and not downloadable (offline): where it was looked for, how to place it.
        ValueError: the cached file or a download has the wrong hash (the download is discarded).
    """
    try:
        return file_utils.get_file(fname, origin, file_hash=file_hash, cache_subdir=cache_subdir)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{e} Or pass the path of a local weights file as `weights=`.") from None


def check_weights_argument(weights, include_top, classes):
    """Keras's checks of ``weights`` and ``classes`` (ValueError, Keras's messages)."""
    if not (weights in ("imagenet", None) or (isinstance(weights, (str, os.PathLike)) and os.path.exists(weights))):
        raise ValueError("The `weights` argument should be either `None` (random initialization), 'imagenet' "
                         "(pre-training on ImageNet), or the path to the weights file to be loaded.  Received: "
                         f"weights={weights}")
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError("If using `weights='imagenet'` with `include_top=True`, `classes` should be 1000.  "
                         f"Received classes={classes}")


def load_weights(model, weights, fname, origin, file_hash):
    """Loads ``weights`` into ``model``: ``"imagenet"`` (Keras's file, through :func:`get_file`), a path (legacy
    ``.h5``, ``.weights.h5`` or ``.keras``, through ``model.load_weights``), or None (nothing). Returns model."""
    if weights == "imagenet":
        model.load_weights(get_file(fname, origin, file_hash))
    elif weights is not None:
        model.load_weights(os.fspath(weights))
    return model


# ---- model inputs --------------------------------------------------------------------------------------------------

def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten, weights=None):
    """The model's input shape (Keras's rules): the default ``(default_size, default_size, 3)`` when
    ``input_shape`` is None and the top needs a static size, ``(None, None, 3)`` without one, else
    ``input_shape`` checked.

    Raises:
        ValueError: a shape that is not 3 integers, under ``min_size``, not 3 channels with ImageNet weights, or
            not the default with ImageNet weights and the top (Keras's messages).
    """
    _check_data_format(data_format)
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        default_shape = (default_size, default_size, input_shape[-1])
    else:
        default_shape = (default_size, default_size, 3)
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and tuple(input_shape) != default_shape:
            raise ValueError(f"When setting `include_top=True` and loading `imagenet` weights, `input_shape` should "
                             f"be {default_shape}.  Received: input_shape={input_shape}")
        return default_shape
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        if input_shape[-1] != 3 and weights == "imagenet":
            raise ValueError(f"The input must have 3 channels; Received `input_shape={input_shape}`")
        if any(d is not None and d < min_size for d in input_shape[:2]):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: input_shape={input_shape}")
        input_shape = tuple(input_shape)
    else:
        input_shape = default_shape if require_flatten else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError(f"If `include_top` is True, you should specify a static `input_shape`. Received: "
                         f"input_shape={input_shape}")
    return input_shape


def get_source_inputs(tensor):
    """The ``keras.Input`` tensors ``tensor`` was computed from (``keras.utils.get_source_inputs``)."""
    found, stack, seen = [], [tensor], set()
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        history = getattr(t, "_history", None)
        if not history or history[1] is None:
            found.append(t)
        else:
            ins = history[1]
            stack.extend(reversed(ins) if isinstance(ins, (list, tuple)) else [ins])
    return found


def model_input(input_tensor, input_shape):
    """``(image input tensor, model inputs)``: a new ``keras.Input(shape=input_shape)``, or ``input_tensor`` (a
    KerasTensor) and the Inputs it comes from.

    Raises:
        ValueError: ``input_tensor`` is not a KerasTensor (Keras 3 needs one too).
    """
    from ..layers import Input
    if input_tensor is None:
        x = Input(shape=input_shape)
        return x, x
    if not isinstance(input_tensor, KerasTensor):
        raise ValueError(f"Expected `input_tensor` to be a KerasTensor (from keras.Input or a layer call). "
                         f"Received: input_tensor={input_tensor!r} of type {type(input_tensor).__name__}")
    return input_tensor, get_source_inputs(input_tensor)


def correct_pad(inputs, kernel_size):
    """Zero padding ``((top, bottom), (left, right))`` before a stride-2 "valid" convolution (Keras's)."""
    size = inputs.shape[1:3]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


def validate_activation(classifier_activation, weights):
    """With pretrained weights only ``None`` and ``"softmax"`` classifier activations are allowed (ValueError)."""
    if weights is None:
        return
    fn = _activations.get(classifier_activation)
    if fn not in (_activations.get("softmax"), _activations.get(None)):
        raise ValueError("Only `None` and `softmax` activations are allowed for the `classifier_activation` "
                         "argument when using pretrained weights, with `include_top=True`; Received: "
                         f"classifier_activation={classifier_activation}")


def pool_top(x, pooling, name=None):
    """``pooling="avg"`` / ``"max"``: the global pooling Keras appends without the top; None: ``x``."""
    from ..layers import GlobalAveragePooling2D, GlobalMaxPooling2D
    if pooling == "avg":
        return GlobalAveragePooling2D(**({"name": f"avg_{name}"} if name else {}))(x)
    if pooling == "max":
        return GlobalMaxPooling2D(**({"name": f"max_{name}"} if name else {}))(x)
    return x


# ---- preprocess_input / decode_predictions ---------------------------------------------------------------------------

def _check_data_format(data_format):
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"Expected data_format to be one of `channels_first` or `channels_last`. Received: "
                         f"data_format={data_format}")


def _preprocess_numpy(x, data_format, mode):
    """Keras's NumPy path, step for step (a float array is written over, as Keras documents)."""
    if not issubclass(x.dtype.type, np.floating):
        x = x.astype("float32", copy=False)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    if mode == "torch":
        x /= 255.0
    elif data_format == "channels_first":
        x = x[::-1, ...] if x.ndim == 3 else x[:, ::-1, ...]
    else:
        x = x[..., ::-1]
    mean, std = _MEANS[mode]
    for c in range(3):
        idx = ((c,) if x.ndim == 3 else (slice(None), c)) if data_format == "channels_first" else (..., c)
        x[idx] -= mean[c]
        if std is not None:
            x[idx] /= std[c]
    return x


def _preprocess_tensor(x, data_format, mode):
    """The same arithmetic on a gpuflow Tensor (a new tensor; float32 unless already floating)."""
    if not x.dtype.is_floating:
        x = _m.cast(x, "float32")
    if mode == "tf":
        return x / 127.5 - 1.0
    axis = (0 if x.ndim == 3 else 1) if data_format == "channels_first" else x.ndim - 1
    if mode == "torch":
        x = x / 255.0
    else:
        x = _a.gather(x, [2, 1, 0], axis=axis)
    mean, std = _MEANS[mode]
    shape = [1] * x.ndim
    shape[axis] = 3
    x = x - convert_to_tensor(np.reshape(np.array(mean, x.dtype.name), shape))
    if std is not None:
        x = x / convert_to_tensor(np.reshape(np.array(std, x.dtype.name), shape))
    return x


@register_keras_serializable(package="gpuflow")
class PreprocessInput(Layer):
    """``preprocess_input`` inside a functional model: what it returns for a KerasTensor (Keras records the same
    arithmetic as ops). Input and output have the same shape; the output is float32. Saved models name it
    ``gpuflow>PreprocessInput`` (gpuflow loads it; Keras, which has no such layer, does not)."""

    def __init__(self, mode="caffe", data_format="channels_last", **kwargs):
        super().__init__(**kwargs)
        self.mode, self.data_format = mode, data_format

    def call(self, inputs):
        return _preprocess_tensor(inputs, self.data_format, self.mode)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        c = super().get_config()
        c.update({"mode": self.mode, "data_format": self.data_format})
        return c


def preprocess_input(x, data_format=None, mode="caffe"):
    """Preprocesses a batch of images (``keras.applications.imagenet_utils.preprocess_input``).

    Args:
        x: a NumPy array, a gpuflow Tensor or a KerasTensor, 3-D or 4-D with 3 color channels, values in
            [0, 255]. A floating NumPy array is written over (as Keras; pass ``numpy.copy(x)`` to keep it).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        mode: ``"caffe"``: RGB -> BGR, then each channel minus the ImageNet mean (103.939, 116.779, 123.68 in
            BGR order), no scaling; ``"tf"``: scaled to [-1, 1] (``x / 127.5 - 1``); ``"torch"``: scaled to
            [0, 1], then each channel normalized with the ImageNet mean (0.485, 0.456, 0.406) and standard
            deviation (0.229, 0.224, 0.225).

    Returns:
        The same kind as ``x``, float32 unless ``x`` was already floating.

    Raises:
        ValueError: unknown ``mode`` or ``data_format``.
    """
    if mode not in ("caffe", "tf", "torch"):
        raise ValueError(f"Expected mode to be one of `caffe`, `tf` or `torch`. Received: mode={mode}")
    data_format = data_format or "channels_last"
    _check_data_format(data_format)
    if isinstance(x, KerasTensor):
        return PreprocessInput(mode, data_format)(x)
    if isinstance(x, Tensor):
        return _preprocess_tensor(x, data_format, mode)
    return _preprocess_numpy(np.asarray(x) if not isinstance(x, np.ndarray) else x, data_format, mode)


def decode_predictions(preds, top=5):
    """Decodes ImageNet predictions (``keras.applications.imagenet_utils.decode_predictions``).

    Args:
        preds: array or Tensor of shape (samples, 1000).
        top: how many top guesses to return per sample.

    Returns:
        One list per sample of ``(class_name, class_description, score)`` tuples, best first. The class names
        come from Keras's ``imagenet_class_index.json`` (fetched like the weights, see :func:`get_file`).

    Raises:
        ValueError: ``preds`` is not of shape (samples, 1000).
        FileNotFoundError: the class index is not cached and cannot be downloaded.
    """
    global CLASS_INDEX
    if len(preds.shape) != 2 or preds.shape[1] != 1000:
        raise ValueError("`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
                         f"(samples, 1000)). Received array with shape: {tuple(preds.shape)}")
    if CLASS_INDEX is None:
        with open(get_file("imagenet_class_index.json", CLASS_INDEX_PATH, CLASS_INDEX_HASH)) as f:
            CLASS_INDEX = json.load(f)
    preds = preds.numpy() if hasattr(preds, "numpy") else np.asarray(preds)
    results = []
    for pred in preds:
        top_indices = pred.argsort()[-top:][::-1]
        result = [tuple(CLASS_INDEX[str(i)]) + (pred[i],) for i in top_indices]
        result.sort(key=lambda r: r[2], reverse=True)
        results.append(result)
    return results
