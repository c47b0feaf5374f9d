"""Public names of TensorFlow 2.21 and Keras 3.15, for the module ``__getattr__`` that answers a known name gpuflow
lacks with "not supported in gpuflow X.Y" (see :func:`module_getattr`). Taken from ``dir()`` of ``tensorflow``,
``tensorflow.config`` (and its ``experimental``), ``keras`` and ``keras.layers`` (the names gpuflow defines never reach ``__getattr__``)."""

TF = """
AggregationMethod Assert CriticalSection DType DeviceSpec GradientTape Graph IndexedSlices IndexedSlicesSpec Module
NoneTensorSpec Operation OptionalSpec RaggedTensor RaggedTensorSpec RegisterGradient SparseTensor SparseTensorSpec
Tensor TensorArray TensorArraySpec TensorShape TensorSpec TypeSpec UnconnectedGradients Variable VariableAggregation
VariableSynchronization abs acos acosh add add_n approx_top_k argmax argmin argsort as_dtype as_string asin asinh
assert_equal assert_greater assert_less assert_rank atan atan2 atanh audio autodiff autograph batch_to_space
bfloat16 bitcast bitwise bool boolean_mask broadcast_dynamic_shape broadcast_static_shape broadcast_to case cast
check_pinned clip_by_global_norm clip_by_norm clip_by_value compat complex complex128 complex64 concat cond config
constant constant_initializer control_dependencies conv conv2d_backprop_filter_v2 conv2d_backprop_input_v2
convert_to_tensor cos cosh cumsum custom_gradient data debugging device distribute divide double dtensor dtypes
dynamic_partition dynamic_stitch edit_distance eig eigvals einsum ensure_shape equal errors executing_eagerly exp
expand_dims experimental extract_volume_patches eye feature_column fftnd fill fingerprint float16 float32 float64
floor foldl foldr function gather gather_nd get_current_name_scope get_logger get_static_value grad_pass_through
gradients graph_util greater greater_equal group guarantee_const half hessians histogram_fixed_width
histogram_fixed_width_bins identity identity_n ifftnd image import_graph_def init_scope initializers inside_function
int16 int32 int64 int8 io irfftnd is_symbolic_tensor is_tensor keras less less_equal linalg linspace lite
load_library load_op_library logical_and logical_not logical_or lookup losses make_ndarray make_tensor_proto map_fn
math matmul matrix_square_root maximum meshgrid metrics minimum mlir multiply name_scope negative nest newaxis nn
no_gradient no_op nondifferentiable_batch_function norm not_equal numpy_function one_hot ones ones_initializer
ones_like optimizers pad parallel_stack pow print profiler py_function qint16 qint32 qint8 quantization queue
quint16 quint8 ragged ragged_fill_empty_rows ragged_fill_empty_rows_grad random random_index_shuffle
random_normal_initializer random_uniform_initializer range rank raw_ops realdiv recompute_grad reduce_all reduce_any
reduce_logsumexp reduce_max reduce_mean reduce_min reduce_prod reduce_sum register_tensor_conversion_function repeat
required_space_to_batch_paddings reshape resource reverse reverse_sequence rfftnd roll round saturate_cast
saved_model scalar_mul scan scatter_nd searchsorted security sequence_mask sets shape shape_n sigmoid sign signal
sin sinh size slice sort space_to_batch space_to_batch_nd sparse split sqrt square squeeze stack stop_gradient
strided_slice string strings subtract summary switch_case sysconfig tan tanh tensor_scatter_nd_add
tensor_scatter_nd_max tensor_scatter_nd_min tensor_scatter_nd_sub tensor_scatter_nd_update tensordot test tile
timestamp tools tpu train transpose truediv truncatediv truncatemod tuple type_spec_from_value types uint16 uint32
uint64 uint8 unique unique_with_counts unravel_index unstack variable_creator_scope variant vectorized_map version
where while_loop xla zeros zeros_initializer zeros_like
"""
TF_CONFIG = """
LogicalDevice LogicalDeviceConfiguration PhysicalDevice experimental experimental_connect_to_cluster
experimental_connect_to_host experimental_functions_run_eagerly experimental_run_functions_eagerly
functions_run_eagerly get_logical_device_configuration get_soft_device_placement get_visible_devices
list_logical_devices list_physical_devices optimizer run_functions_eagerly set_logical_device_configuration
set_soft_device_placement set_visible_devices threading
"""
TF_CONFIG_EXPERIMENTAL = """
ClusterDeviceFilters VirtualDeviceConfiguration disable_mlir_bridge enable_mlir_bridge enable_op_determinism
enable_tensor_float_32_execution get_device_details get_device_policy get_memory_growth get_memory_info
get_memory_usage get_synchronous_execution get_virtual_device_configuration get_visible_devices list_logical_devices
list_physical_devices reset_memory_stats set_device_policy set_memory_growth set_synchronous_execution
set_virtual_device_configuration set_visible_devices tensor_float_32_execution_enabled
"""
KERAS = """
DTypePolicy FloatDTypePolicy Function Initializer Input InputSpec KerasTensor Layer Loss Metric Model Operation
Optimizer Quantizer Regularizer RematScope Sequential StatelessScope SymbolicScope Variable activations applications
backend callbacks config constraints datasets device distillation distribution dtype_policies export initializers
layers legacy losses metrics mixed_precision models name_scope ops optimizers preprocessing quantizers random
regularizers remat saving src tree utils version visualization wrappers
"""
KERAS_LAYERS = """
Activation ActivityRegularization AdaptiveAveragePooling1D AdaptiveAveragePooling2D AdaptiveAveragePooling3D
AdaptiveMaxPooling1D AdaptiveMaxPooling2D AdaptiveMaxPooling3D Add AdditiveAttention AlphaDropout Attention AugMix
AutoContrast Average AveragePooling1D AveragePooling2D AveragePooling3D AvgPool1D AvgPool2D AvgPool3D
BatchNormalization Bidirectional CategoryEncoding CenterCrop Concatenate
ContrastLimitedAdaptiveHistogramEqualization Conv1D Conv1DTranspose Conv2D Conv2DTranspose Conv3D Conv3DTranspose
ConvLSTM1D ConvLSTM2D ConvLSTM3D Convolution1D Convolution1DTranspose Convolution2D Convolution2DTranspose
Convolution3D Convolution3DTranspose Cropping1D Cropping2D Cropping3D CutMix Dense DepthwiseConv1D DepthwiseConv2D
Discretization Dot Dropout ELU EinsumDense Embedding Equalization Flatten FlaxLayer GRU GRUCell GaussianDropout
GaussianNoise GlobalAveragePooling1D GlobalAveragePooling2D GlobalAveragePooling3D GlobalAvgPool1D GlobalAvgPool2D
GlobalAvgPool3D GlobalMaxPool1D GlobalMaxPool2D GlobalMaxPool3D GlobalMaxPooling1D GlobalMaxPooling2D
GlobalMaxPooling3D GroupNormalization GroupQueryAttention HashedCrossing Hashing Identity Input InputLayer InputSpec
IntegerLookup JaxLayer LSTM LSTMCell Lambda Layer LayerNormalization LeakyReLU Masking MaxNumBoundingBoxes MaxPool1D
MaxPool2D MaxPool3D MaxPooling1D MaxPooling2D MaxPooling3D Maximum MelSpectrogram Minimum MixUp MultiHeadAttention
Multiply Normalization PReLU Permute Pipeline RMSNormalization RNN RandAugment RandomBrightness
RandomColorDegeneration RandomColorJitter RandomContrast RandomCrop RandomElasticTransform RandomErasing RandomFlip
RandomGaussianBlur RandomGrayscale RandomHue RandomInvert RandomPerspective RandomPosterization RandomRotation
RandomSaturation RandomSharpness RandomShear RandomTranslation RandomZoom ReLU RepeatVector Rescaling Reshape
Resizing ReversibleEmbedding STFTSpectrogram SeparableConv1D SeparableConv2D SeparableConvolution1D
SeparableConvolution2D SimpleRNN SimpleRNNCell Softmax Solarization SpatialDropout1D SpatialDropout2D
SpatialDropout3D SpectralNormalization StackedRNNCells StringLookup Subtract TFSMLayer TextVectorization
TimeDistributed TorchModuleWrapper UnitNormalization UpSampling1D UpSampling2D UpSampling3D Wrapper ZeroPadding1D
ZeroPadding2D ZeroPadding3D add average concatenate deserialize dot maximum minimum multiply serialize subtract
"""


