"""The fusion planner (gpuflow.keras.fusion): which Conv2D -> MaxPooling2D pairs run as one fused op, the same
plan for Sequential and functional models, the same values and gradients fused or not (on every device), and no
fusion while a layer call hook (what gpuflow.parity traces with) is active."""
import numpy as np
import pytest

import gpuflow as tf
from gpuflow.keras import fusion
from gpuflow.keras.layers.base import call_hook, call_hooks_active

keras = tf.keras
layers = keras.layers


@pytest.fixture
def fused_calls(monkeypatch):
    """The ``op`` names of the fused conv+pool ops run, in order."""
    from gpuflow.ops import nn_ops
    calls = []
    original = nn_ops.fused_conv2d_maxpool

    def spy(*args, **kwargs):
        calls.append(kwargs.get("op"))
        return original(*args, **kwargs)
    monkeypatch.setattr(nn_ops, "fused_conv2d_maxpool", spy)
    return calls


def _conv_pool_model(pool=None, activation="relu", conv=None):
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((9, 9, 2)), conv or layers.Conv2D(4, 3, activation=activation),
                             pool or layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(3)])


def _step(model, x, y):
    with tf.GradientTape() as tape:
        out = model(x)
        loss = tf.reduce_mean(tf.square(out - y))
    return out.numpy(), [g.numpy() for g in tape.gradient(loss, model.trainable_weights)]


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 9, 9, 2)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)


def test_sequential_fuses_conv2d_and_max_pooling_with_the_same_values_and_gradients(monkeypatch, fused_calls, device):
    x, y = _data()
    fused_out, fused_grads = _step(_conv_pool_model(), x, y)
    assert len(fused_calls) == 1 and fused_calls[0].startswith('Conv2D "conv2d') and "MaxPooling2D" in fused_calls[0]
    fused_calls.clear()
    monkeypatch.setenv("GPUFLOW_FUSION", "0")
    out, grads = _step(_conv_pool_model(), x, y)
    assert not fused_calls
    np.testing.assert_allclose(fused_out, out, rtol=1e-6, atol=1e-6)
    for a, b in zip(fused_grads, grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fuse, pool, activation", [
    (True, lambda: layers.MaxPooling2D(2), "relu"),
    (True, lambda: layers.MaxPooling2D(3), None),                   # linear, any window with strides == window
    (False, lambda: layers.MaxPooling2D(2, strides=1), "relu"),     # overlapping windows
    (False, lambda: layers.MaxPooling2D(2, padding="same"), "relu"),  # padded
    (False, lambda: layers.AveragePooling2D(2), "relu"),            # not a max
    (False, lambda: layers.MaxPooling2D(2), "tanh"),                # an activation that does not commute with max
    (False, lambda: layers.MaxPooling2D(2, dtype="float64"), "relu"),  # the pooling casts to its own dtype
    (False, lambda: layers.MaxPooling2D(2, activity_regularizer="l2"), "relu"),  # it needs its own input
])
def test_the_planner_fuses_exactly_the_supported_pattern(fused_calls, fuse, pool, activation):
    model = _conv_pool_model(pool(), activation)
    conv, pooling = model.layers[:2]
    assert fusion.fusable(conv, pooling) is fuse
    model(np.zeros((1, 9, 9, 2), np.float32))
    assert bool(fused_calls) is fuse


def test_the_planner_needs_exactly_the_classes_built_and_no_conv_activity_regularizer(fused_calls):
    class MyConv(layers.Conv2D):  # a subclass may override call
        pass
    for conv in (MyConv(4, 3), layers.Conv2D(4, 3, activity_regularizer="l2")):
        model = _conv_pool_model(conv=conv)
        assert not fusion.fusable(*model.layers[:2])
        model(np.zeros((1, 9, 9, 2), np.float32))
    assert not fused_calls
    assert not fusion.fusable(layers.Conv2D(4, 3), layers.MaxPooling2D(2))  # not built: no kernel yet
    assert fusion.plan([layers.Dense(2), layers.Conv2D(4, 3)], {0: 1}) == {}


def _same_net(functional):
    """Conv -> pool -> conv -> pool -> flatten -> dense, as a Sequential or a functional model."""
    keras.utils.set_random_seed(4)
    stack = [layers.Conv2D(3, 2, activation="relu"), layers.MaxPooling2D(2), layers.Conv2D(4, 2),
             layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(2)]
    inp = keras.Input((11, 11, 2))
    if not functional:
        return keras.Sequential([inp] + stack)
    x = inp
    for layer in stack:
        x = layer(x)
    return keras.Model(inp, x)


def test_sequential_and_functional_models_get_the_same_plan(monkeypatch):
    plans = []
    original = fusion.plan

    def recording(steps, readers):
        fused = original(steps, readers)
        plans[-1].extend(sorted((type(steps[i]).__name__, i, type(steps[j]).__name__, j) for i, j in fused.items()))
        return fused
    monkeypatch.setattr(fusion, "plan", recording)
    x = np.random.default_rng(1).standard_normal((2, 11, 11, 2)).astype(np.float32)
    outs = []
    for functional in (False, True):
        plans.append([])
        outs.append(_same_net(functional)(x).numpy())
    assert plans[0] == [("Conv2D", 0, "MaxPooling2D", 1), ("Conv2D", 2, "MaxPooling2D", 3)]
    assert plans[1] == plans[0]
    np.testing.assert_array_equal(outs[0], outs[1])


