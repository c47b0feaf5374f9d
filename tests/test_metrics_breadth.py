"""Keras 3 metrics beyond accuracy, MSE/MAE, Precision/Recall/AUC: the loss-based means (MAPE, MSLE, LogCoshError,
the hinges, KLDivergence, Poisson, the cross-entropies), RootMeanSquaredError, CosineSimilarity, the correlations,
top-k accuracies, the confusion counts and the at-constraint metrics, F1/FBeta, R2Score and the IoU family; string
names in compile, configs, serialization, list-valued results in fit's logs, and the sync-free device path.

Expected values: NumPy formulas written here, hand-countable examples, and (where marked) the values Keras 3.15.1
gives on the same inputs (Keras's docstring examples; every value below was also checked against Keras by hand
while writing, with 0 mismatches over 46 metric configurations, and fit histories compared on cpu and emulator).
"""
import os
import warnings

import numpy as np
import pytest

import gpuflow as tf
from gpuflow.device import probe_emulator

keras = tf.keras
M = keras.metrics
EPS = 1e-7
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

rng = np.random.default_rng(0)
REG_T = rng.normal(size=(6, 3))
REG_P = REG_T + rng.normal(size=(6, 3)) * 0.5
POS_T, POS_P = rng.random((6, 3)) * 3, rng.random((6, 3)) * 3
PROB = rng.random((6, 4)) + 0.05
PROB /= PROB.sum(1, keepdims=True)
LABELS = np.array([0, 3, 1, 2, 2, 0])
ONEHOT = np.eye(4)[LABELS]
BIN_T = (rng.random((6, 3)) > 0.5).astype(float)
SW = np.array([0.5, 1.0, 0.0, 2.0, 1.5, 1.0])


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _top_k(labels, scores, k):
    return np.array([(s > s[c]).sum() < k for c, s in zip(labels, scores)], float)


def _pearson(t, p):
    t, p = t - t.mean(-1, keepdims=True), p - p.mean(-1, keepdims=True)
    return (t / t.std(-1, keepdims=True) * p / p.std(-1, keepdims=True)).mean(-1)


# (metric, y_true, y_pred, NumPy per-sample values)
MEANS = [
    (M.MeanAbsolutePercentageError(), REG_T, REG_P, lambda t, p: 100 * np.abs((t - p) / t).mean(-1)),
    (M.MeanSquaredLogarithmicError(), POS_T, POS_P, lambda t, p: ((np.log1p(p) - np.log1p(t)) ** 2).mean(-1)),
    (M.CosineSimilarity(), REG_T, REG_P, lambda t, p: (_unit(t) * _unit(p)).sum(-1)),
    (M.LogCoshError(), REG_T, REG_P, lambda t, p: np.log(np.cosh(p - t)).mean(-1)),
    (M.Hinge(), BIN_T, REG_P, lambda t, p: np.maximum(1 - (2 * t - 1) * p, 0).mean(-1)),
    (M.SquaredHinge(), BIN_T, REG_P, lambda t, p: (np.maximum(1 - (2 * t - 1) * p, 0) ** 2).mean(-1)),
    (M.CategoricalHinge(), ONEHOT, PROB * 3, lambda t, p: np.maximum(((1 - t) * p).max(-1) - (t * p).sum(-1) + 1, 0)),
    (M.KLDivergence(), ONEHOT, PROB, lambda t, p: (np.clip(t, EPS, 1) * np.log(np.clip(t, EPS, 1) / p)).sum(-1)),
    (M.Poisson(), POS_T, POS_P, lambda t, p: (p - t * np.log(p + EPS)).mean(-1)),
    (M.BinaryCrossentropy(), BIN_T, np.clip(POS_P / 3, 0.01, 0.99),
     lambda t, p: -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean(-1)),
    (M.CategoricalCrossentropy(), ONEHOT, PROB, lambda t, p: -(t * np.log(p)).sum(-1)),
    (M.SparseCategoricalCrossentropy(from_logits=True), LABELS, np.log(PROB) + 1.0,
     lambda t, p: -np.log(PROB[np.arange(6), t])),
    (M.TopKCategoricalAccuracy(k=2), ONEHOT, PROB, lambda t, p: _top_k(t.argmax(-1), p, 2)),
    (M.SparseTopKCategoricalAccuracy(k=2), LABELS, PROB, lambda t, p: _top_k(t, p, 2)),
    (M.PearsonCorrelation(), REG_T, REG_P, _pearson),
]


