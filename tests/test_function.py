"""``tf.function``, ``tf.TensorSpec``, ``tf.config`` and the "not supported" answers of the module ``__getattr__``.

The tracing counts asserted below are TensorFlow 2.21's, measured with the same calls in /work/tfvenv (TF 2.21.0):
the comments give TF's figure where a test compares with it.
"""
import collections
import gc
import weakref

import numpy as np
import pytest

import gpuflow as tf
from gpuflow import config as tf_config


def test_retracing_rules_as_tensorflow():
    traced = []

    @tf.function
    def f(x, y=1):
        traced.append(y)
        return x

    f(tf.constant([1.0, 2.0])); f(tf.constant([3.0, 4.0])); f(tf.constant([1.0, 2.0, 3.0]))
    assert f.experimental_get_tracing_count() == 2  # TF: 2 (a new shape retraces)
    f(1); f(1); f(2); f(1.0); f(True)
    assert f.experimental_get_tracing_count() == 4  # TF: 4 (Python values by value; 1 == 1.0 == True)
    f(np.array([1.0, 2.0], np.float32)); f(np.array([5.0, 6.0], np.float32))
    assert f.experimental_get_tracing_count() == 4  # TF: 4 (NumPy arrays are tensors of that shape and dtype)
    f(tf.constant([1.0, 2.0]), y=2)
    assert f.experimental_get_tracing_count() == 5  # TF: 5
    f([1, 2]); f([1, 2]); f((1, 2))
    assert f.experimental_get_tracing_count() == 7  # TF: 7 (lists and tuples by structure and type)
    f(tf.Variable([1.0, 2.0])); f(tf.Variable([3.0, 4.0]))
    assert f.experimental_get_tracing_count() == 8  # TF: 8 (variables apart from tensors, by shape and dtype)
    f(tf.constant([1.0, 2.0]), 1)  # the default, given explicitly: the first trace again
    assert f.experimental_get_tracing_count() == 8
    # The documented difference: the Python body ran on every call (17 calls), not only when tracing (TF: 8).
    assert len(traced) == 17

    @tf.function
    def g(x):
        return 1

    class Obj:
        pass

    o1, o2 = Obj(), Obj()
    g(o1); g(o1); g(o2)
    assert g.experimental_get_tracing_count() == 2  # TF: 2 (other objects by identity)
    g({"a": 1, "b": 2}); g({"b": 2, "a": 1}); g({"a": 2, "b": 2})
    assert g.experimental_get_tracing_count() == 4  # TF: 4 (dicts by keys and values, not order)


def test_reduce_retracing_relaxes_shapes():
    g = tf.function(lambda x: x, reduce_retracing=True)
    g(tf.zeros([2])); g(tf.zeros([3])); g(tf.zeros([4])); g(tf.zeros([2, 2]))
    assert g.experimental_get_tracing_count() == 3  # TF: 3 ((2,), then (None,) which (4,) reuses, then (2, 2))
    spec = g.get_concrete_function(tf.zeros([5])).structured_input_signature
    assert spec == ((tf.TensorSpec([None], tf.float32, name="x"),), {})
    g(tf.zeros([3, 3]))
    assert g.experimental_get_tracing_count() == 4


