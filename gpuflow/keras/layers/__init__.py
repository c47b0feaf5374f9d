"""``keras.layers``."""
from .base import Layer, InputSpec, KerasTensor  # noqa: F401
from .core import InputLayer, Input, Dense, Activation, ReLU, Softmax, Flatten, Dropout, Identity  # noqa: F401
from .conv import Conv2D  # noqa: F401
from .conv3d import Conv3D, Conv3DTranspose, Convolution3D, Convolution3DTranspose  # noqa: F401
from .pooling import (  # noqa: F401
    MaxPooling2D, AveragePooling2D, MaxPool2D, AvgPool2D, MaxPooling3D, AveragePooling3D, MaxPool3D, AvgPool3D)
from .pooling_global import (  # noqa: F401
    GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D,
    GlobalMaxPooling3D, GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D, GlobalMaxPool1D, GlobalMaxPool2D,
    GlobalMaxPool3D)
from .reshaping import (  # noqa: F401
    Reshape, Permute, RepeatVector, UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D, ZeroPadding2D,
    ZeroPadding3D, Cropping1D, Cropping2D, Cropping3D)
from .merging import (  # noqa: F401
    Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, add, subtract, multiply, average, maximum,
    minimum, concatenate, Dot, dot)
from .normalization import (  # noqa: F401
    BatchNormalization, LayerNormalization, GroupNormalization, UnitNormalization)
from .embedding import Embedding  # noqa: F401
from .rnn import (  # noqa: F401
    RNN, SimpleRNN, LSTM, GRU, SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells, Bidirectional, TimeDistributed,
    Wrapper)
from .conv_transpose import Conv2DTranspose, Convolution2DTranspose  # noqa: F401
from .depthwise import (  # noqa: F401
    DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D, SeparableConvolution1D,
    SeparableConvolution2D)
from .activation_layers import LeakyReLU, ELU, PReLU  # noqa: F401
from .regularization import (  # noqa: F401
    GaussianNoise, GaussianDropout, AlphaDropout, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D,
    ActivityRegularization)
from .preprocessing import (  # noqa: F401
    Rescaling, Normalization, Resizing, CenterCrop, RandomFlip, RandomRotation, RandomZoom, RandomTranslation,
    RandomContrast, RandomBrightness, RandomCrop)
from .preprocessing_encoding import CategoryEncoding, Discretization  # noqa: F401
from .preprocessing_lookup import IntegerLookup, StringLookup, TextVectorization  # noqa: F401
from .hashing import Hashing, HashedCrossing  # noqa: F401
from .conv1d import Conv1D, Conv1DTranspose, Convolution1D, Convolution1DTranspose  # noqa: F401
from .pooling1d import MaxPooling1D, AveragePooling1D, MaxPool1D, AvgPool1D  # noqa: F401
from .masking import Masking  # noqa: F401
from .attention import MultiHeadAttention, Attention, AdditiveAttention  # noqa: F401
from .lambda_layer import Lambda  # noqa: F401
from .einsum_dense import EinsumDense  # noqa: F401
from .conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D  # noqa: F401

Convolution2D = Conv2D

from ..._unsupported import KERAS_LAYERS as _LAYER_NAMES, module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__, "tf.keras.layers", _LAYER_NAMES)  # a Keras layer gpuflow lacks: "not supported"