@pytest.mark.parametrize("metric,t,p,ref", MEANS, ids=[type(c[0]).__name__ for c in MEANS])
def test_mean_metrics_follow_their_formulas(metric, t, p, ref):
    metric.reset_state()
    want = ref(t, p)
    metric.update_state(t[:4], p[:4])
    metric.update_state(t[4:], p[4:])  # accumulates over batches
    result = metric.result()
    assert result.dtype.name == "float32" and result.shape == ()
    np.testing.assert_allclose(float(result.numpy()), want.mean(), rtol=1e-5)
    metric.reset_state()
    metric.update_state(t, p, sample_weight=SW)
    np.testing.assert_allclose(float(metric.result().numpy()), (want * SW).sum() / SW.sum(), rtol=1e-5)


def test_rmse_concordance_and_top_k_edges():
    m = M.RootMeanSquaredError()
    m.update_state(REG_T, REG_P, sample_weight=SW)
    np.testing.assert_allclose(float(m.result().numpy()),
                               np.sqrt((((REG_P - REG_T) ** 2).mean(-1) * SW).sum() / SW.sum()), rtol=1e-6)
    t, p = REG_T, REG_P  # Keras 3.15's terms: the covariance uses the mean of y_pred on both sides
    tm, pm = t.mean(-1, keepdims=True), p.mean(-1, keepdims=True)
    want = (2 * (t - pm) * (p - pm) / (t.var(-1, keepdims=True) + p.var(-1, keepdims=True) + (tm - pm) ** 2
                                       + EPS)).mean(-1)
    np.testing.assert_allclose(M.concordance_correlation(t, p).numpy(), want, rtol=1e-5)
    # ties at the k-th place count as hits, as TensorFlow's in_top_k; sorted ids compare the first k
    np.testing.assert_array_equal(M.sparse_top_k_categorical_accuracy([0, 1], [[0.5, 0.5, 0.5], [0.6, 0.2, 0.2]], k=1),
                                  [1.0, 0.0])
    np.testing.assert_array_equal(
        M.sparse_top_k_categorical_accuracy([2, 0], [[1, 2, 0], [1, 2, 0]], k=2, from_sorted_ids=True), [1.0, 0.0])


