"""IntegerLookup, StringLookup and TextVectorization (Keras 3.15's index layout, adapt order, encodings and
configs; NumPy str arrays for strings): expected values worked out by hand here."""
import math

import numpy as np
import pytest

import gpuflow as tf
from layer_test_utils import run_layer_test

keras = tf.keras
layers = keras.layers
VOCAB = ["a", "b", "c", "d"]


def test_string_lookup_int_mask_oov_and_invert():
    data = np.array([["a", "c", "d"], ["d", "z", "b"]])
    out = layers.StringLookup(vocabulary=VOCAB)(data)  # 0 is the OOV index, tokens from 1
    assert out.dtype.name == "int64"
    np.testing.assert_array_equal(out.numpy(), [[1, 3, 4], [4, 0, 2]])
    masked = layers.StringLookup(vocabulary=VOCAB, mask_token="")  # 0 mask, 1 OOV, tokens from 2
    np.testing.assert_array_equal(masked(np.array([["a", "", "z"]])).numpy(), [[2, 0, 1]])
    assert masked.get_vocabulary() == ["", "[UNK]", "a", "b", "c", "d"] and masked.vocabulary_size() == 6
    np.testing.assert_array_equal(layers.StringLookup(vocabulary=VOCAB, num_oov_indices=0)(np.array(["a", "b"]))
                                  .numpy(), [0, 1])
    with pytest.raises(ValueError, match="all inputs should be in vocabulary"):
        layers.StringLookup(vocabulary=VOCAB, num_oov_indices=0)(np.array(["q"]))
    inverse = layers.StringLookup(vocabulary=VOCAB, invert=True, mask_token="[M]")
    np.testing.assert_array_equal(inverse(np.array([[1, 2, 0, 7]])), [["[UNK]", "a", "[M]", "[UNK]"]])
    np.testing.assert_array_equal(layers.StringLookup(vocabulary=VOCAB)(np.array([b"c"])).numpy(), [3])  # bytes
    with pytest.raises(ValueError, match="repeated term"):
        layers.StringLookup(vocabulary=["a", "a"])


def test_string_lookup_encodings():
    data = np.array([["a", "c", "d"], ["d", "z", "b"]])
    multi = layers.StringLookup(vocabulary=VOCAB, output_mode="multi_hot")(data).numpy()
    np.testing.assert_array_equal(multi, [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]])
    count = layers.StringLookup(vocabulary=VOCAB, output_mode="count", max_tokens=8, pad_to_max_tokens=True)
    np.testing.assert_array_equal(count(data).numpy(), [[0, 1, 0, 1, 1, 0, 0, 0], [1, 0, 1, 0, 1, 0, 0, 0]])
    tfidf = layers.StringLookup(vocabulary=VOCAB, output_mode="tf_idf", idf_weights=[0.5, 1.0, 1.5, 2.0])
    # the OOV index weighs the mean of the given weights, 1.25 (Keras pads the special tokens with it)
    np.testing.assert_allclose(tfidf(data).numpy(), [[0, 0.5, 0, 1.5, 2.0], [1.25, 0, 1.0, 0, 2.0]])
    one_hot = layers.StringLookup(vocabulary=VOCAB, output_mode="one_hot")(np.array(["a", "z"])).numpy()
    np.testing.assert_array_equal(one_hot, [[0, 1, 0, 0, 0], [1, 0, 0, 0, 0]])


def test_string_lookup_adapt_order_and_tf_idf():
    docs = np.array([["b", "a", "c"], ["a", "b", "a"], ["d", "e", "e"]])
    layer = layers.StringLookup()
    layer.adapt(docs)
    # by count (a 3, e 2, b 2, d 1, c 1), ties by the larger token first, as Keras
    assert layer.get_vocabulary() == ["[UNK]", "a", "e", "b", "d", "c"]
    layer = layers.StringLookup(max_tokens=3, mask_token="", output_mode="tf_idf")
    layer.adapt(docs)
    assert layer.get_vocabulary() == ["[UNK]", "a", "e"]
    idf_a, idf_e = math.log(1 + 3 / (1 + 2)), math.log(1 + 3 / (1 + 1))  # log(1 + documents / (1 + doc count))
    out = layer(np.array([["a", "e", "q"], ["b", "b", "a"]])).numpy()
    np.testing.assert_allclose(out, [[(idf_a + idf_e) / 2, idf_a, idf_e], [2 * (idf_a + idf_e) / 2, idf_a, 0]],
                               rtol=1e-6)
    config = layer.get_config()
    assert config["vocabulary_size"] == 3 and config["vocabulary"] is None and "vocabulary_dtype" not in config
    with pytest.raises(ValueError, match="Cannot adapt layer"):
        layers.StringLookup(vocabulary=VOCAB).adapt(docs)