def test_input_signature_checks_and_converts():
    h = tf.function(lambda x: x * 2.0, input_signature=[tf.TensorSpec([None], tf.float32)])
    np.testing.assert_array_equal(h([1.0, 2.0]).numpy(), [2.0, 4.0])  # a Python list is converted
    assert h(np.zeros(3)).dtype == tf.float32  # float64 NumPy is converted to the spec's dtype, as TF
    assert h.experimental_get_tracing_count() == 1
    with pytest.raises(TypeError, match=r"Binding inputs to tf.function `<lambda>` failed due to `Can not cast "
                                        r"TensorSpec\(shape=\(2, 2\), dtype=tf.float32, name=None\) to "
                                        r"TensorSpec\(shape=\(None,\), dtype=tf.float32, name=None\)`"):
        h(tf.zeros([2, 2]))
    with pytest.raises(TypeError, match="dtype=tf.int32"):  # a tensor is never cast, as TF
        h(tf.zeros([2], tf.int32))
    with pytest.raises(TypeError, match="too many positional arguments"):
        h(tf.zeros([2]), tf.zeros([2]))
    with pytest.raises(TypeError, match=r"shape=\(\)"):
        h(1)
    with pytest.raises(TypeError, match="missing type constraint for y"):
        tf.function(lambda x, y: x, input_signature=[tf.TensorSpec([None])])(tf.zeros([2]), 1)
    with pytest.raises(TypeError, match="input_signature must be a possibly nested sequence of TensorSpec"):
        tf.function(lambda x: x, input_signature=[1])
    nested = tf.function(lambda pair: pair[0] + pair[1],
                         input_signature=[(tf.TensorSpec([2]), tf.TensorSpec([2]))])
    np.testing.assert_array_equal(nested((tf.ones([2]), [1.0, 2.0])).numpy(), [2.0, 3.0])
    nested([tf.ones([2]), tf.ones([2])])  # a list for the tuple spec: the spec's structure, no retrace
    h(tf.Variable([1.0, 2.0, 3.0]))  # a variable given for a TensorSpec is read, as TF
    assert h.experimental_get_tracing_count() == 1 and nested.experimental_get_tracing_count() == 1


def test_decorator_forms_and_methods():
    @tf.function
    def plain(x):
        """Doc."""
        return x + 1

    @tf.function()
    def called(x):
        return x + 1

    @tf.function(jit_compile=True, autograph=False, experimental_implements="name", experimental_attributes={})
    def options(x):
        return x + 1

    wrapped = tf.function(lambda x: x + 1)
    for fn in (plain, called, options, wrapped):
        assert isinstance(fn, tf.tf_function.Function) and float(fn(tf.constant(1.0))) == 2.0
    assert plain.__name__ == "plain" and plain.__doc__ == "Doc." and plain.python_function(1) == 2
    with pytest.warns(DeprecationWarning, match="reduce_retracing"):
        relaxed = tf.function(lambda x: x, experimental_relax_shapes=True)
    relaxed(tf.zeros([1])); relaxed(tf.zeros([2])); relaxed(tf.zeros([3]))
    assert relaxed.experimental_get_tracing_count() == 2

    class Model:
        def __init__(self, scale):
            self.scale = scale

        @tf.function
        def call(self, x):
            return x * self.scale

    class Unhashable(Model):
        __hash__ = None

    u = Unhashable(4.0)
    u.call(tf.constant(1.0)); u.call(tf.constant(2.0))
    assert u.call is u.call and u.call.experimental_get_tracing_count() == 1
    ref = weakref.ref(u)
    del u
    gc.collect()
    assert ref() is None  # the per-instance Function does not keep its instance alive

    a, b = Model(2.0), Model(3.0)
    assert float(a.call(tf.constant(1.0))) == 2.0 and float(b.call(tf.constant(1.0))) == 3.0
    a.call(tf.constant(5.0))
    assert a.call is a.call  # one Function per instance
    # TF: 1, 1 and 0: each instance traces its own, the class attribute none.
    assert (a.call.experimental_get_tracing_count(), b.call.experimental_get_tracing_count(),
            Model.call.experimental_get_tracing_count()) == (1, 1, 0)


def test_concrete_functions():
    @tf.function
    def f(x):
        return x * 2.0

    cf = f.get_concrete_function(tf.TensorSpec([None], tf.float32))
    assert f.experimental_get_tracing_count() == 1
    assert cf.structured_input_signature == ((tf.TensorSpec([None], tf.float32, name="x"),), {})
    f(tf.zeros([5])); f(tf.zeros([7]))
    assert f.experimental_get_tracing_count() == 1  # TF: 1 (the (None,) trace accepts any length)
    np.testing.assert_array_equal(cf(tf.ones([3])).numpy(), [2.0, 2.0, 2.0])
    assert f.get_concrete_function(tf.zeros([4])) is cf
    with pytest.raises(ValueError, match=r"expected a tensor of shape \(None,\)"):
        cf(tf.zeros([2, 2]))
    with pytest.raises(TypeError, match="do not fit"):
        cf(tf.zeros([2], tf.int32))
    with pytest.raises(AttributeError, match="ConcreteFunction.graph is not supported in gpuflow"):
        cf.graph


