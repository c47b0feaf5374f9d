"""Precision, Recall and AUC follow Keras 3 (values checked by hand and against the exact ROC AUC)."""
import numpy as np
import pytest

import gpuflow as tf

M = tf.keras.metrics


def test_precision_recall_hand_computed():
    y = [0, 1, 1, 1, 0]
    p = [0.9, 0.8, 0.3, 0.6, 0.1]  # predicted positive at 0.5: idx 0, 1, 3 -> TP 2, FP 1, FN 1
    pr, rc = M.Precision(), M.Recall()
    pr.update_state(y, p)
    rc.update_state(y, p)
    assert float(pr.result()) == pytest.approx(2 / 3) and float(rc.result()) == pytest.approx(2 / 3)
    pr.update_state([1], [0.7], sample_weight=[2.0])
    assert float(pr.result()) == pytest.approx(4 / 5)
    pr.reset_state()
    assert float(pr.result()) == 0.0
    multi = M.Precision(thresholds=[0.2, 0.85])
    multi.update_state(y, p)
    np.testing.assert_allclose(multi.result().numpy(), [3 / 4, 0.0])


def test_roc_auc_matches_the_exact_pairwise_value():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.clip(y * 0.3 + rng.random(400) * 0.7, 0, 1)
    auc = M.AUC(num_thresholds=2000)
    auc.update_state(y, p)
    pos, neg = p[y == 1], p[y == 0]
    exact = np.mean(pos[:, None] > neg[None, :]) + 0.5 * np.mean(pos[:, None] == neg[None, :])
    assert float(auc.result()) == pytest.approx(exact, abs=2e-3)
    perfect = M.AUC()
    perfect.update_state([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert float(perfect.result()) == pytest.approx(1.0)


def test_pr_auc_perfect_classifier_and_errors():
    pr = M.AUC(curve="PR")
    pr.update_state([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert float(pr.result()) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="curve"):
        M.AUC(curve="XY")
    with pytest.raises(ValueError, match="same shape"):
        M.Precision().update_state([0, 1, 1], [[0.1, 0.2]])


def test_metrics_by_name_in_compile():
    k = tf.keras
    m = k.Sequential([k.Input((2,)), k.layers.Dense(1, activation="sigmoid")])
    m.compile("adam", "binary_crossentropy", metrics=["accuracy", "precision", "recall", "auc"])
    x = np.array([[0, 0], [1, 1], [1, 0], [0, 1]], "float32")
    h = m.fit(x, np.array([0, 1, 1, 0]), epochs=1, verbose=0)
    assert {"precision", "recall", "auc", "accuracy", "loss"} <= set(h.history)
