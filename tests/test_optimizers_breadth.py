"""Adagrad, Adadelta, Adamax, Nadam, Ftrl, Lion, Adafactor and Lamb follow Keras 3.15's update rules, defaults, configs,
string names and saved-variable layout; ``keras.optimizers.serialize`` / ``deserialize``.

The references below are Keras 3.15's formulas (``keras/src/optimizers/*.py``) rewritten in float64 NumPy, one step
per call; the configs and variable layouts were read from Keras 3.15.1 itself. The ``.keras`` fixtures were written
by Keras (``tests/fixtures/make_optimizer_state.py``)."""
import os

import numpy as np
import pytest

import gpuflow as tf
from gpuflow import keras
from gpuflow.device import probe_emulator

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
NAMES = ("adagrad", "adadelta", "adamax", "nadam", "ftrl", "lion", "adafactor", "lamb")


# -- NumPy references: state dict in, new weights out --------------------------------------------------------------
def ref_adagrad(lr=0.001, init=0.1, eps=1e-7):
    def step(w, g, t, s):
        s["a"] = s.get("a", np.full_like(w, init)) + g * g
        return w - lr * g / np.sqrt(s["a"] + eps)
    return step


def ref_adadelta(lr=0.001, rho=0.95, eps=1e-7):
    def step(w, g, t, s):
        ag = rho * s.get("ag", 0 * w) + (1 - rho) * g * g
        d = -np.sqrt(s.get("ad", 0 * w) + eps) * g / np.sqrt(ag + eps)
        s["ag"], s["ad"] = ag, rho * s.get("ad", 0 * w) + (1 - rho) * d * d
        return w + lr * d
    return step


def ref_adamax(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    def step(w, g, t, s):
        s["m"] = b1 * s.get("m", 0 * w) + (1 - b1) * g
        s["u"] = np.maximum(b2 * s.get("u", 0 * w), np.abs(g))
        return w - lr / (1 - b1 ** t) * s["m"] / (s["u"] + eps)
    return step


def ref_nadam(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    def step(w, g, t, s):
        mu = lambda k: b1 * (1 - 0.5 * 0.96 ** k)  # noqa: E731
        prod = s.get("prod", 1.0) * mu(t)  # the product of mu(1..t), once per step
        s["prod"] = prod
        s["m"] = b1 * s.get("m", 0 * w) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0 * w) + (1 - b2) * g * g
        m_hat = mu(t + 1) * s["m"] / (1 - prod * mu(t + 1)) + (1 - mu(t)) * g / (1 - prod)
        return w - lr * m_hat / (np.sqrt(s["v"] / (1 - b2 ** t)) + eps)
    return step


def ref_ftrl(lr=0.001, power=-0.5, init=0.1, l1=0.0, l2=0.0, shrink=0.0, beta=0.0):
    def step(w, g, t, s):
        n = s.get("n", np.full_like(w, init))
        n_new = n + g * g
        sigma = (n_new ** -power - n ** -power) / lr
        z = s.get("z", 0 * w) + g + 2 * shrink * w - sigma * w
        s["n"], s["z"] = n_new, z
        quadratic = n_new ** -power / lr + 2 * (l2 + beta / (2 * lr))
        return np.where(np.abs(z) <= l1, 0.0, (np.sign(z) * l1 - z) / quadratic)
    return step


def ref_lion(lr=0.001, b1=0.9, b2=0.99):
    def step(w, g, t, s):
        m = s.get("m", 0 * w)
        s["m"] = b2 * m + (1 - b2) * g
        return w - lr * np.sign(b1 * m + (1 - b1) * g)
    return step


def ref_adafactor(lr=0.001, decay=-0.8, eps1=1e-30, eps2=1e-3, clip=1.0):
    rms = lambda x: np.sqrt(np.mean(x * x))  # noqa: E731

    def step(w, g, t, s):
        alpha = max(eps2, rms(w)) * min(lr, 1 / np.sqrt(t))
        sq, b = g * g + eps1, 1 - t ** decay
        if w.ndim >= 2:
            s["r"] = b * s.get("r", 0) + (1 - b) * sq.mean(-1)
            s["c"] = b * s.get("c", 0) + (1 - b) * sq.mean(-2)
            v = np.einsum("...i,...j->...ij", s["r"] / s["r"].mean(-1, keepdims=True), s["c"])
        else:
            v = s["v"] = b * s.get("v", 0) + (1 - b) * sq
        u = g / np.sqrt(v)
        return w - alpha * u / max(1.0, rms(u) / clip)
    return step


def ref_lamb(lr=0.001, b1=0.9, b2=0.999, eps=1e-7):
    def step(w, g, t, s):
        s["m"] = b1 * s.get("m", 0 * w) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0 * w) + (1 - b2) * g * g
        u = (s["m"] / (1 - b1 ** t)) / (np.sqrt(s["v"] / (1 - b2 ** t)) + eps)
        w_norm, u_norm = np.linalg.norm(w), np.linalg.norm(u)
        return w - (w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0) * lr * u  # the layer-wise trust ratio
    return step