def test_outputs_are_tensors_as_tensorflow():
    out = tf.function(lambda: (1, 2.0, np.ones(2), None, "text"))()
    assert [type(o).__name__ for o in out] == ["Tensor", "Tensor", "Tensor", "NoneType", "str"]
    assert out[0].dtype == tf.int32 and out[1].dtype == tf.float32
    Pair = collections.namedtuple("Pair", "a b")
    got = tf.function(lambda: {"p": Pair(1, [2.0])})()
    assert isinstance(got["p"], Pair) and float(got["p"].b[0]) == 2.0


def test_variables_only_on_the_first_call():
    class Counter:
        def __init__(self):
            self.v = None

        @tf.function
        def __call__(self):
            if self.v is None:
                self.v = tf.Variable(0.0)
            self.v.assign_add(1.0)
            return self.v.read_value()

    c = Counter()
    assert [float(c()) for _ in range(3)] == [1.0, 2.0, 3.0]

    @tf.function
    def fresh():
        return tf.Variable(1.0).read_value()

    fresh()
    with pytest.raises(ValueError, match="only supports singleton tf.Variables created on the first call"):
        fresh()
    tf.Variable(1.0)  # outside any tf.function: always allowed


def test_run_functions_eagerly(monkeypatch):
    monkeypatch.setattr(tf_config, "_run_eagerly", False)
    f = tf.function(lambda: tf.Variable(1.0))
    tf.config.run_functions_eagerly(True)
    assert tf.config.functions_run_eagerly()
    f(); f()  # no variable check and no tracing
    assert f.experimental_get_tracing_count() == 0  # TF: 0
    tf.config.run_functions_eagerly(False)
    f()
    assert f.experimental_get_tracing_count() == 1


def test_tensor_spec():
    s = tf.TensorSpec([None, 3], tf.float32, name="x")
    assert repr(s) == "TensorSpec(shape=(None, 3), dtype=tf.float32, name='x')"
    assert s.shape == (None, 3) and s.shape.rank == 2 and s.dtype == tf.float32
    assert s.is_compatible_with(tf.zeros([2, 3])) and s.is_compatible_with(np.zeros((4, 3), np.float32))
    assert s.is_compatible_with(tf.TensorSpec([2, 3], name="other"))  # names do not count
    assert not s.is_compatible_with(tf.zeros([2, 4])) and not s.is_compatible_with(tf.zeros([2, 3], tf.int32))
    assert not s.is_compatible_with(tf.zeros([3]))
    unknown = tf.TensorSpec(None)
    assert unknown.shape.rank is None and str(unknown.shape) == "<unknown>" and unknown.is_compatible_with(s)
    assert tf.TensorSpec((2, None)) == tf.TensorSpec([2, None]) != tf.TensorSpec([2, None], name="n")
    assert tf.TensorSpec.from_tensor(tf.zeros([2, 3], tf.int32)) == tf.TensorSpec([2, 3], "int32")
    with pytest.raises(ValueError, match="shape=\\[2, -1\\]"):
        tf.TensorSpec([2, -1])


def test_config_devices(monkeypatch):
    monkeypatch.setattr(tf_config, "_gpu_count", lambda: 2)
    monkeypatch.setattr(tf_config, "_memory_growth", {})
    phys = tf.config.list_physical_devices()
    assert [(d.name, d.device_type) for d in phys] == [
        ("/physical_device:CPU:0", "CPU"), ("/physical_device:GPU:0", "GPU"), ("/physical_device:GPU:1", "GPU")]
    assert repr(phys[0]) == "PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')"
    assert [d.name for d in tf.config.list_logical_devices("GPU")] == ["/device:GPU:0", "/device:GPU:1"]
    assert tf.config.list_physical_devices("gpu") == []  # TF compares the type exactly
    gpu = tf.config.list_physical_devices("GPU")[1]
    assert tf.config.experimental.get_memory_growth(gpu) is None
    tf.config.experimental.set_memory_growth(gpu, True)
    assert tf.config.experimental.get_memory_growth(gpu) is True
    with pytest.raises(ValueError, match="Cannot set memory growth on non-GPU"):
        tf.config.experimental.set_memory_growth(phys[0], True)
    with pytest.raises(ValueError, match="Unrecognized device"):
        tf.config.experimental.set_memory_growth(tf.config.PhysicalDevice("/physical_device:GPU:5", "GPU"), True)
    monkeypatch.setattr(tf_config, "_gpu_count", lambda: 0)
    assert tf.config.list_physical_devices("GPU") == []
    with tf.device(tf.config.list_logical_devices("CPU")[0].name):
        assert tf.zeros([1]).device.kind == "cpu"


