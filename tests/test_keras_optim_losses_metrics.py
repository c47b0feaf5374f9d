"""Optimizers, losses and metrics against hand-written NumPy versions of Keras 3's
formulas (keras/src/optimizers/{sgd,adam,rmsprop,base_optimizer}.py,
keras/src/losses/loss.py, keras/src/backend/tensorflow/nn.py), and the examples
in Keras's docstrings."""
import math
import warnings

import numpy as np
import pytest

import gpuflow as tf

keras = tf.keras
EPS32 = np.float32(1e-7)
ONE_MINUS_EPS32 = np.float32(1.0) - np.float32(1e-7)  # what a float32 clip to 1 - 1e-7 gives


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


# =====================================================================================
# Optimizers
# =====================================================================================
def numpy_sgd(lr=0.01, momentum=0.0, nesterov=False):
    state = {}

    def step(w, g, t):
        if not momentum:
            return w - lr * g
        m = state.get("m", np.zeros_like(w))
        m = momentum * m - lr * g
        state["m"] = m
        return w + (momentum * m - lr * g if nesterov else m)
    return step


def numpy_adam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False):
    state = {}

    def step(w, g, t):
        m = state.get("m", np.zeros_like(w))
        v = state.get("v", np.zeros_like(w))
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        state["m"], state["v"] = m, v
        if amsgrad:
            vh = np.maximum(state.get("vh", np.zeros_like(w)), v)
            state["vh"] = vh
            v = vh
        return w - alpha * m / (np.sqrt(v) + eps)
    return step