K = keras.optimizers
CASES = [
    ("adagrad", lambda: K.Adagrad(0.1), ref_adagrad(0.1)),
    ("adagrad_args", lambda: K.Adagrad(0.05, initial_accumulator_value=0.0, epsilon=1e-3), ref_adagrad(0.05, 0, 1e-3)),
    ("adadelta", lambda: K.Adadelta(1.0), ref_adadelta(1.0)),
    ("adadelta_args", lambda: K.Adadelta(0.5, rho=0.8, epsilon=1e-4), ref_adadelta(0.5, 0.8, 1e-4)),
    ("adamax", lambda: K.Adamax(0.01), ref_adamax(0.01)),
    ("adamax_args", lambda: K.Adamax(0.02, beta_1=0.5, beta_2=0.8), ref_adamax(0.02, 0.5, 0.8)),
    ("nadam", lambda: K.Nadam(0.01), ref_nadam(0.01)),
    ("nadam_args", lambda: K.Nadam(0.02, beta_1=0.8, beta_2=0.9, epsilon=1e-4), ref_nadam(0.02, 0.8, 0.9, 1e-4)),
    ("ftrl", lambda: K.Ftrl(0.1), ref_ftrl(0.1)),
    ("ftrl_args", lambda: K.Ftrl(0.1, learning_rate_power=-0.7, initial_accumulator_value=0.2,
                                 l1_regularization_strength=0.05, l2_regularization_strength=0.02,
                                 l2_shrinkage_regularization_strength=0.03, beta=0.1),
     ref_ftrl(0.1, -0.7, 0.2, 0.05, 0.02, 0.03, 0.1)),
    ("lion", lambda: K.Lion(0.01), ref_lion(0.01)),
    ("lion_args", lambda: K.Lion(0.01, beta_1=0.5, beta_2=0.9), ref_lion(0.01, 0.5, 0.9)),
    ("adafactor", lambda: K.Adafactor(0.01), ref_adafactor(0.01)),
    ("lamb", lambda: K.Lamb(0.01), ref_lamb(0.01)),
    ("lamb_args", lambda: K.Lamb(0.05, beta_1=0.5, beta_2=0.9, epsilon=1e-4), ref_lamb(0.05, 0.5, 0.9, 1e-4)),
    ("adafactor_args", lambda: K.Adafactor(0.5, beta_2_decay=-0.5, epsilon_2=1e-2, clip_threshold=0.5,
                                           relative_step=False), ref_adafactor(0.5, -0.5, 1e-30, 1e-2, 0.5)),
]


@pytest.mark.parametrize("name,make,ref", CASES, ids=[c[0] for c in CASES])
def test_steps_match_keras_formulas_on_each_device(device, name, make, ref):
    rng = np.random.default_rng(3)
    w0 = [rng.standard_normal(s).astype("float32") for s in ((3, 4), (4,), (2, 3, 2))]
    variables = [tf.Variable(w) for w in w0]
    ws, states = [w.astype(np.float64) for w in w0], [{} for _ in w0]
    opt = make()
    for t in range(1, 5):
        grads = [rng.standard_normal(w.shape).astype("float32") * (0.1 if t == 3 else 1.0) for w in w0]
        opt.apply_gradients(zip([tf.constant(g) for g in grads], variables))
        ws = [ref(w, g.astype(np.float64), t, s) for w, g, s in zip(ws, grads, states)]
        for v, w in zip(variables, ws):
            np.testing.assert_allclose(v.numpy(), w, rtol=1e-5, atol=1e-6, err_msg=f"{name} step {t}")
    assert int(opt.iterations.numpy()) == 4