def test_integer_lookup(device):
    ids = np.array([[3, 12, 5], [7, 7, 0]])
    run_layer_test(layers.IntegerLookup, {"vocabulary": [3, 7, 12]}, ids.shape, ids.shape, input_data=ids,
                   input_dtype="int64", expected_output=[[1, 3, 0], [2, 2, 0]], expected_output_dtype="int64")
    oov = layers.IntegerLookup(vocabulary=[3, 7, 12], num_oov_indices=3)  # floormod(v, 3) for unknown v
    np.testing.assert_array_equal(oov(np.array([[3, 12, 5], [8, 9, -4]])).numpy(), [[3, 5, 2], [2, 0, 2]])
    inverse = layers.IntegerLookup(vocabulary=[3, 7, 12], invert=True)
    np.testing.assert_array_equal(inverse(np.array([1, 2, 3, 0, 9])).numpy(), [3, 7, 12, -1, -1])
    layer = layers.IntegerLookup()
    layer.adapt(np.array([5, 3, 5, 9, 3, 5, 1]))
    assert layer.get_vocabulary() == [-1, 5, 3, 9, 1]
    model = keras.Sequential([keras.Input((3,), dtype="int64"), layers.IntegerLookup(vocabulary=[3, 7, 12]),
                              layers.Embedding(5, 2)])
    emb = model.layers[-1].get_weights()[0]
    np.testing.assert_allclose(model.predict(np.array([[3, 12, 5]]), verbose=0)[0], emb[[1, 3, 0]])
    config = layers.IntegerLookup(vocabulary=[3, 7, 12], mask_token=0).get_config()
    assert config["vocabulary"] == [3, 7, 12] and config["vocabulary_size"] == 5 and config["mask_token"] == 0


def test_text_vectorization():
    texts = np.array(["The cat sat on the mat.", "The DOG ate my homework!", "cat, cat and dog", "Ünïcode Äb c-d"])
    tv = layers.TextVectorization()
    tv.adapt(texts)
    # lower-casing is ASCII-only and punctuation is stripped, as tf.strings.lower and Keras's regex
    assert tv.get_vocabulary() == ["", "[UNK]", "the", "cat", "dog", "Ünïcode", "Äb", "sat", "on", "my", "mat",
                                   "homework", "cd", "ate", "and"]
    np.testing.assert_array_equal(tv(np.array(["the cat ate", "a new Cat, mat!"])).numpy(),
                                  [[2, 3, 13, 0], [1, 1, 3, 10]])
    short = layers.TextVectorization(max_tokens=6, output_sequence_length=5)
    short.adapt(texts)
    np.testing.assert_array_equal(short(np.array([["the cat ate the dog and my homework"], ["cat"]])).numpy(),
                                  [[2, 3, 1, 2, 4], [3, 0, 0, 0, 0]])
    assert short.compute_output_shape((None,)) == (None, 5)
    bigrams = layers.TextVectorization(output_mode="multi_hot", ngrams=2, vocabulary=["the", "cat", "the cat"])
    # "the cat sat" -> the, cat, sat, "the cat", "cat sat": sat and "cat sat" unknown (index 0)
    np.testing.assert_array_equal(bigrams(np.array(["the cat sat", "dog"])).numpy(), [[1, 1, 1, 1], [1, 0, 0, 0]])
    chars = layers.TextVectorization(split="character", standardize="lower", output_mode="count",
                                     vocabulary=["a", "b", "c"])
    np.testing.assert_array_equal(chars(np.array(["AbcaX", "ccq"])).numpy(), [[1, 2, 1, 1], [1, 0, 0, 2]])
    config = short.get_config()
    assert config["vocabulary_size"] == 6 and config["output_sequence_length"] == 5
    config = chars.get_config()
    assert layers.TextVectorization.from_config(config).get_config() == config
    with pytest.raises(ValueError, match="`output_sequence_length` must not be set"):
        layers.TextVectorization(output_mode="count", output_sequence_length=3)