def numpy_rmsprop(lr=0.001, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    state = {}

    def step(w, g, t):
        v = rho * state.get("v", np.zeros_like(w)) + (1 - rho) * g * g
        state["v"] = v
        if centered:
            a = rho * state.get("a", np.zeros_like(w)) + (1 - rho) * g
            state["a"] = a
            denom = v - a * a + eps
        else:
            denom = v + eps
        inc = lr * g / np.sqrt(denom)
        if momentum:
            m = momentum * state.get("m", np.zeros_like(w)) + inc
            state["m"] = m
            return w - m
        return w - inc
    return step


OPT_CASES = [
    ("sgd", lambda: keras.optimizers.SGD(), numpy_sgd()),
    ("sgd_lr", lambda: keras.optimizers.SGD(0.3), numpy_sgd(0.3)),
    ("sgd_momentum", lambda: keras.optimizers.SGD(0.1, momentum=0.9), numpy_sgd(0.1, 0.9)),
    ("sgd_nesterov", lambda: keras.optimizers.SGD(0.1, momentum=0.8, nesterov=True), numpy_sgd(0.1, 0.8, True)),
    ("adam", lambda: keras.optimizers.Adam(), numpy_adam()),
    ("adam_args", lambda: keras.optimizers.Adam(0.05, beta_1=0.5, beta_2=0.9, epsilon=1e-3),
     numpy_adam(0.05, 0.5, 0.9, 1e-3)),
    ("adam_amsgrad", lambda: keras.optimizers.Adam(0.01, amsgrad=True), numpy_adam(0.01, amsgrad=True)),
    ("rmsprop", lambda: keras.optimizers.RMSprop(), numpy_rmsprop()),
    ("rmsprop_momentum", lambda: keras.optimizers.RMSprop(0.01, rho=0.8, momentum=0.5),
     numpy_rmsprop(0.01, 0.8, 0.5)),
    ("rmsprop_centered", lambda: keras.optimizers.RMSprop(0.01, centered=True), numpy_rmsprop(0.01, centered=True)),
]


@pytest.mark.parametrize("name,make,ref", OPT_CASES, ids=[c[0] for c in OPT_CASES])
def test_optimizer_steps_match_numpy(name, make, ref):
    opt = make()
    w0 = rnd(3, 4, seed=1)
    var = tf.Variable(w0)
    w = w0.astype(np.float64)
    for t in range(1, 5):
        g = rnd(3, 4, seed=10 + t) * (0.1 if t == 3 else 1.0)  # a change of scale shows the state's role
        opt.apply_gradients([(tf.constant(g), var)])
        w = ref(w, g.astype(np.float64), t)
        np.testing.assert_allclose(var.numpy(), w, rtol=2e-5, atol=2e-6, err_msg=f"step {t}")
    assert int(opt.iterations.numpy()) == 4


def test_optimizer_updates_several_variables_independently():
    opt = keras.optimizers.Adam(0.1)
    a, b = tf.Variable(rnd(2, seed=1)), tf.Variable(rnd(3, 2, seed=2))
    ra, rb = numpy_adam(0.1), numpy_adam(0.1)
    wa, wb = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
    for t in range(1, 4):
        ga, gb = rnd(2, seed=t), rnd(3, 2, seed=t + 5)
        opt.apply_gradients(zip([ga, gb], [a, b]))
        wa, wb = ra(wa, ga, t), rb(wb, gb, t)
    np.testing.assert_allclose(a.numpy(), wa, rtol=2e-5)
    np.testing.assert_allclose(b.numpy(), wb, rtol=2e-5)


def test_rmsprop_docstring_example():
    # keras.optimizers.RMSprop docstring: var1 = 10, loss = var1^2 / 2, lr 0.1 -> 9.683772
    opt = keras.optimizers.RMSprop(learning_rate=0.1)
    var1 = tf.Variable(10.0)
    with tf.GradientTape() as tape:
        loss = var1 * var1 / 2.0
    opt.apply_gradients(zip(tape.gradient(loss, [var1]), [var1]))
    np.testing.assert_allclose(var1.numpy(), 9.683772, rtol=1e-6)


def test_optimizer_defaults_and_names():
    sgd, adam, rms = keras.optimizers.SGD(), keras.optimizers.Adam(), keras.optimizers.RMSprop()
    assert (sgd.name, adam.name, rms.name) == ("SGD", "adam", "rmsprop")
    np.testing.assert_allclose([float(sgd.learning_rate.numpy()), float(adam.learning_rate.numpy()),
                                float(rms.learning_rate.numpy())], [0.01, 0.001, 0.001])
    assert (sgd.momentum, sgd.nesterov) == (0.0, False)
    assert (adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (0.9, 0.999, 1e-7, False)
    assert (rms.rho, rms.momentum, rms.epsilon, rms.centered) == (0.9, 0.0, 1e-7, False)


@pytest.mark.parametrize("ident,cls", [("sgd", "SGD"), ("SGD", "SGD"), ("adam", "Adam"), ("Adam", "Adam"),
                                       ("rmsprop", "RMSprop"), ("RMSprop", "RMSprop")])
def test_optimizers_get(ident, cls):
    assert type(keras.optimizers.get(ident)).__name__ == cls


def test_optimizers_get_errors_and_config_round_trip():
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: adamw2"):
        keras.optimizers.get("adamw2")
    opt = keras.optimizers.Adam(0.25, beta_1=0.8, clipnorm=1.5, weight_decay=0.01)
    config = opt.get_config()
    assert config["learning_rate"] == 0.25 and config["beta_1"] == 0.8 and config["clipnorm"] == 1.5
    assert keras.optimizers.Adam.from_config(config).get_config() == config
    again = keras.optimizers.get({"class_name": "Adam", "config": config})
    assert again.get_config() == config


def _one_step(opt, grads, w0s):
    variables = [tf.Variable(w) for w in w0s]
    opt.apply_gradients(zip([tf.constant(g) for g in grads], variables))
    return [v.numpy() for v in variables]


def test_clipnorm_clips_each_gradient_by_its_norm():
    g1 = np.array([3.0, 4.0], "float32")          # norm 5 -> clipped to norm 1
    g2 = np.array([0.3, 0.4], "float32")          # norm 0.5 -> unchanged
    w = [np.zeros(2, "float32"), np.zeros(2, "float32")]
    out = _one_step(keras.optimizers.SGD(1.0, clipnorm=1.0), [g1, g2], w)
    np.testing.assert_allclose(out[0], -g1 / 5.0, rtol=1e-6)
    np.testing.assert_allclose(out[1], -g2, rtol=1e-6)


def test_global_clipnorm_scales_all_gradients_together():
    g1, g2 = np.array([3.0, 0.0], "float32"), np.array([0.0, 4.0], "float32")  # global norm 5
    out = _one_step(keras.optimizers.SGD(1.0, global_clipnorm=2.5), [g1, g2], [np.zeros(2, "float32")] * 2)
    np.testing.assert_allclose(out[0], -g1 / 2, rtol=1e-6)
    np.testing.assert_allclose(out[1], -g2 / 2, rtol=1e-6)
    out = _one_step(keras.optimizers.SGD(1.0, global_clipnorm=10.0), [g1, g2], [np.zeros(2, "float32")] * 2)
    np.testing.assert_allclose(out[0], -g1, rtol=1e-6)


def test_clipvalue():
    g = np.array([-3.0, -0.2, 0.1, 7.0], "float32")
    out = _one_step(keras.optimizers.SGD(1.0, clipvalue=0.5), [g], [np.zeros(4, "float32")])
    np.testing.assert_allclose(out[0], -np.clip(g, -0.5, 0.5), rtol=1e-6)


def test_clipping_before_adam_state():
    g = rnd(5, seed=3) * 10
    opt = keras.optimizers.Adam(0.1, clipnorm=1.0)
    var = tf.Variable(np.zeros(5, "float32"))
    opt.apply_gradients([(g, var)])
    ref = numpy_adam(0.1)(np.zeros(5), g / np.linalg.norm(g), 1)
    np.testing.assert_allclose(var.numpy(), ref, rtol=1e-5, atol=1e-7)


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        keras.optimizers.SGD(clipnorm=1.0, clipvalue=1.0)


@pytest.mark.parametrize("make,ref", [
    (lambda: keras.optimizers.SGD(0.1, weight_decay=0.5), numpy_sgd(0.1)),
    (lambda: keras.optimizers.Adam(0.1, weight_decay=0.5), numpy_adam(0.1)),
    (lambda: keras.optimizers.RMSprop(0.1, weight_decay=0.5), numpy_rmsprop(0.1)),
])
def test_weight_decay_is_decoupled_and_applied_before_the_update(make, ref):
    opt = make()
    w0 = rnd(4, seed=2)
    var = tf.Variable(w0)
    w = w0.astype(np.float64)
    for t in range(1, 3):
        g = rnd(4, seed=20 + t)
        opt.apply_gradients([(g, var)])
        w = w - w * 0.5 * 0.1          # variable - variable * weight_decay * lr
        w = ref(w, g.astype(np.float64), t)
    np.testing.assert_allclose(var.numpy(), w, rtol=1e-5, atol=1e-6)


def test_learning_rate_setter_and_schedules():
    opt = keras.optimizers.SGD(0.1)
    var = tf.Variable(np.ones(1, "float32"))
    opt.learning_rate = 0.5
    opt.apply_gradients([(np.ones(1, "float32"), var)])
    np.testing.assert_allclose(var.numpy(), [0.5])
    sched = keras.optimizers.SGD(lambda step: 0.1 / (1 + step))  # a schedule: called with the step
    var = tf.Variable(np.zeros(1, "float32"))
    for _ in range(3):
        sched.apply_gradients([(np.ones(1, "float32"), var)])
    np.testing.assert_allclose(var.numpy(), [-(0.1 + 0.05 + 0.1 / 3)], rtol=1e-6)
    const = keras.optimizers.SGD(lambda: 0.25)  # a callable without arguments gives the rate
    var = tf.Variable(np.zeros(1, "float32"))
    const.apply_gradients([(np.ones(1, "float32"), var)])
    np.testing.assert_allclose(var.numpy(), [-0.25])
    with pytest.raises(ValueError, match="learning_rate=-1"):
        keras.optimizers.Adam(-1)


def test_none_gradients():
    opt = keras.optimizers.SGD(1.0)
    a, b = tf.Variable(np.ones(2, "float32")), tf.Variable(np.ones(2, "float32"))
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients([(np.ones(2, "float32"), a), (None, b)])
    np.testing.assert_allclose(a.numpy(), [0.0, 0.0])
    np.testing.assert_allclose(b.numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        opt.apply_gradients([(None, b)])


def test_gradient_shape_mismatch():
    opt = keras.optimizers.SGD()
    var = tf.Variable(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError) as e:
        opt.apply_gradients([(np.ones((3, 2), "float32"), var)])
    assert "(3, 2)" in str(e.value) and "(2, 3)" in str(e.value)


def test_optimizer_variables():
    opt = keras.optimizers.Adam()
    var = tf.Variable(np.ones((2, 2), "float32"))
    opt.apply_gradients([(np.ones((2, 2), "float32"), var)])
    shapes = [tuple(v.shape) for v in opt.variables]
    assert shapes == [(), (), (2, 2), (2, 2)]  # iterations, learning rate, momentum, velocity


# =====================================================================================
# Losses
# =====================================================================================
def clip32(p):
    return np.clip(p.astype(np.float32), EPS32, ONE_MINUS_EPS32).astype(np.float64)


def bce_ref(t, p, ls=0.0):
    t = t * (1 - ls) + 0.5 * ls
    p = clip32(p)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1)


def bce_logits_ref(t, z, ls=0.0):
    t = t * (1 - ls) + 0.5 * ls
    return (np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))).mean(-1)