def test_weight_decay_and_clipping_apply_before_the_update():
    v = tf.Variable(np.array([1.0, -2.0], "float32"))
    K.Lion(0.1, weight_decay=0.5, clipvalue=0.01).apply_gradients([(tf.constant([-3.0, 0.0]), v)])
    # w -= w * wd * lr, then w -= lr * sign(0.1 * clip(g)) (sign(0) = 0)
    np.testing.assert_allclose(v.numpy(), [0.95 + 0.1, -1.9], rtol=1e-6)


KERAS_BASE = {"weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None, "use_ema": False,
              "ema_momentum": 0.99, "ema_overwrite_frequency": None, "loss_scale_factor": None,
              "gradient_accumulation_steps": None}
KERAS_DEFAULTS = {  # Keras 3.15.1's get_config() of each optimizer made by its string name, less the base keys
    "adagrad": {"initial_accumulator_value": 0.1, "epsilon": 1e-07},
    "adadelta": {"rho": 0.95, "epsilon": 1e-07},
    "adamax": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07},
    "nadam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07},
    "ftrl": {"learning_rate_power": -0.5, "initial_accumulator_value": 0.1, "l1_regularization_strength": 0.0,
             "l2_regularization_strength": 0.0, "l2_shrinkage_regularization_strength": 0.0, "beta": 0.0},
    "lion": {"beta_1": 0.9, "beta_2": 0.99},
    "adafactor": {"beta_2_decay": -0.8, "epsilon_1": 1e-30, "epsilon_2": 0.001, "clip_threshold": 1.0,
                  "relative_step": True},
    "lamb": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07},
}


@pytest.mark.parametrize("name", NAMES)
def test_string_names_defaults_config_and_serialization(name):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=name, loss="mse")
    opt = model.optimizer
    assert type(opt).__name__.lower() == name and opt.name == name
    assert opt.get_config() == {"name": name, "learning_rate": np.float32(0.001).item(), **KERAS_BASE,
                                **KERAS_DEFAULTS[name]}
    ser = K.serialize(opt)
    assert ser == {"module": "keras.optimizers", "class_name": type(opt).__name__, "config": opt.get_config(),
                   "registered_name": None}
    for cls_name in (type(opt).__name__, name):  # Keras's deserialize is case-insensitive for built-ins
        again = K.deserialize({**ser, "class_name": cls_name})
        assert type(again) is type(opt) and again.get_config() == opt.get_config()
    assert type(K.get(name.upper())) is type(opt) and K.get(None) is None


# Keras 3.15.1's optimizer.variables after building on Dense(2)'s kernel (3, 2) and bias (2,): shapes and dtypes
KERAS_LAYOUT = {
    "adagrad": [((3, 2), "float32", 0.1), ((2,), "float32", 0.1)],
    "adadelta": [((3, 2), "float32", 0)] * 2 + [((2,), "float32", 0)] * 2,
    "ftrl": [((3, 2), "float32", 0.1), ((3, 2), "float32", 0), ((2,), "float32", 0.1), ((2,), "float32", 0)],
    "nadam": [((3, 2), "float32", 0)] * 2 + [((2,), "float32", 0)] * 2 + [((), "float32", 1.0)],
    "lion": [((3, 2), "float32", 0), ((2,), "float32", 0)],
    "adafactor": [((3,), "float32", 0), ((2,), "float32", 0), ((3, 2), "float32", 0), ((), "int32", 0),
                  ((), "int32", 0), ((2,), "float32", 0)],
}


@pytest.mark.parametrize("name", sorted(KERAS_LAYOUT))
def test_saved_variables_follow_keras_layout(name):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    opt = K.get(name)
    opt.build(model.trainable_variables)
    saved = opt.saved_variables(model.trainable_variables)
    assert [v.name for v in saved[:2]] == ["iteration", "learning_rate"]
    got = [(tuple(v.shape), v.numpy().dtype.name, float(v.numpy().ravel()[0])) for v in saved[2:]]
    assert got == [(s, d, pytest.approx(x)) for s, d, x in KERAS_LAYOUT[name]]


@pytest.mark.parametrize("name", ["nadam", "adafactor"])
def test_keras_written_state_loads_and_resumes_as_keras(name):
    ref = np.load(os.path.join(FIXTURES, "optimizer_state.npz"))
    model = keras.saving.load_model(os.path.join(FIXTURES, f"{name}_state.keras"))
    assert type(model.optimizer).__name__.lower() == name and int(model.optimizer.iterations.numpy()) == 2
    np.testing.assert_allclose(model.predict(ref["x"], verbose=0), ref[f"{name}_pred"], atol=1e-6)
    saved = model.optimizer.saved_variables(model.trainable_variables)
    flat = lambda arrays: np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays])  # noqa: E731
    np.testing.assert_array_equal(flat(v.numpy() for v in saved), ref[f"{name}_vars"])
    model.train_on_batch(ref["x"], ref["y"])  # one more step from Keras's state gives Keras's weights
    np.testing.assert_allclose(flat(model.get_weights()), ref[f"{name}_resumed"], atol=1e-6)