def test_known_but_unsupported_names():
    version = tf.__version__
    for expr, spelled in ((lambda: tf.RaggedTensor, "tf.RaggedTensor"),
                          (lambda: tf.keras.layers.MelSpectrogram, "tf.keras.layers.MelSpectrogram"),
                          (lambda: tf.keras.quantizers, "tf.keras.quantizers"),
                          (lambda: tf.config.set_visible_devices, "tf.config.set_visible_devices"),
                          (lambda: tf.config.experimental.get_memory_info, "tf.config.experimental.get_memory_info")):
        with pytest.raises(AttributeError, match=f"^`{spelled}` is not supported in gpuflow {version}: "):
            expr()
    assert not hasattr(tf, "RaggedTensor") and hasattr(tf, "keras") and hasattr(tf, "function")
    with pytest.raises(AttributeError, match="^module 'gpuflow' has no attribute 'no_such_name'$"):
        tf.no_such_name
    with pytest.raises(AttributeError, match="^module 'gpuflow.keras.layers' has no attribute 'Conv9D'$"):
        tf.keras.layers.Conv9D


def test_training_loop_from_the_tf2_guide_traces_once_per_signature():
    """"Writing a training loop from scratch" (TF 2 guide), unchanged but for random data instead of MNIST: the
    last, smaller batch is a second signature, so each step traces twice in all (TF: 2 and 2), and the losses are
    those of the same loop without tf.function."""
    def run(decorate):
        tf.keras.utils.set_random_seed(1)
        keras = tf.keras
        inputs = keras.Input(shape=(20,), name="digits")
        x1 = keras.layers.Dense(16, activation="relu")(inputs)
        x2 = keras.layers.Dense(16, activation="relu")(x1)
        outputs = keras.layers.Dense(10, name="predictions")(x2)
        model = keras.Model(inputs=inputs, outputs=outputs)
        optimizer = keras.optimizers.SGD(learning_rate=1e-2)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
        val_acc_metric = keras.metrics.SparseCategoricalAccuracy()
        rng = np.random.default_rng(0)
        x_train, y_train = rng.normal(size=(40, 20)).astype("float32"), rng.integers(0, 10, 40)
        train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(16)
        val_dataset = tf.data.Dataset.from_tensor_slices((x_train[:20], y_train[:20])).batch(16)

        @decorate
        def train_step(x, y):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss_value = loss_fn(y, logits)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            train_acc_metric.update_state(y, logits)
            return loss_value

        @decorate
        def test_step(x, y):
            val_logits = model(x, training=False)
            val_acc_metric.update_state(y, val_logits)

        losses, accs = [], []
        for epoch in range(2):
            for step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
                losses.append(float(train_step(x_batch_train, y_batch_train)))
            accs.append(float(train_acc_metric.result()))
            train_acc_metric.reset_state()
            for x_batch_val, y_batch_val in val_dataset:
                test_step(x_batch_val, y_batch_val)
            accs.append(float(val_acc_metric.result()))
            val_acc_metric.reset_state()
        return losses, accs, train_step, test_step

    losses, accs, train_step, test_step = run(tf.function)
    assert train_step.experimental_get_tracing_count() == 2 and test_step.experimental_get_tracing_count() == 2
    eager_losses, eager_accs, _, _ = run(lambda f: f)
    assert losses == eager_losses and accs == eager_accs and len(losses) == 6 and losses[-1] < losses[0]


def test_follow_type_hints_converts_annotated_arguments():
    def f(x: tf.Tensor, n):
        return x

    hinted = tf.function(f, experimental_follow_type_hints=True)
    assert isinstance(hinted(1.0, 1), tf.Tensor)
    hinted(2.0, 1); hinted(3.0, 1)
    assert hinted.experimental_get_tracing_count() == 1  # the annotated scalars are one float32 tensor signature
    plain = tf.function(f)
    plain(1.0, 1); plain(2.0, 1)
    assert plain.experimental_get_tracing_count() == 2