def cce_ref(t, p, ls=0.0):
    t = t * (1 - ls) + ls / t.shape[-1]
    p = p / p.sum(-1, keepdims=True)
    return -(t * np.log(clip32(p))).sum(-1)


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_keras_docstring_examples():
    y_true = [[0, 1, 0], [0, 0, 1]]
    y_pred = [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
    cce = keras.losses.CategoricalCrossentropy()
    np.testing.assert_allclose(cce(y_true, y_pred).numpy(), 1.177, atol=1e-3)
    np.testing.assert_allclose(cce(y_true, y_pred, sample_weight=np.array([0.3, 0.7])).numpy(), 0.814, atol=1e-3)
    np.testing.assert_allclose(keras.losses.CategoricalCrossentropy(reduction="sum")(y_true, y_pred).numpy(),
                               2.354, atol=1e-3)
    np.testing.assert_allclose(keras.losses.CategoricalCrossentropy(reduction=None)(y_true, y_pred).numpy(),
                               [0.0513, 2.303], atol=1e-3)
    scce = keras.losses.SparseCategoricalCrossentropy()
    np.testing.assert_allclose(scce([1, 2], y_pred).numpy(), 1.177, atol=1e-3)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    np.testing.assert_allclose(bce([0, 1, 0, 0], [-18.6, 0.51, 2.94, -12.8]).numpy(), 0.865, atol=1e-3)
    mse = keras.losses.MeanSquaredError()
    np.testing.assert_allclose(mse([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]).numpy(), 0.5)


def test_mse_mae_and_reductions():
    t, p = rnd(4, 3, seed=1), rnd(4, 3, seed=2)
    sw = np.array([0.0, 1.0, 2.0, 0.5], "float32")
    per_mse = ((t - p).astype(np.float64) ** 2).mean(-1)
    per_mae = np.abs(t - p).astype(np.float64).mean(-1)
    np.testing.assert_allclose(keras.losses.mean_squared_error(t, p).numpy(), per_mse, rtol=1e-6)
    np.testing.assert_allclose(keras.losses.mae(t, p).numpy(), per_mae, rtol=1e-6)
    L = keras.losses.MeanSquaredError
    np.testing.assert_allclose(L()(t, p).numpy(), per_mse.mean(), rtol=1e-6)
    np.testing.assert_allclose(L(reduction="sum")(t, p).numpy(), per_mse.sum(), rtol=1e-6)
    np.testing.assert_allclose(L(reduction="none")(t, p).numpy(), per_mse, rtol=1e-6)
    np.testing.assert_allclose(L(reduction=None)(t, p).numpy(), per_mse, rtol=1e-6)
    np.testing.assert_allclose(L()(t, p, sample_weight=sw).numpy(), (per_mse * sw).mean(), rtol=1e-6)
    np.testing.assert_allclose(L()(t, p, sample_weight=sw[:, None]).numpy(), (per_mse * sw).mean(), rtol=1e-6)
    np.testing.assert_allclose(L(reduction="sum")(t, p, sample_weight=sw).numpy(), (per_mse * sw).sum(), rtol=1e-6)
    np.testing.assert_allclose(L(reduction="mean_with_sample_weight")(t, p, sample_weight=sw).numpy(),
                               (per_mse * sw).sum() / sw.sum(), rtol=1e-6)
    np.testing.assert_allclose(keras.losses.MeanAbsoluteError()(t, p).numpy(), per_mae.mean(), rtol=1e-6)
    assert L()(t.astype("float64"), p.astype("float64")).dtype.name == "float32"  # the loss dtype


def test_mse_aligns_a_trailing_unit_axis():
    t = np.array([1.0, 2.0, 3.0], "float32")
    p = np.array([[1.5], [2.0], [2.0]], "float32")
    np.testing.assert_allclose(keras.losses.MeanSquaredError()(t, p).numpy(), (0.25 + 0 + 1) / 3, rtol=1e-6)
    with pytest.raises(ValueError) as e:
        keras.losses.MeanSquaredError()(np.zeros((3, 2)), np.zeros((3, 4)))
    assert "(3, 2)" in str(e.value) and "(3, 4)" in str(e.value)


@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_binary_crossentropy(ls):
    t = np.array([[1, 0, 1, 0, 1], [0, 0, 1, 1, 0]], "float32")
    p = np.array([[0.9, 0.2, 1.0, 0.0, 0.5], [1e-9, 0.3, 0.999, 0.7, 0.6]], "float32")  # 0 and 1: clipped
    np.testing.assert_allclose(keras.losses.binary_crossentropy(t, p, label_smoothing=ls).numpy(),
                               bce_ref(t, p, ls), rtol=1e-5)
    np.testing.assert_allclose(keras.losses.BinaryCrossentropy(label_smoothing=ls)(t, p).numpy(),
                               bce_ref(t, p, ls).mean(), rtol=1e-5)
    z = np.array([[-100.0, 3.0, 0.0, 50.0, -0.5], [2.0, -2.0, 100.0, -30.0, 0.1]], "float32")  # no overflow
    got = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=ls)(t, z).numpy()
    np.testing.assert_allclose(got, bce_logits_ref(t, z.astype(np.float64), ls).mean(), rtol=1e-5)
    assert np.isfinite(got)