def module_getattr(module_name, spelled, known, lazy=None):
    """A module-level ``__getattr__`` (PEP 562) for ``module_name``.

    Args:
        module_name: the module's ``__name__``, named in the plain AttributeError.
        spelled: how TensorFlow users spell the module (``"tf"``, ``"tf.keras.layers"``), named in the message.
        known: the TensorFlow/Keras public names of that module (one of the strings above).
        lazy: optional ``name -> value or None``: modules imported on first use (tried first).

    Returns:
        ``__getattr__(name)``: ``lazy(name)`` when it gives a value; for a known name gpuflow lacks, an
        AttributeError "`tf.X` is not supported in gpuflow <version> ..." (an AttributeError, so ``hasattr`` stays
        False); otherwise the usual "module ... has no attribute" AttributeError.
    """
    names = frozenset(known.split())

    def __getattr__(name):
        if lazy is not None:
            value = lazy(name)
            if value is not None:
                return value
        if name in names:
            from . import __version__
            library = "Keras 3" if spelled.startswith("tf.keras") else "TensorFlow 2"
            raise AttributeError(f"`{spelled}.{name}` is not supported in gpuflow {__version__}: it is part of "
                                 f"{library}'s API, which gpuflow implements only in part (the README lists what "
                                 f"is supported).")
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    return __getattr__
