"""Keras 3 losses beyond the cross-entropies and MSE/MAE: Huber, LogCosh, the hinge family, KLDivergence, Poisson,
MAPE, MSLE, CosineSimilarity, the focal cross-entropies, Dice and Tversky; their functions, string names, configs
and serialization. Values are checked against NumPy formulas written here from Keras's documented definitions
(independently of the implementation); gradients against finite differences (tests/gradcheck.py) and on every
device against the reference backend. The implementation was compared by hand with Keras 3.15.1 (values for three
reductions with and without sample weights, and get_config) on the inputs of this file."""
import numpy as np
import pytest

import gpuflow as tf
from gradcheck import check_op

keras = tf.keras
L = keras.losses
EPS = 1e-7

rng = np.random.default_rng(0)
REG_T = rng.normal(size=(4, 3)) * 2
REG_P = rng.normal(size=(4, 3)) * 2
POS_T = rng.random((4, 3)) * 3 + 0.1
POS_P = rng.random((4, 3)) * 3 + 0.1
BIN_T = np.array([[0, 1, 1], [1, 0, 0], [0, 0, 1], [1, 1, 0]], np.float64)
ONEHOT = np.eye(3)[[0, 2, 1, 2]]
PROB = rng.random((4, 3)) + 0.05
PROB /= PROB.sum(1, keepdims=True)
LOGITS = rng.normal(size=(4, 3)) * 3
SW = np.array([1.0, 0.5, 0.0, 2.0])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _bce(t, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def _huber(t, p, d=1.0):
    e = p - t
    return np.where(np.abs(e) <= d, 0.5 * e ** 2, d * np.abs(e) - 0.5 * d * d).mean(-1)


def _focal_binary(t, p, gamma=2.0, alpha=0.25, balance=False):
    pt = t * p + (1 - t) * (1 - p)
    v = (1 - pt) ** gamma * _bce(t, p)
    return (v * np.where(t == 1, alpha, 1 - alpha) if balance else v).mean(-1)


def _focal_categorical(t, p, gamma=2.0, alpha=0.25):
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return (alpha * (1 - p) ** gamma * -t * np.log(p)).sum(-1)


def _unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


# (class, kwargs, y_true, y_pred, NumPy per-sample reference)
CASES = [
    (L.Huber, {}, REG_T, REG_P, _huber),
    (L.Huber, {"delta": 0.5}, REG_T, REG_P, lambda t, p: _huber(t, p, 0.5)),
    (L.LogCosh, {}, REG_T, REG_P, lambda t, p: np.log(np.cosh(p - t)).mean(-1)),
    (L.MeanAbsolutePercentageError, {}, REG_T, REG_P, lambda t, p: 100 * np.abs((t - p) / np.abs(t)).mean(-1)),
    (L.MeanSquaredLogarithmicError, {}, POS_T, POS_P, lambda t, p: ((np.log1p(p) - np.log1p(t)) ** 2).mean(-1)),
    (L.CosineSimilarity, {}, REG_T, REG_P, lambda t, p: -(_unit(t) * _unit(p)).sum(-1)),
    (L.Hinge, {}, BIN_T, REG_P, lambda t, p: np.maximum(1 - (2 * t - 1) * p, 0).mean(-1)),
    (L.Hinge, {}, 2 * BIN_T - 1, REG_P, lambda t, p: np.maximum(1 - t * p, 0).mean(-1)),
    (L.SquaredHinge, {}, BIN_T, REG_P, lambda t, p: (np.maximum(1 - (2 * t - 1) * p, 0) ** 2).mean(-1)),
    (L.CategoricalHinge, {}, ONEHOT, REG_P,
     lambda t, p: np.maximum(((1 - t) * p).max(-1) - (t * p).sum(-1) + 1, 0)),
    (L.KLDivergence, {}, ONEHOT * 0.8 + 0.2 / 3, PROB, lambda t, p: (t * np.log(t / p)).sum(-1)),
    (L.Poisson, {}, POS_T, POS_P, lambda t, p: (p - t * np.log(p + EPS)).mean(-1)),
    (L.BinaryFocalCrossentropy, {}, BIN_T, PROB, _focal_binary),
    (L.BinaryFocalCrossentropy, {"from_logits": True, "apply_class_balancing": True, "gamma": 3.0}, BIN_T, LOGITS,
     lambda t, p: _focal_binary(t, _sigmoid(p), 3.0, balance=True)),
    (L.CategoricalFocalCrossentropy, {}, ONEHOT, PROB, _focal_categorical),
    (L.CategoricalFocalCrossentropy, {"from_logits": True, "alpha": [0.2, 0.3, 0.5], "gamma": 1.0}, ONEHOT, LOGITS,
     lambda t, p: _focal_categorical(t, np.exp(p) / np.exp(p).sum(-1, keepdims=True), 1.0,
                                     np.array([0.2, 0.3, 0.5]))),
]


@pytest.mark.parametrize("cls,kwargs,t,p,ref", CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_loss_values_match_the_keras_formulas(cls, kwargs, t, p, ref):
    want = ref(t, p)
    none = cls(reduction=None, **kwargs)(t.astype("float32"), p.astype("float32"))
    assert none.dtype.name == "float32" and none.shape == (4,)
    np.testing.assert_allclose(none.numpy(), want, rtol=1e-5, atol=1e-6)
    weighted = cls(**kwargs)(t, p, sample_weight=SW)  # sum_over_batch_size: / number of samples
    np.testing.assert_allclose(float(weighted.numpy()), (want * SW).sum() / 4, rtol=1e-5)
    np.testing.assert_allclose(float(cls(reduction="sum", **kwargs)(t, p).numpy()), want.sum(), rtol=1e-5)
    fn = getattr(L, cls().fn.__name__)  # the function gives the per-sample values
    np.testing.assert_allclose(fn(t.astype("float32"), p.astype("float32"), **kwargs).numpy(), want, rtol=1e-5,
                               atol=1e-6)


def test_dice_and_tversky_over_all_axes_or_per_image():
    t = (rng.random((2, 4, 4, 1)) > 0.5).astype("float32")
    p = rng.random((2, 4, 4, 1)).astype("float32")
    inter = (t * p).sum()
    np.testing.assert_allclose(float(L.Dice()(t, p).numpy()), 1 - 2 * inter / (t.sum() + p.sum() + EPS), rtol=1e-6)
    per_image = L.Dice(axis=(1, 2, 3), reduction=None)(t, p).numpy()
    ti, pi = t.reshape(2, -1), p.reshape(2, -1)
    np.testing.assert_allclose(per_image, 1 - 2 * (ti * pi).sum(1) / (ti.sum(1) + pi.sum(1) + EPS), rtol=1e-6)
    # the Keras 3 terms: fp = sum((1 - p) t), fn = sum(p (1 - t)), weighted alpha and beta
    want = 1 - inter / (inter + 0.3 * ((1 - p) * t).sum() + 0.7 * (p * (1 - t)).sum() + EPS)
    np.testing.assert_allclose(float(L.Tversky(alpha=0.3, beta=0.7)(t, p).numpy()), want, rtol=1e-6)
    np.testing.assert_allclose(float(L.Tversky()(t, p).numpy()), float(L.Dice()(t, p).numpy()), rtol=1e-6)


def test_edge_values_follow_keras():
    # a zero vector has cosine similarity 0; MAPE divides by max(|t|, 1e-7); MSLE clips at 1e-7
    np.testing.assert_allclose(L.cosine_similarity(np.zeros((2, 3)), REG_P[:2]).numpy(), [0.0, 0.0])
    np.testing.assert_allclose(L.mean_absolute_percentage_error([[0.0]], [[1e-7]]).numpy(), [100.0], rtol=1e-5)
    np.testing.assert_allclose(L.mean_squared_logarithmic_error([[-3.0]], [[0.0]]).numpy(), [0.0], atol=1e-12)
    # hinge labels that are not all 0/1 are used as they are
    np.testing.assert_allclose(L.hinge([[0.0, 0.5]], [[1.0, 1.0]]).numpy(), [(1 + 0.5) / 2])
    # (batch,) targets against (batch, 1) predictions are aligned, not broadcast to (batch, batch)
    np.testing.assert_allclose(float(L.Huber()(REG_T[:, 0], REG_P[:, :1]).numpy()),
                               _huber(REG_T[:, :1], REG_P[:, :1]).mean(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(5, 3\)"):
        L.Huber()(REG_T, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="axis=True"):
        L.categorical_focal_crossentropy(ONEHOT, PROB, axis=True)


GRAD_CASES = {
    "huber": (lambda t, p: L.huber(t, p, delta=1.5), REG_T, REG_P),
    "log_cosh": (L.log_cosh, REG_T, REG_P),
    "mape": (L.mape, REG_T, REG_P),
    "msle": (L.msle, POS_T, POS_P),
    "cosine_similarity": (L.cosine_similarity, REG_T, REG_P),
    "hinge": (L.hinge, BIN_T, REG_P * 0.1 + 0.05),
    "squared_hinge": (L.squared_hinge, BIN_T, REG_P * 0.1 + 0.05),
    "categorical_hinge": (L.categorical_hinge, ONEHOT, REG_P),
    "kld": (L.kld, ONEHOT * 0.8 + 0.2 / 3, PROB),
    "poisson": (L.poisson, POS_T, POS_P),
    "binary_focal": (lambda t, p: L.binary_focal_crossentropy(t, p, from_logits=True, apply_class_balancing=True),
                     BIN_T, LOGITS),
    "categorical_focal": (lambda t, p: L.categorical_focal_crossentropy(t, p, from_logits=True), ONEHOT, LOGITS),
    "dice": (lambda t, p: L.dice(t, p, axis=-1), BIN_T, PROB),
    "tversky": (lambda t, p: L.tversky(t, p, alpha=0.3, beta=0.7, axis=-1), BIN_T, PROB),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_loss_gradients(name, device):
    fn, t, p = GRAD_CASES[name]
    # y_true stays a NumPy array in the closure (placed on the device by the loss): only y_pred is differentiated
    check_op(lambda y_pred: fn(t, y_pred), p, device=device, atol=1e-5, rtol=1e-4)


def test_names_aliases_and_compile():
    for ident, cls in [("huber", L.Huber), ("Huber", L.Huber), ("log_cosh", L.LogCosh), ("logcosh", L.LogCosh),
                       ("kld", L.KLDivergence), ("KLD", L.KLDivergence),
                       ("kullback_leibler_divergence", L.KLDivergence),
                       ("mape", L.MeanAbsolutePercentageError), ("msle", L.MeanSquaredLogarithmicError),
                       ("bce", L.BinaryCrossentropy), ("squared_hinge", L.SquaredHinge), ("poisson", L.Poisson),
                       ("binary_focal_crossentropy", L.BinaryFocalCrossentropy), ("dice", L.Dice),
                       ("cosine_similarity", L.CosineSimilarity), ("categorical_hinge", L.CategoricalHinge)]:
        assert type(L.get(ident)) is cls, ident
    assert L.kld is L.kl_divergence and L.MAPE is L.mean_absolute_percentage_error and L.logcosh is L.log_cosh
    assert isinstance(L.get({"class_name": "Huber", "config": {"name": "h", "reduction": "sum"}}), L.Huber)
    assert L.Reduction.all() == ("auto", "none", "sum", "sum_over_batch_size")
    with pytest.raises(ValueError, match="hubber"):
        L.get("hubber")
    x = rng.normal(size=(8, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", loss="huber")
    h = model.fit(x, y, epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2 and h.history["loss"][1] < h.history["loss"][0]


def test_configs_are_keras_and_round_trip():
    # get_config keys as Keras 3.15 writes them (Huber and CosineSimilarity write neither delta nor axis)
    assert L.Huber(delta=2.0).get_config() == {"name": "huber_loss", "reduction": "sum_over_batch_size"}
    assert L.LogCosh().get_config() == {"name": "log_cosh", "reduction": "sum_over_batch_size"}
    assert L.Dice(axis=(1, 2)).get_config() == {"name": "dice", "reduction": "sum_over_batch_size", "axis": (1, 2)}
    assert L.BinaryFocalCrossentropy(gamma=3.0).get_config() == {
        "name": "binary_focal_crossentropy", "reduction": "sum_over_batch_size", "from_logits": False,
        "label_smoothing": 0.0, "axis": -1, "apply_class_balancing": False, "alpha": 0.25, "gamma": 3.0}
    for loss in [L.Tversky(alpha=0.2, beta=0.8, reduction="sum"), L.CategoricalFocalCrossentropy(alpha=0.5),
                 L.KLDivergence(name="kl"), L.Poisson(), L.SquaredHinge(), L.MeanSquaredLogarithmicError()]:
        config = L.serialize(loss)
        assert config["module"] == "keras.losses" and config["class_name"] == type(loss).__name__
        back = L.deserialize(config)
        assert type(back) is type(loss) and back.get_config() == loss.get_config()
    # what Keras 3 writes for a loss function, and names
    assert L.deserialize({"module": "builtins", "class_name": "function", "config": "huber",
                          "registered_name": "function"}) is L.huber
    assert L.deserialize("kld") is L.kl_divergence and isinstance(L.deserialize("Huber"), L.Huber)


def _ctc_brute_force(labels, logits):
    """-log of the summed probability of every path that collapses (repeats merged, then blanks 0 dropped) to the
    label sequence (its nonzero ids): the definition, by enumeration."""
    import itertools
    steps, classes = logits.shape
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    target = [int(c) for c in labels if c != 0]
    total = 0.0
    for path in itertools.product(range(classes), repeat=steps):
        collapsed = [c for i, c in enumerate(path) if c != 0 and (i == 0 or c != path[i - 1])]
        if collapsed == target:
            total += np.prod(probs[np.arange(steps), path])
    return -np.log(total)


def test_ctc_is_the_negative_log_likelihood_of_all_alignments():
    logits = rng.normal(size=(4, 5, 3)) * 1.5
    labels = np.array([[1, 2, 0], [1, 1, 0], [2, 0, 0], [0, 0, 0]])  # a repeat needs a blank between
    want = [_ctc_brute_force(l, z) for l, z in zip(labels, logits)]
    np.testing.assert_allclose(L.ctc(labels, logits.astype("float32")).numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(float(L.CTC()(labels, logits).numpy()), np.mean(want), rtol=1e-5)
    assert L.CTC().get_config() == {"name": "ctc", "reduction": "sum_over_batch_size"}
    with pytest.raises(ValueError, match=r"y_pred.shape=\(4, 5\)"):
        L.ctc(labels, logits[..., 0])


def test_ctc_gradient(device):
    labels = np.array([[1, 2], [2, 2], [1, 0]])
    check_op(lambda z: L.ctc(labels, z), rng.normal(size=(3, 5, 3)), device=device, atol=1e-5, rtol=1e-4)


def test_categorical_generalized_cross_entropy():
    ids = np.array([0, 2, 1, 2])
    p = PROB[:, :3] / PROB[:, :3].sum(1, keepdims=True)
    want = (1 - p[np.arange(4), ids] ** 0.7) / 0.7
    np.testing.assert_allclose(L.categorical_generalized_cross_entropy(ids, p, q=0.7).numpy(), want, rtol=1e-6)
    loss = L.CategoricalGeneralizedCrossEntropy(q=0.7)
    np.testing.assert_allclose(float(loss(ids, p).numpy()), want.mean(), rtol=1e-6)
    assert loss.get_config() == {"name": "categorical_generalized_cross_entropy",
                                 "reduction": "sum_over_batch_size", "q": 0.7}
    with pytest.raises(ValueError, match=r"q must be in the interval \(0, 1\)"):
        L.CategoricalGeneralizedCrossEntropy(q=1.0)


def _circle_reference(labels, emb, gamma, margin):
    d = np.maximum(1 - emb @ emb.T, 0)
    out = []
    for i in range(len(labels)):
        pos = (labels == labels[i]) & (np.arange(len(labels)) != i)
        neg = labels != labels[i]
        terms = []
        for mask, values in ((pos, -gamma * np.maximum(margin + d[i], 0) * (margin - d[i])),
                             (neg, gamma * np.maximum(1 + margin - d[i], 0) * (1 - margin - d[i]))):
            terms.append(np.log(np.exp(values[mask]).sum()) if mask.any() else -np.inf)
        out.append(np.logaddexp(0, sum(terms)))  # softplus
    return np.array(out)


def test_circle_loss_and_its_mask_of_zero_losses():
    emb = rng.normal(size=(6, 4))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = np.array([0, 1, 0, 2, 1, 3])  # classes 2 and 3 have no positive: loss 0, left out of the mean
    want = _circle_reference(labels, emb, 10.0, 0.4)
    got = L.circle(labels, emb.astype("float32"), gamma=10.0)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    assert want[3] == 0 and want[5] == 0 and (want[[0, 1, 2, 4]] > 0).all()
    np.testing.assert_allclose(float(L.Circle(gamma=10.0)(labels, emb).numpy()), want.sum() / 4, rtol=1e-5)
    assert L.Circle().get_config() == {"name": "circle", "reduction": "sum_over_batch_size", "gamma": 80.0,
                                       "margin": 0.4, "remove_diagonal": True}
    check_op(lambda e: L.circle(labels, e, gamma=10.0), emb, device="cpu", atol=1e-5, rtol=1e-4)


def test_sparse_categorical_crossentropy_ignore_class():
    logits = rng.normal(size=(2, 3, 4))
    labels = np.array([[1, 255, 3], [255, 0, 2]])
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    valid = labels != 255
    want = np.where(valid, -np.take_along_axis(log_p, np.where(valid, labels, 0)[..., None], -1)[..., 0], 0.0)
    loss = L.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
    np.testing.assert_allclose(L.sparse_categorical_crossentropy(labels, logits, from_logits=True,
                                                                 ignore_class=255).numpy(), want, rtol=1e-6)
    # the ignored entries are masked: the mean is over the 4 others (Keras 3); the metric averages all 6
    np.testing.assert_allclose(float(loss(labels, logits).numpy()), want.sum() / 4, rtol=1e-6)
    metric = keras.metrics.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
    metric.update_state(labels, logits)
    np.testing.assert_allclose(float(metric.result().numpy()), want.sum() / 6, rtol=1e-6)
    with pytest.raises(ValueError, match="Only axis=-1 is currently supported. Received: axis=1"):
        L.sparse_categorical_crossentropy(labels, logits, axis=1)