def test_binary_crossentropy_extreme_probabilities_use_epsilon():
    loss = keras.losses.binary_crossentropy(np.array([[1.0]]), np.array([[0.0]], "float32")).numpy()
    np.testing.assert_allclose(loss, [-np.log(1e-7)], rtol=1e-5)  # ~16.118


@pytest.mark.parametrize("ls", [0.0, 0.1])
def test_categorical_crossentropy(ls):
    t = np.eye(4, dtype="float32")[[0, 3, 1]]
    p = np.array([[0.7, 0.1, 0.1, 0.1], [0.0, 0.5, 0.5, 0.0], [0.2, 0.6, 0.4, 0.2]], "float32")  # unnormalised row 3
    np.testing.assert_allclose(keras.losses.categorical_crossentropy(t, p, label_smoothing=ls).numpy(),
                               cce_ref(t, p, ls), rtol=1e-5)
    z = rnd(3, 4, seed=4) * 5
    ts = t * (1 - ls) + ls / 4
    np.testing.assert_allclose(keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=ls)(t, z),
                               -(ts * log_softmax(z.astype(np.float64))).sum(-1).mean(), rtol=1e-5)


def test_categorical_crossentropy_shape_mismatch():
    with pytest.raises(ValueError) as e:
        keras.losses.CategoricalCrossentropy()(np.array([0, 1]), np.full((2, 3), 1 / 3))
    assert "(2,)" in str(e.value) and "(2, 3)" in str(e.value) and "sparse" in str(e.value)


