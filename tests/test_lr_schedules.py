"""Learning-rate schedules follow Keras 3's formulas and drive the optimizer step by step."""
import math

import numpy as np
import pytest

import gpuflow as tf

schedules = tf.keras.optimizers.schedules


def test_exponential_decay():
    s = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert s(0) == pytest.approx(0.1) and s(10) == pytest.approx(0.05) and s(5) == pytest.approx(0.1 * 0.5 ** 0.5)
    st = schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True)
    assert st(9) == pytest.approx(0.1) and st(10) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)


def test_piecewise_constant():
    s = schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
    assert [s(i) for i in (0, 10, 11, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    with pytest.raises(ValueError, match="1 less"):
        schedules.PiecewiseConstantDecay([10], [1.0])


def test_cosine_decay_with_warmup():
    s = schedules.CosineDecay(1.0, decay_steps=100, alpha=0.1)
    assert s(0) == pytest.approx(1.0) and s(100) == pytest.approx(0.1) and s(1000) == pytest.approx(0.1)
    assert s(50) == pytest.approx(0.9 * 0.5 * (1 + math.cos(math.pi / 2)) + 0.1)
    w = schedules.CosineDecay(0.0, 100, warmup_target=1.0, warmup_steps=10)
    assert w(5) == pytest.approx(0.5) and w(10) == pytest.approx(1.0)
    assert w(60) == pytest.approx(0.5) and w(110) == pytest.approx(0.0) and w(500) == pytest.approx(0.0)
    n = schedules.CosineDecay(1.0, 100, warmup_steps=10)  # no warmup_target: Keras ignores warmup_steps
    assert n(0) == pytest.approx(1.0) and n(50) == pytest.approx(0.5) and n(100) == pytest.approx(0.0)


def test_optimizer_follows_the_schedule():
    opt = tf.keras.optimizers.SGD(schedules.PiecewiseConstantDecay([0], [1.0, 0.5]))
    v = tf.Variable([1.0])
    for _ in range(2):
        opt.apply_gradients([(tf.constant([1.0]), v)])
    np.testing.assert_allclose(v.numpy(), [1.0 - 1.0 - 0.5])
    assert opt.get_config()["learning_rate"]["class_name"] == "PiecewiseConstantDecay"


def test_schedule_survives_save_and_load(tmp_path):
    pytest.importorskip("h5py")
    k = tf.keras
    m = k.Sequential([k.Input((3,)), k.layers.Dense(2)])
    m.compile(k.optimizers.Adam(schedules.ExponentialDecay(0.01, 10, 0.9)), "mse")
    m.fit(np.ones((8, 3), "float32"), np.ones((8, 2), "float32"), verbose=0)
    m.save(tmp_path / "m.keras")
    opt = k.models.load_model(tmp_path / "m.keras").optimizer
    assert isinstance(opt._schedule, schedules.ExponentialDecay) and opt._schedule.get_config()["decay_steps"] == 10
    assert int(opt.iterations.numpy()) == 1


def test_adamw_is_adam_plus_decoupled_decay():
    k = tf.keras
    g = np.array([0.5, -1.0], "float32")
    a, w = tf.Variable([1.0, 2.0]), tf.Variable([1.0, 2.0])
    k.optimizers.Adam(0.1).apply_gradients([(tf.constant(g), a)])
    opt = k.optimizers.get("adamw")
    opt.learning_rate = 0.1
    opt.apply_gradients([(tf.constant(g), w)])
    np.testing.assert_allclose(w.numpy(), a.numpy() - np.array([1.0, 2.0]) * 0.004 * 0.1, rtol=1e-6)
    assert opt.get_config()["weight_decay"] == 0.004


def test_optimizer_from_config_rebuilds_its_schedule():
    """Keras 3's ``Optimizer.from_config`` deserializes a schedule's config dict (``optimizers.get`` too)."""
    opt = tf.keras.optimizers.Adam(schedules.ExponentialDecay(0.01, 10, 0.9), amsgrad=True)
    config = opt.get_config()
    for again in (tf.keras.optimizers.Adam.from_config(config),
                  tf.keras.optimizers.get({"class_name": "Adam", "config": config})):
        assert isinstance(again._schedule, schedules.ExponentialDecay) and again.get_config() == config
    assert config["learning_rate"]["class_name"] == "ExponentialDecay"  # the caller's dict is left as it was
    with pytest.raises(ValueError, match="Unknown learning rate schedule 'Nope'"):
        tf.keras.optimizers.SGD.from_config({"learning_rate": {"class_name": "Nope", "config": {}}})


@pytest.mark.parametrize("schedule", [schedules.ExponentialDecay(0.1, 7, 0.5),
                                      schedules.ExponentialDecay(0.1, 7, 0.5, True),
                                      schedules.PiecewiseConstantDecay([3, 10], [1.0, 0.5, 0.1]),
                                      schedules.CosineDecay(0.3, 50, alpha=0.1),
                                      schedules.CosineDecay(0.0, 50, warmup_target=1.0, warmup_steps=10),
                                      schedules.InverseTimeDecay(0.1, 7, 0.5, staircase=True),
                                      schedules.PolynomialDecay(0.1, 10, 0.01, power=0.5),
                                      schedules.PolynomialDecay(0.1, 10, 0.0, power=2.0, cycle=True)],
                         ids=lambda s: type(s).__name__)
def test_a_tensor_step_gives_the_host_value_as_a_float32_tensor_on_its_device(schedule, device):
    steps = [0, 1, 3, 4, 7, 9, 10, 11, 14, 30, 60, 61]
    got = [schedule(tf.constant(np.int64(i))) for i in steps]
    assert all(isinstance(g, tf.Tensor) and g.dtype == tf.float32 and g.device == got[0].device for g in got)
    np.testing.assert_array_equal([g.numpy() for g in got], np.float32([schedule(i) for i in steps]))


def test_inverse_time_and_polynomial_decay_follow_keras_formulas():
    s = schedules.InverseTimeDecay(0.1, decay_steps=4, decay_rate=0.5)
    assert s(0) == pytest.approx(0.1) and s(6) == pytest.approx(0.1 / (1 + 0.5 * 1.5))
    assert schedules.InverseTimeDecay(0.1, 4, 0.5, staircase=True)(7) == pytest.approx(0.1 / 1.5)
    p = schedules.PolynomialDecay(0.1, decay_steps=10, end_learning_rate=0.01, power=0.5)
    assert p(0) == pytest.approx(0.1) and p(10) == pytest.approx(0.01) and p(50) == pytest.approx(0.01)
    assert p(4) == pytest.approx(0.09 * 0.6 ** 0.5 + 0.01)
    c = schedules.PolynomialDecay(0.1, 10, 0.0, cycle=True)  # decay_steps: the first multiple >= the step
    assert c(0) == pytest.approx(0.1) and c(10) == pytest.approx(0.0) and c(15) == pytest.approx(0.1 * (1 - 15 / 20))
    for cls in (schedules.InverseTimeDecay, schedules.PolynomialDecay):
        with pytest.raises(ValueError, match="decay_steps"):
            cls(0.1, 0, 0.5)
        again = cls.from_config(cls(0.1, 3, 0.5).get_config())
        assert again.get_config() == cls(0.1, 3, 0.5).get_config()