def test_keras_file_round_trip_keeps_nadam_state(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)).astype("float32"), rng.standard_normal((6, 2)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer=K.Nadam(0.05, beta_1=0.8), loss="mse")
    model.fit(x, y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert again.optimizer.get_config() == model.optimizer.get_config()
    assert float(again.optimizer._u_product.numpy()) == pytest.approx(float(model.optimizer._u_product.numpy()))
    assert float(model.optimizer._u_product.numpy()) != 1.0  # the state moved, so the check above means something
    model.train_on_batch(x, y)
    again.train_on_batch(x, y)
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make,named", [
    (lambda: K.Ftrl(learning_rate_power=0.5), "`learning_rate_power` needs to be negative or zero. "
                                              "Received: learning_rate_power=0.5."),
    (lambda: K.Ftrl(initial_accumulator_value=-1), "Received: initial_accumulator_value=-1."),
    (lambda: K.Ftrl(l1_regularization_strength=float("nan")), "l1_regularization_strength=nan"),
    (lambda: K.Lion(beta_1=0), "Argument `beta_1` must be in the [0, 1] range"),
    (lambda: K.Adagrad(initial_accumulator_value=-0.1), "initial_accumulator_value=-0.1"),
    (lambda: K.Adadelta(rho=1.5), "rho=1.5"),
    (lambda: K.Adamax(beta_1=1.0), "beta_1=1.0"),
    (lambda: K.Nadam(epsilon=0), "epsilon=0"),
    (lambda: K.Adafactor(clip_threshold=0), "clip_threshold=0"),
    (lambda: K.Adagrad(use_ema=True, ema_momentum=1.5), "`ema_momentum` must be in the range [0, 1]. Received: "
                                                         "ema_momentum=1.5"),
    (lambda: K.Lion(use_ema=True, ema_overwrite_frequency=0.5), "ema_overwrite_frequency=0.5"),
])
def test_bad_hyperparameters_name_the_argument(make, named):
    with pytest.raises((ValueError, NotImplementedError)) as e:
        make()
    assert named in str(e.value)