def test_sparse_categorical_crossentropy():
    y = np.array([0, 3, 1, 2])
    p = np.array([[0.7, 0.1, 0.1, 0.1], [0.0, 0.5, 0.5, 0.0], [0.2, 0.6, 0.1, 0.1], [0.25] * 4], "float32")
    ref = -log_softmax(np.log(clip32(p)))[np.arange(4), y]  # Keras (TF): clip, log, then log-softmax
    np.testing.assert_allclose(keras.losses.sparse_categorical_crossentropy(y, p).numpy(), ref, rtol=1e-5)
    np.testing.assert_allclose(keras.losses.SparseCategoricalCrossentropy()(y[:, None], p).numpy(), ref.mean(),
                               rtol=1e-5)
    np.testing.assert_allclose(keras.losses.SparseCategoricalCrossentropy()(y.astype("float32"), p).numpy(),
                               ref.mean(), rtol=1e-5)
    z = rnd(4, 4, seed=9) * 3
    np.testing.assert_allclose(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, z).numpy(),
                               -log_softmax(z.astype(np.float64))[np.arange(4), y].mean(), rtol=1e-5)
    # sparse and one-hot agree on normalised probabilities
    q = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.2, 0.3, 0.4]], "float32")
    np.testing.assert_allclose(keras.losses.SparseCategoricalCrossentropy()([0, 3], q).numpy(),
                               keras.losses.CategoricalCrossentropy()(np.eye(4)[[0, 3]], q).numpy(), rtol=1e-5)