def test_fingerprint64_equals_tensorflows():
    from gpuflow.keras.layers.hashing import fingerprint64
    strings = [b"", b"a", b"abc", b"abcdefg", b"hello world!", b"0123456789abcdefXYZ", b"x" * 40,
               b"The quick brown fox jumps over the lazy dog, 100 times over!!", bytes(range(200))]
    # tf.fingerprint(strings, method="farmhash64") in TensorFlow 2.21 (every length branch of FarmHash's Hash64)
    expected = [0x9ae16a3b2f90404f, 0xb3454265b6df75e3, 0x24a5b3a074e7f369, 0x3c40c92b1ccb7355, 0x3f87e91e111fcf64,
                0xbc0429daa98222fa, 0xebf8e8aeac993c94, 0xbdd26f1635e43022, 0x74c7fcc26d66fb3]
    assert [fingerprint64(s) for s in strings] == expected


def test_hashing_and_hashed_oov_buckets():
    # the bins Keras 3.15.1 gives for the same inputs (TensorFlow's to_hash_bucket_fast)
    np.testing.assert_array_equal(layers.Hashing(10)(np.array([["a", "b"], ["c", "d"]])).numpy(), [[9, 2], [2, 5]])
    np.testing.assert_array_equal(layers.Hashing(10, mask_value="")(np.array([["a", ""], ["c", "d"]])).numpy(),
                                  [[4, 0], [8, 9]])
    np.testing.assert_array_equal(layers.Hashing(10)(np.array([[1, 2], [-3, 40]])).numpy(), [[9, 9], [9, 8]])
    np.testing.assert_array_equal(layers.Hashing(10)(np.array([[1.7, 2.2]])).numpy(), [[9, 9]])  # as 1 and 2
    count = layers.Hashing(4, output_mode="count")(np.array([["a", "b", "a"]]))
    assert count.dtype.name == "float32"
    np.testing.assert_array_equal(count.numpy(), [[0, 0, 1, 2]])
    assert layers.Hashing(3).get_config()["dtype"]["config"]["name"] == "int64"
    np.testing.assert_array_equal(layers.StringLookup(vocabulary=["a"], num_oov_indices=3)(
        np.array([["a", "q", "r", "zz"]])).numpy(), [[3, 2, 1, 1]])
    np.testing.assert_array_equal(layers.IntegerLookup(vocabulary=[1], num_oov_indices=3, oov_method="farmhash")(
        np.array([[1, 5, 17, -2]])).numpy(), [[3, 1, 0, 1]])
    with pytest.raises(ValueError, match="cannot be `None` or non-positive"):
        layers.Hashing(0)
    with pytest.raises(NotImplementedError, match="salt"):
        layers.Hashing(3, salt=1)


def test_hashed_crossing_equals_tensorflows_cross_hashed():
    # the bins tf.sparse.cross_hashed (Keras 3.15.1's HashedCrossing) gives for the same rows
    cross = layers.HashedCrossing(100)([np.array(["a", "b", "hello"]), np.array(["x", "y", "z"])])
    assert cross.dtype.name == "int64"
    np.testing.assert_array_equal(cross.numpy(), [92, 5, 88])
    np.testing.assert_array_equal(layers.HashedCrossing(7)([np.array([[1], [2], [-5]]),
                                                            np.array([[7], [0], [123456789]])]).numpy(), [[1], [6], [6]])
    np.testing.assert_array_equal(layers.HashedCrossing(1000)([np.array([3, 4]), np.array(["u", "v"]),
                                                               np.array([10, 11])]).numpy(), [555, 264])
    one_hot = layers.HashedCrossing(50, output_mode="one_hot")([np.array([[1], [2]]), np.array([["q"], ["r"]])])
    assert one_hot.shape == (2, 50) and one_hot.dtype.name == "float32"
    assert one_hot.numpy().sum() == 2 and one_hot.numpy()[0, 40] == 1 and one_hot.numpy()[1, 21] == 1
    config = layers.HashedCrossing(5).get_config()
    assert config == {"num_bins": 5, "output_mode": "int", "sparse": False, "name": config["name"], "dtype": "int64"}
    with pytest.raises(ValueError, match="at least two inputs"):
        layers.HashedCrossing(5)([np.array([1])])
    with pytest.raises(ValueError, match="integer or string dtype"):
        layers.HashedCrossing(5)([np.array([1.0]), np.array([2.0])])