KERAS_EXAMPLES = [  # (metric, args, kwargs, the value Keras 3.15.1 gives: its docstring examples and a few more)
    (lambda: M.TruePositives(), ([0, 1, 1, 1], [1, 0, 1, 1]), {}, 2.0),
    (lambda: M.TruePositives(), ([0, 1, 1, 1], [1, 0, 1, 1]), {"sample_weight": [0, 0, 1, 0]}, 1.0),
    (lambda: M.TrueNegatives(thresholds=[0.2, 0.5, 0.9]), ([0, 0, 1, 0], [0.1, 0.6, 0.8, 0.95]), {}, [1.0, 1.0, 2.0]),
    (lambda: M.FalsePositives(), ([0, 1, 0, 0], [0, 0, 1, 1]), {}, 2.0),
    (lambda: M.FalseNegatives(), ([0, 1, 1, 1], [0, 1, 0, 0]), {}, 2.0),
    (lambda: M.Precision(top_k=2), ([0, 0, 1, 1], [1, 1, 1, 1]), {}, 0.0),  # ties: the lower indices are the top
    (lambda: M.Precision(top_k=4), ([0, 0, 1, 1], [1, 1, 1, 1]), {}, 0.5),
    (lambda: M.Recall(top_k=1, thresholds=[0.3, 0.7]), ([[0, 1, 1], [1, 0, 1]], [[0.2, 0.5, 0.1], [0.8, 0.1, 0.6]]),
     {}, [0.5, 0.25]),  # top-1 picks (0, 1) and (1, 0): TP 2 at 0.3, 1 at 0.7 (0.5 < 0.7); 4 positives
    (lambda: M.PrecisionAtRecall(0.5), ([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]), {}, 0.5),
    (lambda: M.PrecisionAtRecall(0.5), ([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]),
     {"sample_weight": [2, 2, 2, 1, 1]}, 1 / 3),
    (lambda: M.RecallAtPrecision(0.8), ([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]), {}, 0.5),
    (lambda: M.SensitivityAtSpecificity(0.5), ([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]), {}, 0.5),
    (lambda: M.SpecificityAtSensitivity(0.5), ([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]), {}, 2 / 3),
    (lambda: M.SpecificityAtSensitivity(0.5), ([0, 0, 0, 1, 1], [0, 0.3, 0.8, 0.3, 0.8]),
     {"sample_weight": [1, 1, 2, 2, 2]}, 0.5),
    (lambda: M.F1Score(threshold=0.5), ([[1, 1, 1], [1, 0, 0], [1, 1, 0]],
                                        [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]), {}, [0.5, 0.8, 2 / 3]),
    (lambda: M.F1Score(), ([[1, 1, 1], [1, 0, 0], [1, 1, 0]],
                           [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]), {}, [0.0, 0.5, 2 / 3]),
    (lambda: M.FBetaScore(average="macro", beta=2.0, threshold=0.5), ([[1, 1, 1], [1, 0, 0], [1, 1, 0]],
                                                                      [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6],
                                                                       [0.6, 0.8, 0.0]]), {}, 0.709013),
    (lambda: M.R2Score(), ([[1.0], [4.0], [3.0]], [[2.0], [4.0], [4.0]]), {}, 0.571429),  # 1 - 2 / (14/3)
    (lambda: M.IoU(num_classes=2, target_class_ids=[0]), ([0, 0, 1, 1], [0, 1, 0, 1]), {}, 1 / 3),
    (lambda: M.MeanIoU(num_classes=2), ([0, 0, 1, 1], [0, 1, 0, 1]), {}, 1 / 3),
    (lambda: M.BinaryIoU(target_class_ids=[0, 1], threshold=0.3), ([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7]), {}, 1 / 3),
    (lambda: M.OneHotIoU(num_classes=3, target_class_ids=[0, 2]),
     ([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]], [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1],
                                                     [0.1, 0.4, 0.5]]), {"sample_weight": [1, 2, 3, 4]}, 1 / 14),
    (lambda: M.OneHotMeanIoU(num_classes=3),
     ([[0, 0, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0]], [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7], [0.5, 0.3, 0.1],
                                                     [0.1, 0.4, 0.5]]), {"sample_weight": [1, 2, 3, 4]}, 1 / 21),
]


@pytest.mark.parametrize("make,args,kwargs,want", KERAS_EXAMPLES,
                         ids=[f"{i}" for i in range(len(KERAS_EXAMPLES))])
def test_stateful_metrics_give_keras_values(make, args, kwargs, want):
    m = make()
    m.update_state(*(np.asarray(a) for a in args), **{k: np.asarray(v) for k, v in kwargs.items()})
    np.testing.assert_allclose(m.result().numpy(), want, rtol=1e-5, atol=1e-7)
    m.reset_state()
    np.testing.assert_allclose(np.asarray(m.result().numpy()), np.zeros(np.shape(want)), atol=1e-12)


def test_iou_leaves_out_ignored_and_out_of_range_ids_and_batches_add_up():
    m = M.MeanIoU(num_classes=3, ignore_class=1)
    m.update_state([0, 1, 2, 2], [0, 0, 2, 1])  # the pair with target 1 is left out
    m.update_state([2, 5, 0], [2, 0, 1])  # target 5 is out of range: left out
    cm = np.zeros((3, 3))
    for t, p in [(0, 0), (2, 2), (2, 1), (2, 2), (0, 1)]:
        cm[t, p] += 1
    tp, denom = np.diag(cm), cm.sum(0) + cm.sum(1) - np.diag(cm)
    np.testing.assert_allclose(float(m.result().numpy()), (tp / denom).sum() / 3, rtol=1e-6)