@pytest.mark.parametrize("bad", [4, -1])
def test_sparse_labels_out_of_range(bad):
    with pytest.raises(ValueError) as e:
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)([0, bad], rnd(2, 4))
    assert f"label value of {bad}" in str(e.value) and "[0, 4)" in str(e.value)


def test_sparse_label_shape_mismatch():
    with pytest.raises(ValueError) as e:
        keras.losses.SparseCategoricalCrossentropy()(np.zeros(3, "int64"), np.full((2, 4), 0.25))
    assert "(2,)" in str(e.value) and "(3,)" in str(e.value)


def test_gradients_of_losses_from_logits():
    # d/dz of mean softmax CE = (softmax - onehot) / N; of mean sigmoid BCE = (sigmoid - t) / size
    z = tf.Variable(rnd(3, 4, seed=1))
    y = np.array([1, 0, 3])
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, z)
    g = tape.gradient(loss, z).numpy()
    sm = np.exp(log_softmax(z.numpy().astype(np.float64)))
    np.testing.assert_allclose(g, (sm - np.eye(4)[y]) / 3, rtol=1e-5, atol=1e-7)
    t = (rnd(3, 4, seed=2) > 0).astype("float32")
    with tf.GradientTape() as tape:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)(t, z)
    g = tape.gradient(loss, z).numpy()
    np.testing.assert_allclose(g, (1 / (1 + np.exp(-z.numpy().astype(np.float64))) - t) / 12, rtol=1e-5, atol=1e-7)