@pytest.mark.skipif(not probe_emulator()[0], reason="emulator unavailable")
@pytest.mark.parametrize("name", ["nadam", "adafactor", "ftrl"])
def test_a_fit_step_stays_on_the_device_and_follows_the_cpu(name):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)).astype("float32"), rng.integers(0, 3, 6)
    weights = {}
    for dev in ("cpu", "emulator"):
        with tf.device(dev):
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
            model.set_weights([np.full(w.shape, 0.1, "float32") for w in model.get_weights()])
            model.compile(optimizer=name, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            with tf.profiler.profile() as prof:
                model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
            weights[dev] = model.get_weights()
    hc = prof.host_contacts()  # the emulator's: one copy for the epoch's logs, none per step
    assert hc["d2h"]["count"] == 1 and hc["sync"]["count"] == 0, hc
    for a, b in zip(weights["emulator"], weights["cpu"]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_exclude_from_weight_decay_by_variable_or_name():
    kernel = tf.Variable(np.ones((2, 2), "float32"), name="kernel")
    bias = tf.Variable(np.ones(2, "float32"), name="bias")
    other = tf.Variable(np.ones(2, "float32"), name="other")
    opt = K.SGD(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[other], var_names=["bia"])
    zeros = [tf.constant(np.zeros(v.shape, "float32")) for v in (kernel, bias, other)]
    opt.apply_gradients(zip(zeros, [kernel, bias, other]))
    # w -= w * weight_decay * lr for the kernel only (Keras 3's decoupled decay)
    np.testing.assert_allclose(kernel.numpy(), 0.95, rtol=1e-6)
    assert bias.numpy().tolist() == [1.0, 1.0] and other.numpy().tolist() == [1.0, 1.0]


def test_use_ema_keeps_moving_averages_as_keras(device):
    w0 = np.array([1.0, -2.0], "float32")
    grads = [np.array([0.5, 1.0], "float32"), np.array([-1.0, 2.0], "float32"), np.array([3.0, 0.0], "float32")]
    for freq in (None, 2):
        v = tf.Variable(w0)
        opt = K.SGD(0.1, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=freq)
        w, avg = w0.astype(np.float64), None
        for t, g in enumerate(grads, start=1):
            opt.apply_gradients([(tf.constant(g), v)])
            w = w - 0.1 * g
            avg = w if avg is None else 0.9 * avg + 0.1 * w  # the first step copies the weights
            if freq and t % freq == 0:
                w = avg.copy()  # every ema_overwrite_frequency steps the weights take their averages
            np.testing.assert_allclose(v.numpy(), w, rtol=1e-6, err_msg=f"freq {freq} step {t}")
            np.testing.assert_allclose(opt.get_slot(v, "average").numpy(), avg, rtol=1e-6)
        opt.finalize_variable_values([v])
        np.testing.assert_allclose(v.numpy(), avg, rtol=1e-6)


def test_use_ema_config_layout_and_fit():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    opt = K.Nadam(use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=3)
    model.compile(optimizer=opt, loss="mse")
    c = K.deserialize(K.serialize(opt)).get_config()
    assert (c["use_ema"], c["ema_momentum"], c["ema_overwrite_frequency"]) == (True, 0.5, 3)
    opt.build(model.trainable_variables)
    names = [v.name.rsplit("_", 1)[-1] for v in opt.saved_variables(model.trainable_variables)[2:]]
    assert names == ["average", "average", "momentum", "velocity", "momentum", "velocity", "variable"]  # Keras's
    rng = np.random.default_rng(0)
    model.fit(rng.standard_normal((4, 3)).astype("float32"), rng.standard_normal((4, 2)).astype("float32"),
              batch_size=2, epochs=1, verbose=0)
    for w in model.trainable_variables:  # fit ends with the weights set to their averages, as Keras 3's
        np.testing.assert_array_equal(w.numpy(), opt.get_slot(w, "average").numpy())


@pytest.mark.parametrize("name,shapes", [
    # Keras 3.15.1's optimizer/vars for Dense(2) on 4 features under mixed_float16: the LossScaleOptimizer's build
    # turns Keras's tracking off, so Nadam's u_product and Adafactor's int32 scalars are not saved there
    ("nadam", [(4, 2), (4, 2), (2,), (2,)]),
    ("adafactor", [(4,), (2,), (4, 2), (2,)]),
])
def test_inside_a_loss_scale_optimizer_the_untracked_variables_are_not_saved(name, shapes):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    opt = K.LossScaleOptimizer(K.get(name))
    opt.build(model.trainable_variables)
    saved = opt.saved_variables(model.trainable_variables)
    assert [tuple(v.shape) for v in saved] == [()] * 6 + shapes
    alone = K.get(name)
    alone.build(model.trainable_variables)
    assert len(alone.saved_variables(model.trainable_variables)) == len(shapes) + 2 + (1 if name == "nadam" else 2)


def test_gradient_accumulation_and_loss_scale_factor_as_keras(device):
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal(3).astype("float32")
    grads = [rng.standard_normal(3).astype("float32") for _ in range(7)]
    # Keras 3: every 3rd call updates with the mean of the last 3 gradients (Adam's step counts the updates)
    v, opt = tf.Variable(w0), K.Adam(0.1, gradient_accumulation_steps=3)
    adam, state, w, pending = ref_adam_like(0.1), {}, w0.astype(np.float64), []
    for i, g in enumerate(grads, start=1):
        opt.apply_gradients([(tf.constant(g), v)])
        pending.append(g.astype(np.float64))
        if i % 3 == 0:
            w, pending = adam(w, sum(pending) / 3, i // 3, state), []
        np.testing.assert_allclose(v.numpy(), w, rtol=1e-5, atol=1e-6, err_msg=f"call {i}")
        np.testing.assert_allclose(opt.get_slot(v, "gradient_accumulator").numpy(), sum(pending) if pending else 0,
                                   rtol=1e-5, atol=1e-6)
    assert int(opt.iterations.numpy()) == 7  # every call counts (Keras's public iterations would say 2)
    # loss_scale_factor: the loss is scaled, the gradients unscaled before the update
    v, opt = tf.Variable(w0), K.SGD(0.1, loss_scale_factor=64.0)
    assert float(opt.scale_loss(tf.constant(2.0))) == 128.0
    opt.apply_gradients([(tf.constant(grads[0] * 64.0), v)])
    np.testing.assert_allclose(v.numpy(), w0 - 0.1 * grads[0], rtol=1e-6)


def ref_adam_like(lr, b1=0.9, b2=0.999, eps=1e-7):  # Keras 3's Adam (keras/src/optimizers/adam.py)
    def step(w, g, t, s):
        s["m"] = s.get("m", 0 * w) + (g - s.get("m", 0 * w)) * (1 - b1)
        s["v"] = s.get("v", 0 * w) + (g * g - s.get("v", 0 * w)) * (1 - b2)
        alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return w - alpha * s["m"] / (np.sqrt(s["v"]) + eps)
    return step


def test_accumulation_config_layout_and_errors():
    opt = K.Adamax(gradient_accumulation_steps=4, loss_scale_factor=8.0, use_ema=True)
    c = K.deserialize(K.serialize(opt)).get_config()
    assert (c["gradient_accumulation_steps"], c["loss_scale_factor"]) == (4, 8.0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    opt.build(model.trainable_variables)
    names = [v.name.rsplit("_", 1)[-1] for v in opt.saved_variables(model.trainable_variables)[2:]]
    assert names[:4] == ["average", "average", "accumulator", "accumulator"]  # Keras's base build order
    with pytest.raises(ValueError, match="must be an integer >= 2. Received: gradient_accumulation_steps=1"):
        K.SGD(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match="loss_scale_factor=-1"):
        K.SGD(loss_scale_factor=-1)


def test_variables_list_in_keras_order():
    # Keras 3.15.1's optimizer.variables after one step of Dense(2) on 3 features (shapes, in order)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    opt = K.RMSprop(momentum=0.5, centered=True)
    model.compile(optimizer=opt, loss="mse")
    model.train_on_batch(np.ones((2, 3), "float32"), np.ones((2, 2), "float32"))
    assert [tuple(v.shape) for v in opt.variables] == [(), (), (3, 2), (2,), (3, 2), (2,), (3, 2), (2,)]
    opt = K.Adam(K.schedules.ExponentialDecay(0.1, 2, 0.5))  # a schedule: no learning_rate variable, as Keras
    opt.build(model.trainable_variables)
    assert [tuple(v.shape) for v in opt.variables] == [(), (3, 2), (3, 2), (2,), (2,)]


class MomentumSGD(K.Optimizer):
    """An optimizer written for Keras 3 (build + update_step(gradient, variable, learning_rate) with keras.ops)."""

    def __init__(self, learning_rate=0.01, momentum=0.9, name="momentum_sgd", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.momentum = momentum

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.velocities = self.add_optimizer_variables(var_list, "velocity")
        self.calls = self.add_variable(shape=(), name="calls")

    def update_step(self, gradient, variable, learning_rate):
        ops = keras.ops
        lr = ops.cast(learning_rate, variable.dtype)
        v = self.velocities[self._get_variable_index(variable)]
        self.assign(v, ops.subtract(ops.multiply(v, self.momentum), ops.multiply(gradient, lr)))
        self.assign_add(variable, v)
        self.assign_add(self.calls, ops.cast(1.0, "float32"))

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}


def test_an_optimizer_written_for_keras_3_trains_and_saves(device, tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)).astype("float32"), rng.standard_normal((6, 2)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, kernel_initializer="ones")])
    opt = MomentumSGD(0.1)
    model.compile(optimizer=opt, loss="mse")
    w, b = np.ones((4, 2)), np.zeros(2)
    vel = [np.zeros((4, 2)), np.zeros(2)]
    for i in range(0, 6, 2):  # the same steps in NumPy: v = 0.9 v - lr g; w += v
        xb, yb = x[i:i + 2].astype(np.float64), y[i:i + 2].astype(np.float64)
        d = 2 * (xb @ w + b - yb) / yb.size
        for k, g in enumerate((xb.T @ d, d.sum(0))):
            vel[k] = 0.9 * vel[k] - 0.1 * g
        w, b = w + vel[0], b + vel[1]
        model.train_on_batch(x[i:i + 2], y[i:i + 2])
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-5, atol=1e-6)
    assert [tuple(v.shape) for v in opt.variables] == [(), (), (4, 2), (2,), ()] and float(opt.calls.numpy()) == 6
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", custom_objects={"MomentumSGD": MomentumSGD})
    assert type(again.optimizer) is MomentumSGD and again.optimizer.momentum == 0.9
    np.testing.assert_array_equal(again.optimizer.velocities[0].numpy(), opt.velocities[0].numpy())