def test_r2_adjusted_and_per_output():
    t, p = REG_T, REG_P
    raw = 1 - ((t - p) ** 2).sum(0) / ((t - t.mean(0)) ** 2).sum(0)
    m = M.R2Score(class_aggregation=None)
    m.update_state(t, p)
    np.testing.assert_allclose(m.result().numpy(), raw, rtol=1e-5)
    adjusted = M.R2Score(num_regressors=2)
    adjusted.update_state(t, p)
    n = t.size
    np.testing.assert_allclose(float(adjusted.result().numpy()), 1 - (1 - raw.mean()) * (n - 1) / (n - 3), rtol=1e-5)
    with pytest.warns(UserWarning, match="More independent predictors"):
        too_many = M.R2Score(num_regressors=50)
        too_many.update_state(t, p)
        too_many.result()
    with pytest.raises(ValueError, match="2D inputs"):
        M.R2Score().update_state(np.zeros(3), np.zeros(3))


@pytest.mark.parametrize("make,match", [
    (lambda: M.F1Score(average="avg"), "average=avg"), (lambda: M.FBetaScore(beta=2), "beta=2"),
    (lambda: M.F1Score(threshold=1.5), "threshold=1.5"), (lambda: M.R2Score(class_aggregation="x"), "x"),
    (lambda: M.PrecisionAtRecall(1.5), "recall=1.5"), (lambda: M.SensitivityAtSpecificity(0.5, num_thresholds=0),
                                                        "num_thresholds=0"),
    (lambda: M.IoU(num_classes=2, target_class_ids=[2]), "Target class id 2"),
])
def test_bad_arguments_are_refused_naming_them(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_names_configs_and_serialization():
    for ident, cls in [("top_k_categorical_accuracy", M.TopKCategoricalAccuracy),
                       ("mape", M.MeanAbsolutePercentageError), ("msle", M.MeanSquaredLogarithmicError),
                       ("log_cosh_error", M.LogCoshError),
                       ("kl_divergence", M.KLDivergence), ("cosine_similarity", M.CosineSimilarity),
                       ("bce", M.BinaryCrossentropy), ("binary_crossentropy", M.BinaryCrossentropy),
                       ("root_mean_squared_error", M.RootMeanSquaredError), ("f1_score", M.F1Score),
                       ("true_positives", M.TruePositives), ("R2Score", M.R2Score),
                       ("MSLE", M.MeanSquaredLogarithmicError)]:
        assert type(M.get(ident)) is cls, ident
    # a loss function's name that is no Keras 3 metric name is its mean (Keras 2 accepted these)
    kld = M.get("kld")
    assert type(kld) is M.MeanMetricWrapper and kld.name == "kld"
    kld.update_state(ONEHOT, PROB)
    np.testing.assert_allclose(float(kld.result().numpy()), keras.losses.kld(ONEHOT, PROB).numpy().mean(), rtol=1e-6)
    with pytest.raises(ValueError, match="top_k_accuracy"):
        M.get("top_k_accuracy")
    # default names: Keras's snake case, made unique like layer names
    first, second = M.TruePositives(), M.TruePositives()
    assert first.name.startswith("true_positives") and second.name != first.name
    assert M.MeanIoU(3, name="m").get_config() == {"name": "m", "dtype": "int64", "num_classes": 3,
                                                   "ignore_class": None, "sparse_y_true": True,
                                                   "sparse_y_pred": True, "axis": -1}
    assert M.TruePositives(name="tp").get_config() == {"name": "tp", "dtype": "float32", "thresholds": None}
    assert M.Recall(thresholds=[0.3, 0.6], class_id=1).get_config() == {
        "name": "recall", "dtype": "float32", "thresholds": [0.3, 0.6], "top_k": None, "class_id": 1}
    assert M.AUC().get_config() == {"name": "auc", "dtype": "float32", "num_thresholds": 200, "curve": "ROC",
                                    "summation_method": "interpolation", "multi_label": False, "num_labels": None,
                                    "label_weights": None, "from_logits": False}
    assert M.LogCoshError().get_config() == {"name": "logcosh", "dtype": "float32"}
    assert M.F1Score().get_config() == {"name": "f1_score", "dtype": "float32", "average": None, "threshold": None}
    assert M.SparseTopKCategoricalAccuracy(k=3).get_config() == {
        "name": "sparse_top_k_categorical_accuracy", "dtype": "float32", "k": 3}
    for metric in [M.TopKCategoricalAccuracy(k=3), M.PrecisionAtRecall(0.7, num_thresholds=50, name="par"),
                   M.FBetaScore(average="micro", beta=0.5, threshold=0.4), M.R2Score(num_regressors=1),
                   M.OneHotIoU(4, [1, 2], name="oh"), M.BinaryIoU(threshold=0.7, name="b"),
                   M.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
                   M.FalseNegatives([0.2, 0.4], "fn")]:
        config = M.serialize(metric)
        assert config["module"] == "keras.metrics" and config["class_name"] == type(metric).__name__
        back = M.deserialize(config)
        assert type(back) is type(metric) and back.get_config() == metric.get_config()
    assert isinstance(M.get({"class_name": "TopKCategoricalAccuracy", "config": {"k": 2}}), M.TopKCategoricalAccuracy)
    assert M.kld is keras.losses.kl_divergence and M.MAPE is keras.losses.mean_absolute_percentage_error


def test_compile_accepts_keras_metric_names_and_logs_list_results():
    x = rng.normal(size=(8, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    names = ["mse", "binary_crossentropy", "mape", "msle", "cosine_similarity", "log_cosh_error", "kl_divergence",
             "squared_hinge", "poisson", "root_mean_squared_error", "true_positives", "kld", "logcosh"]
    model.compile("sgd", "binary_crossentropy",
                  metrics=names + [M.Recall(thresholds=[0.3, 0.6]), M.F1Score(name="f1")])
    h = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert set(h.history) == set(names) | {"loss", "recall", "f1"}
    np.testing.assert_allclose(h.history["binary_crossentropy"][0], h.history["loss"][0], rtol=1e-6)
    recall = h.history["recall"][1]  # Keras 3 logs a metric with several values as the array
    assert isinstance(recall, np.ndarray) and recall.shape == (2,) and recall[0] >= recall[1]
    assert isinstance(h.history["f1"][0], float)  # a (1,) result is a float
    ev = model.evaluate(x, y, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    positives = y[:, 0] > 0
    np.testing.assert_allclose(ev["recall"], [(pred[positives, 0] > t).mean() for t in (0.3, 0.6)], rtol=1e-6)
    assert ev["true_positives"] == float(((pred[:, 0] > 0.5) & positives).sum())


ok, why = probe_emulator()


@pytest.mark.skipif(not ok, reason=f"emulator unavailable: {why}")
def test_new_metrics_stay_on_the_device_and_match_the_cpu():
    x = rng.normal(size=(8, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 8)]
    logs, counts = {}, []
    for device, n in (("emulator", 4), ("emulator", 8), ("cpu", 8)):
        with tf.device(device):
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
            model.set_weights([np.full((4, 3), 0.2, "float32") * np.arange(1, 4), np.zeros(3, "float32")])
            model.compile("sgd", keras.losses.CategoricalFocalCrossentropy(), metrics=[
                M.TopKCategoricalAccuracy(k=2, name="top2"), M.RootMeanSquaredError(name="rmse"),
                M.CategoricalHinge(name="ch"), M.KLDivergence(name="kl"), M.F1Score(average="macro", name="f1"),
                M.R2Score(name="r2"), M.OneHotMeanIoU(3, name="iou"), M.FalsePositives([0.3, 0.5], name="fp"),
                M.RecallAtPrecision(0.3, name="rap"), M.PearsonCorrelation(name="pc"), "kld",
                M.AUC(multi_label=True, label_weights=[1.0, 2.0, 1.0], name="mlauc"), M.Precision(top_k=1)])
            with tf.profiler.profile() as prof:
                h = model.fit(x[:n], y[:n], batch_size=2, verbose=0, shuffle=False,
                              sample_weight=np.linspace(0.5, 1.5, n))
        counts.append(prof.host_contacts()["d2h"]["count"])
        logs[device] = h.history
    assert counts[:2] == [1, 1]  # one copy per epoch, whatever the number of steps
    for key, values in logs["cpu"].items():
        np.testing.assert_allclose(np.asarray(logs["emulator"][key], float), np.asarray(values, float), rtol=1e-5,
                                   atol=1e-6, err_msg=key)


def test_progress_bar_shows_list_results(capsys):
    x = rng.normal(size=(4, 3)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "mse", metrics=[M.TruePositives(thresholds=[0.1, 0.9], name="tp")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, np.ones((4, 1), "float32"), epochs=1, verbose=2)
    assert " - tp: " in capsys.readouterr().out


def test_a_keras_file_with_new_loss_and_metrics_loads_compiled_and_evaluates_as_keras(tmp_path):
    """``fixtures/losses_metrics.keras`` was written by Keras 3.15.1 (``fixtures/make_losses_metrics.py``):
    CategoricalFocalCrossentropy(gamma=3) and eight of the new metrics; evaluate gives Keras's numbers, and a
    gpuflow save/load round trip keeps them."""
    with np.load(os.path.join(FIXTURES, "losses_metrics.npz")) as d:
        x, y, pred, want = d["x"], d["y"], d["pred"], dict(zip(d["names"].tolist(), d["values"]))
    model = keras.models.load_model(os.path.join(FIXTURES, "losses_metrics.keras"))
    assert isinstance(model.loss, keras.losses.CategoricalFocalCrossentropy) and model.loss.gamma == 3.0
    np.testing.assert_allclose(model.predict(x, verbose=0), pred, rtol=1e-5, atol=1e-7)
    for m in (model, None):
        if m is None:
            model.save(tmp_path / "again.keras")
            m = keras.models.load_model(tmp_path / "again.keras")
        got = m.evaluate(x, y, batch_size=12, verbose=0, return_dict=True)
        assert set(got) == set(want)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, err_msg=k)


def test_multi_worker_reduction_sums_the_new_states():
    from gpuflow.distribute.collectives import LocalCollectives
    from gpuflow.distribute.keras_hooks import reduced_metrics
    from gpuflow.distribute.strategy import Strategy

    class TwoIdenticalWorkers(LocalCollectives):
        size, rank = 2, 0

        def __init__(self):
            pass

        def all_reduce(self, array, op="sum"):
            return array * 2 if op == "sum" else array

    f1, r2, iou = M.F1Score(), M.R2Score(num_regressors=1), M.MeanIoU(3)
    f1.update_state(ONEHOT, PROB)
    r2.update_state(REG_T, REG_P)
    iou.update_state(LABELS % 3, PROB.argmax(-1) % 3)
    tp, cm, n = f1.true_positives.copy(), iou.total_cm.copy(), r2.num_samples
    with Strategy(TwoIdenticalWorkers()).scope(), reduced_metrics([f1, r2, iou]):
        np.testing.assert_array_equal(f1.true_positives, tp * 2)
        np.testing.assert_array_equal(iou.total_cm, cm * 2)
        assert r2.num_samples == 2 * n
    np.testing.assert_array_equal(f1.true_positives, tp)
    assert r2.num_samples == n


class _BinaryTruePositives(M.Metric):
    """The custom metric of Keras's guide: its state in add_weight/add_variable variables."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_weight(name="tp", initializer="zeros")
        self.seen = self.add_variable(shape=(2,), initializer="ones", name="seen")

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = tf.cast(tf.logical_and(tf.cast(y_true, "bool"), y_pred > 0.5), self.dtype)
        if sample_weight is not None:
            values = values * tf.reshape(tf.cast(sample_weight, self.dtype), tf.shape(values))
        self.true_positives.assign_add(tf.reduce_sum(values))
        self.seen.assign_add(tf.ones((2,)))

    def result(self):
        return self.true_positives


def test_a_custom_metric_with_variables_updates_resets_and_logs():
    m = _BinaryTruePositives()
    m.update_state(np.array([[1], [0], [1]]), tf.constant([[0.9], [0.8], [0.2]]))
    assert float(m.result().numpy()) == 1.0 and [v.name for v in m.variables] == ["tp", "seen"]
    np.testing.assert_array_equal(m.seen.numpy(), [2.0, 2.0])  # initialised with ones, then one update
    m.reset_state()  # Keras 3's default: every variable to zeros
    assert [v.numpy().tolist() for v in m.variables] == [0.0, [0.0, 0.0]]
    assert m.get_config() == {"name": "binary_true_positives", "dtype": "float32"}
    x = rng.normal(size=(8, 3)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("sgd", "mse", metrics=[_BinaryTruePositives(name="btp")])
    h = model.fit(x, (x[:, :1] > 0).astype("float32"), batch_size=4, epochs=2, verbose=0)
    assert sorted(h.history) == ["btp", "loss"] and all(0 <= v <= 8 for v in h.history["btp"])


def test_auc_summation_methods_curves_and_labels():
    t, p = np.array([0, 0, 1, 1, 1, 0]), np.array([0.1, 0.4, 0.35, 0.8, 0.6, 0.7])

    def auc(y_true=t, y_pred=p, **kwargs):
        m = M.AUC(**kwargs)
        m.update_state(y_true, y_pred)
        return float(m.result().numpy())
    # thresholds -1e-7, 1/3, 2/3, 1+1e-7: ROC points (1, 1), (2/3, 1), (1/3, 1/3), (0, 0), counted by hand
    assert auc(num_thresholds=4) == pytest.approx(11 / 18, rel=1e-6)
    assert auc(num_thresholds=4, summation_method="minoring") == pytest.approx(4 / 9, rel=1e-6)
    assert auc(num_thresholds=4, summation_method="majoring") == pytest.approx(7 / 9, rel=1e-6)
    assert auc(curve="PRGAIN") == pytest.approx(0.2083333, rel=1e-5)  # Keras 3.15.1's value
    # multi_label: one curve per column, averaged or weighted by label_weights
    y = (rng.random((12, 3)) > 0.5).astype(float)
    s = np.clip(y * 0.3 + rng.random((12, 3)) * 0.7, 0, 1)
    per_label = [auc(y[:, k], s[:, k], curve="PR") for k in range(3)]
    assert auc(y, s, curve="PR", multi_label=True) == pytest.approx(np.mean(per_label), rel=1e-6)
    assert auc(y, s, curve="PR", multi_label=True, label_weights=[1.0, 0.0, 3.0]) == pytest.approx(
        (per_label[0] + 3 * per_label[2]) / 4, rel=1e-6)
    # without multi_label, label_weights weigh each column's entries in the pooled counts
    pooled = M.AUC()
    pooled.update_state(y, s, sample_weight=np.broadcast_to([0.2, 0.3, 0.5], y.shape))
    assert auc(y, s, label_weights=[0.2, 0.3, 0.5]) == pytest.approx(float(pooled.result().numpy()), rel=1e-6)
    config = M.AUC(multi_label=True, num_labels=3, thresholds=[0.6, 0.3], curve="pr").get_config()
    assert config["thresholds"] == [0.3, 0.6] and config["curve"] == "PR" and config["num_labels"] == 3
    assert type(M.deserialize(M.serialize(M.AUC(multi_label=True, label_weights=[1.0, 2.0])))) is M.AUC
    for bad, match in ((dict(curve="XY"), "Invalid AUC curve"), (dict(summation_method="mid"), "summation method"),
                       (dict(num_labels=3), "only when `multi_label` is True")):
        with pytest.raises(ValueError, match=match):
            M.AUC(**bad)
    with pytest.raises(ValueError, match="rank 2"):
        M.AUC(multi_label=True).update_state(np.zeros(4), np.zeros(4))