def test_functional_model_fuses_a_conv_read_only_by_its_max_pooling(monkeypatch, fused_calls, device):
    x = np.random.default_rng(2).standard_normal((3, 9, 9, 2)).astype(np.float32)

    def build(extra_reader):
        keras.utils.set_random_seed(3)
        inp = keras.Input((9, 9, 2))
        c = layers.Conv2D(4, 3, activation="relu")(inp)
        p = layers.MaxPooling2D(2)(c)
        out = layers.Dense(2)(layers.Flatten()(p))
        if extra_reader:  # the conv output is also read elsewhere: it must exist, so no fusion
            out = layers.Add()([out, layers.Dense(2)(layers.GlobalAveragePooling2D()(c))])
        return keras.Model(inp, out)
    fused = build(False)(x).numpy()
    assert len(fused_calls) == 1
    build(True)(x)
    assert len(fused_calls) == 1
    monkeypatch.setenv("GPUFLOW_FUSION", "0")
    np.testing.assert_allclose(fused, build(False)(x).numpy(), rtol=1e-6, atol=1e-6)
    assert len(fused_calls) == 1


def test_functional_model_keeps_a_conv_output_that_is_a_model_output(fused_calls):
    inp = keras.Input((8, 8, 1))
    c = layers.Conv2D(2, 3)(inp)
    model = keras.Model(inp, [c, layers.MaxPooling2D(2)(c)])
    conv_out, pooled = model(np.ones((1, 8, 8, 1), np.float32))
    assert not fused_calls and tuple(conv_out.shape) == (1, 6, 6, 2) and tuple(pooled.shape) == (1, 3, 3, 2)


def test_a_call_hook_sees_every_layer_and_turns_fusion_off(fused_calls, device):
    x, y = _data()
    fused_out, fused_grads = _step(_conv_pool_model(), x, y)
    assert len(fused_calls) == 1
    seen = []
    model = _conv_pool_model()
    assert not call_hooks_active()
    with call_hook(lambda layer, inputs, outputs: seen.append((layer.name, tuple(outputs.shape)))):
        assert call_hooks_active() and fusion.plan(model.layers, {0: 1}) == {}
        out, grads = _step(model, x, y)
    assert not call_hooks_active()
    assert len(fused_calls) == 1  # the traced run did not fuse
    assert [name for name, _ in seen] == [layer.name for layer in model.layers] + [model.name]  # innermost first
    assert seen[0][1] == (5, 7, 7, 4)  # the conv's own output exists
    np.testing.assert_allclose(out, fused_out, rtol=1e-6, atol=1e-6)
    for a, b in zip(grads, fused_grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_call_hooks_nest_and_are_removed_on_error():
    seen = []
    dense = layers.Dense(2)
    with pytest.raises(RuntimeError):
        with call_hook(lambda layer, i, o: seen.append("outer")):
            with call_hook(lambda layer, i, o: seen.append("inner")):
                dense(np.ones((1, 3), np.float32))
            raise RuntimeError
    assert seen == ["outer", "inner"] and not call_hooks_active()
    dense(np.ones((1, 3), np.float32))
    assert seen == ["outer", "inner"]


def test_call_pair_runs_the_layers_one_by_one_on_an_input_the_conv_was_not_built_for(fused_calls):
    model = _conv_pool_model()
    conv, pool = model.layers[:2]
    x = np.random.default_rng(5).standard_normal((2, 9, 9, 2))
    expected = pool(conv(x.astype(np.float32))).numpy()
    np.testing.assert_allclose(fusion.call_pair(conv, pool, tf.constant(x)).numpy(), expected, rtol=1e-6)  # float64
    assert not fused_calls
    np.testing.assert_array_equal(fusion.call_pair(conv, pool, tf.constant(x.astype(np.float32))).numpy(), expected)
    assert len(fused_calls) == 1
    with pytest.raises(ValueError, match="incompatible with the layer: expected axis -1 of input shape to have value 2"):
        fusion.call_pair(conv, pool, tf.constant(np.zeros((1, 9, 9, 3), np.float32)))


@pytest.mark.parametrize("fusion_on", ["1", "0"])
def test_an_empty_batch_runs_through_conv_pool_flatten_dense(monkeypatch, fusion_on):
    monkeypatch.setenv("GPUFLOW_FUSION", fusion_on)
    model = _conv_pool_model()
    x = np.zeros((0, 9, 9, 2), np.float32)
    with tf.GradientTape() as tape:
        y = model(x)
        loss = tf.reduce_sum(y)
    assert tuple(y.shape) == (0, 3)
    for g, w in zip(tape.gradient(loss, model.trainable_weights), model.trainable_weights):
        np.testing.assert_array_equal(g.numpy(), np.zeros(w.shape))


def test_inference_skips_the_pooling_winners_and_gives_the_training_forward_bits(monkeypatch, device):
    """Outside a tape (predict, evaluate, a plain call) the pooling ops ask the backend for no ``saved`` (the
    winners the backward pass would read); under a tape they do. The outputs are the same bits either way."""
    asked = []
    backend_type = type(tf.zeros((1,))._backend)
    for name in ("conv2d_maxpool_fwd", "max_pool2d_fwd"):
        def spy(self, *args, _original=getattr(backend_type, name), _name=name, **kwargs):
            asked.append((_name, kwargs["need_saved"]))
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(backend_type, name, spy)
    x, y = _data()
    pool_only = keras.Sequential([keras.Input((9, 9, 2)), layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(3)])
    for model, op in ((_conv_pool_model(), "conv2d_maxpool_fwd"), (pool_only, "max_pool2d_fwd")):
        asked.clear()
        predicted = model.predict(x, batch_size=5, verbose=0)
        called = model(x).numpy()
        assert asked == [(op, False)] * 2
        asked.clear()
        trained, grads = _step(model, x, y)
        assert asked == [(op, True)]
        assert predicted.tobytes() == trained.tobytes() == called.tobytes()
        assert all(np.isfinite(g).all() and np.any(g != 0) for g in grads)