def test_losses_get_names_config_and_errors():
    L = keras.losses
    for ident, cls in [("mse", L.MeanSquaredError), ("mean_squared_error", L.MeanSquaredError),
                       ("mae", L.MeanAbsoluteError), ("binary_crossentropy", L.BinaryCrossentropy),
                       ("categorical_crossentropy", L.CategoricalCrossentropy),
                       ("sparse_categorical_crossentropy", L.SparseCategoricalCrossentropy),
                       ("SparseCategoricalCrossentropy", L.SparseCategoricalCrossentropy)]:
        assert isinstance(L.get(ident), cls), ident
    with pytest.raises(ValueError) as e:
        L.get("mean_squared_errorr")
    assert "mean_squared_errorr" in str(e.value) and "mse" in str(e.value)
    with pytest.raises(ValueError, match="reduction='avg'"):
        L.MeanSquaredError(reduction="avg")
    loss = L.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)
    config = loss.get_config()
    assert config == {"name": "binary_crossentropy", "reduction": "sum_over_batch_size", "from_logits": True,
                      "label_smoothing": 0.1, "axis": -1}
    assert L.BinaryCrossentropy.from_config(config).get_config() == config
    assert L.MeanSquaredError().name == "mean_squared_error"
    wrapped = L.get(lambda t, p: tf.reduce_mean(tf.abs(t - p), axis=-1))
    np.testing.assert_allclose(wrapped(np.zeros((2, 2)), np.ones((2, 2))).numpy(), 1.0)


# =====================================================================================
# Metrics
# =====================================================================================
def test_mean_and_sum():
    m = keras.metrics.Mean()
    m.update_state([1, 3, 5, 7])
    assert float(m.result().numpy()) == 4.0
    assert m.result().dtype.name == "float32" and m.name == "mean"
    m.reset_state()
    m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    assert float(m.result().numpy()) == 2.0
    m.update_state(np.array([2.0]), sample_weight=np.array([[2.0]]))  # (N, 1) weights for (N,) values
    np.testing.assert_allclose(m.result().numpy(), (1 + 3 + 4) / 4)
    m.reset_state()
    assert float(m.result().numpy()) == 0.0
    s = keras.metrics.Sum()
    s.update_state(np.ones((4, 2)), sample_weight=np.arange(4.0))  # per-sample weights
    assert float(s.result().numpy()) == 12.0


@pytest.mark.parametrize("cls,y_true,y_pred,sw,plain,weighted", [
    # the examples of Keras's docstrings
    ("Accuracy", [[1], [2], [3], [4]], [[0], [2], [3], [4]], [1, 1, 0, 0], 0.75, 0.5),
    ("BinaryAccuracy", [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], [1, 0, 0, 1], 0.75, 0.5),
    ("CategoricalAccuracy", [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]], [0.7, 0.3], 0.5, 0.3),
    ("SparseCategoricalAccuracy", [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], [0.7, 0.3], 0.5, 0.3),
    ("SparseCategoricalAccuracy", [2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], [0.7, 0.3], 0.5, 0.3),
    ("MeanSquaredError", [[0, 1], [0, 0]], [[1, 1], [0, 0]], [1, 0], 0.25, 0.5),
    ("MeanAbsoluteError", [[0, 1], [0, 0]], [[1, 1], [0, 0]], [1, 0], 0.25, 0.5),
])
def test_metric_docstring_examples(cls, y_true, y_pred, sw, plain, weighted):
    m = getattr(keras.metrics, cls)()
    m.update_state(np.array(y_true), np.array(y_pred, "float32"))
    np.testing.assert_allclose(m.result().numpy(), plain, rtol=1e-6)
    m.reset_state()
    m.update_state(np.array(y_true), np.array(y_pred, "float32"), sample_weight=np.array(sw, "float32"))
    np.testing.assert_allclose(m.result().numpy(), weighted, rtol=1e-6)


def test_metrics_accumulate_across_batches():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 50)
    p = rng.random((50, 5)).astype("float32")
    m = keras.metrics.SparseCategoricalAccuracy()
    for start in range(0, 50, 16):
        m.update_state(y[start:start + 16], p[start:start + 16])
    np.testing.assert_allclose(m.result().numpy(), (p.argmax(1) == y).mean(), rtol=1e-6)
    assert m.name == "sparse_categorical_accuracy"
    hits = p.argmax(1) == y
    assert float(m(y[:2], p[:2]).numpy()) == pytest.approx((hits.sum() + hits[:2].sum()) / 52)  # __call__ adds


