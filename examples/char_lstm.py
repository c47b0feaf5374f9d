"""A character-level LSTM language model that learns a text and writes more of it.

Run:  python examples/char_lstm.py [--quick]
Only the import differs from TensorFlow: `import gpuflow as tf`.
The text is the opening of Lewis Carroll's "Alice's Adventures in Wonderland" (1865, public domain), kept
below. Windows of characters are mapped to ids; Embedding -> LSTM(return_sequences=True) -> Dense predicts the
next character at every step (sparse categorical cross-entropy on logits). The script reports the per-character
perplexity on held-out text beside the unigram baseline (character frequencies only), then generates text by
sampling one character at a time with a temperature.
`--quick` trains less (the tests use it). Nothing is written to disk.
"""
import argparse

import numpy as np

import gpuflow as tf

keras = tf.keras
parser = argparse.ArgumentParser(description="A character-level LSTM language model.")
parser.add_argument("--quick", action="store_true", help="a small, fast run (what the tests use)")
parser.add_argument("--temperature", type=float, default=0.6, help="sampling temperature (default 0.6)")
args = parser.parse_args()
QUICK = args.quick

TEXT = (
    "Alice was beginning to get very tired of sitting by her sister on the bank, and of having nothing to do: "
    "once or twice she had peeped into the book her sister was reading, but it had no pictures or conversations "
    "in it, and what is the use of a book, thought Alice, without pictures or conversations? So she was "
    "considering in her own mind (as well as she could, for the hot day made her feel very sleepy and stupid), "
    "whether the pleasure of making a daisy-chain would be worth the trouble of getting up and picking the "
    "daisies, when suddenly a White Rabbit with pink eyes ran close by her. There was nothing so very remarkable "
    "in that; nor did Alice think it so very much out of the way to hear the Rabbit say to itself, Oh dear! Oh "
    "dear! I shall be late! "
).lower()
SEQ_LEN = 24
EPOCHS = 12 if QUICK else 60
UNITS = 64 if QUICK else 128

chars = sorted(set(TEXT))
char_to_id = {c: i for i, c in enumerate(chars)}
ids = np.array([char_to_id[c] for c in TEXT], "int32")
split = int(0.9 * len(ids))


def windows(seq, stride):
    starts = range(0, len(seq) - SEQ_LEN - 1, stride)
    return (np.stack([seq[s:s + SEQ_LEN] for s in starts]), np.stack([seq[s + 1:s + SEQ_LEN + 1] for s in starts]))


x_train, y_train = windows(ids[:split], 3)
x_test, y_test = windows(ids[split - SEQ_LEN:], 1)
print(f"{len(TEXT)} characters, vocabulary {len(chars)}, {len(x_train)} training windows of {SEQ_LEN}")

keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((None,), dtype="int32"),
    keras.layers.Embedding(len(chars), 24),
    keras.layers.LSTM(UNITS, return_sequences=True),
    keras.layers.Dense(len(chars)),
], name="char_lstm")
model.summary()
model.compile(optimizer=keras.optimizers.Adam(1e-2),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=EPOCHS, verbose=0 if QUICK else 2)

train_loss, _ = model.evaluate(x_train, y_train, verbose=0)
test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
counts = np.bincount(ids[:split], minlength=len(chars)) + 1.0  # add-one smoothing
unigram = -np.mean(np.log(counts / counts.sum())[y_test.ravel()])
print(f"Training-text perplexity per character: {np.exp(train_loss):.2f}")
print(f"Held-out perplexity per character: {np.exp(test_loss):.2f} (next-character accuracy {test_acc:.2f})")
print(f"Unigram baseline perplexity: {np.exp(unigram):.2f}")

# Generation: feed the text so far (its last SEQ_LEN characters), sample the next character, repeat.
rng = np.random.default_rng(0)
generated = "alice was "
for _ in range(60 if QUICK else 400):
    context = np.array([[char_to_id[c] for c in generated[-SEQ_LEN:]]], "int32")
    logits = model.predict(context, verbose=0)[0, -1] / max(args.temperature, 1e-3)
    p = np.exp(logits - logits.max())
    generated += chars[rng.choice(len(chars), p=p / p.sum())]
print(f"Generated ({len(generated)} characters): {generated}")