def test_binary_accuracy_threshold_and_exact_labels():
    m = keras.metrics.BinaryAccuracy(threshold=0.7)
    m.update_state([[1], [1], [0]], [[0.8], [0.6], [0.65]])
    np.testing.assert_allclose(m.result().numpy(), 2 / 3, rtol=1e-6)
    soft = keras.metrics.BinaryAccuracy()
    soft.update_state([[0.7], [0.0]], [[0.9], [0.1]])  # Keras compares exactly: 0.7 never equals 0 or 1
    np.testing.assert_allclose(soft.result().numpy(), 0.5)


def test_regression_metrics_align_a_trailing_unit_axis():
    m = keras.metrics.MeanSquaredError()
    m.update_state(np.array([1.0, 2.0, 3.0]), np.array([[1.0], [2.0], [4.0]]))  # not broadcast to (3, 3)
    np.testing.assert_allclose(m.result().numpy(), 1 / 3, rtol=1e-6)


def test_metrics_get():
    M = keras.metrics
    for ident, cls in [("mse", M.MeanSquaredError), ("mae", M.MeanAbsoluteError),
                       ("binary_accuracy", M.BinaryAccuracy), ("categorical_accuracy", M.CategoricalAccuracy),
                       ("sparse_categorical_accuracy", M.SparseCategoricalAccuracy), ("accuracy", M.Accuracy)]:
        assert isinstance(M.get(ident), cls), ident
    with pytest.raises(ValueError) as e:
        M.get("accuracyy")
    assert "accuracyy" in str(e.value) and "binary_accuracy" in str(e.value)
    fn = M.get(lambda t, p: np.abs(np.asarray(t) - np.asarray(p)))
    fn.update_state(np.zeros(4), np.ones(4))
    assert float(fn.result().numpy()) == 1.0


# -- mismatched batch sizes ------------------------------------------------------------
@pytest.mark.parametrize("loss", [keras.losses.MeanSquaredError(), keras.losses.BinaryCrossentropy(),
                                  keras.losses.CategoricalCrossentropy(), keras.losses.MeanAbsoluteError()])
def test_loss_batch_mismatch_shows_both_shapes(loss):
    with pytest.raises(ValueError) as e:
        loss(np.zeros((3, 2), "float32"), np.full((4, 2), 0.5, "float32"))
    assert "(3, 2)" in str(e.value) and "(4, 2)" in str(e.value)


def test_loss_sample_weight_mismatch():
    with pytest.raises(ValueError) as e:
        keras.losses.MeanSquaredError()(np.zeros((3, 2)), np.zeros((3, 2)), sample_weight=np.ones(4))
    msg = str(e.value)
    assert "sample_weight" in msg and "(3,)" in msg and "(4,)" in msg and "mean_squared_error" in msg


@pytest.mark.parametrize("metric,y_true", [
    (keras.metrics.CategoricalAccuracy(), np.zeros((3, 2))),
    (keras.metrics.SparseCategoricalAccuracy(), np.zeros(3)),
    (keras.metrics.BinaryAccuracy(), np.zeros((3, 1))),
    (keras.metrics.MeanSquaredError(), np.zeros((3, 2))),
])
def test_metric_batch_mismatch_names_the_metric(metric, y_true):
    with pytest.raises(ValueError) as e:
        metric.update_state(y_true, np.zeros((4,) + y_true.shape[1:] if y_true.ndim > 1 else (4, 2)))
    msg = str(e.value)
    assert metric.name in msg and str(y_true.shape) in msg and "(4," in msg


@pytest.mark.parametrize("bad", [{"x": 1}, {"class_name": "function", "config": 3},
                                 {"class_name": "Dense", "config": "relu"}])
def test_activation_config_that_names_no_function_is_an_error(bad):
    from gpuflow.keras import activations
    with pytest.raises(ValueError, match="Could not interpret activation function identifier"):
        activations.get(bad)
    assert activations.get({"class_name": "function", "config": "relu"}) is activations.relu
