"""A small Transformer encoder (Vaswani et al., 2017) that classifies variable-length token sequences.

Run:  python examples/transformer_classifier.py [--quick]
Only the import differs from TensorFlow: `import gpuflow as tf`.
The task is drawn here: sequences of 3-16 tokens from a vocabulary of 10 (id 0 is padding), labelled 1 when
token 1 occurs more often than token 2. The model is Keras's text-classification Transformer: token plus
position embeddings (the padding mask comes from the token ids), one encoder block (MultiHeadAttention with a
residual connection and LayerNormalization, then a feed-forward network), masked GlobalAveragePooling1D and a
softmax. The padding mask reaches MultiHeadAttention and the pooling, so padded steps change nothing.
`--quick` shrinks the data and epochs (the tests use it). Nothing is written to disk.
"""
import argparse

import numpy as np

import gpuflow as tf

keras = tf.keras
layers = keras.layers
parser = argparse.ArgumentParser(description="A small Transformer encoder classifier.")
parser.add_argument("--quick", action="store_true", help="a small, fast run (what the tests use)")
QUICK = parser.parse_args().quick

VOCAB, MAXLEN, EMBED, HEADS, FF = 10, 16, 16, 2, 32
N = 600 if QUICK else 5000
EPOCHS = 12 if QUICK else 30


def make_data(n, rng):
    x = np.zeros((n, MAXLEN), "int32")
    y = np.zeros(n, "int32")
    for i in range(n):
        length = rng.integers(3, MAXLEN + 1)
        x[i, :length] = rng.integers(1, VOCAB, length)
        y[i] = int(np.sum(x[i] == 1) > np.sum(x[i] == 2))
    return x, y


class TokenAndPositionEmbedding(layers.Layer):
    """Token embedding plus a learned embedding of the position; id 0 is padding (the output's mask)."""

    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(vocab_size, embed_dim, mask_zero=True)
        self.pos_emb = layers.Embedding(maxlen, embed_dim)

    def call(self, x):
        positions = tf.range(x.shape[-1])
        return self.token_emb(x) + self.pos_emb(positions)

    def compute_mask(self, inputs, previous_mask=None):
        return tf.not_equal(inputs, 0)


class TransformerBlock(layers.Layer):
    """Self-attention and a feed-forward network, each with a residual connection and layer normalization."""

    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim // num_heads)
        self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1, self.dropout2 = layers.Dropout(rate), layers.Dropout(rate)
        self.supports_masking = True  # the padding mask passes on to the pooling

    def call(self, inputs, training=None):
        attn_output = self.att(inputs, inputs)  # the inputs' padding mask masks the attention
        out1 = self.layernorm1(inputs + self.dropout1(attn_output, training=training))
        ffn_output = self.ffn(out1)
        return self.layernorm2(out1 + self.dropout2(ffn_output, training=training))


rng = np.random.default_rng(0)
x_train, y_train = make_data(N, rng)
x_test, y_test = make_data(N // 4, rng)
keras.utils.set_random_seed(0)

inputs = keras.Input((MAXLEN,), dtype="int32")
x = TokenAndPositionEmbedding(MAXLEN, VOCAB, EMBED)(inputs)
x = TransformerBlock(EMBED, HEADS, FF)(x)
x = layers.GlobalAveragePooling1D()(x)
outputs = layers.Dense(2, activation="softmax")(x)
model = keras.Model(inputs, outputs, name="transformer_classifier")
model.summary()
model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=32, epochs=EPOCHS, validation_split=0.1, verbose=0 if QUICK else 2)

_, accuracy = model.evaluate(x_test, y_test, verbose=0)
majority = max(np.mean(y_test), 1 - np.mean(y_test))
print(f"Test accuracy: {accuracy:.3f} (majority class: {majority:.3f})")

# Padding is masked: changing the embedding of the padding id 0 leaves every prediction unchanged.
token_emb = model.layers[1].token_emb
before = model.predict(x_test, verbose=0)
table = token_emb.get_weights()[0]
table[0] += 5.0
token_emb.set_weights([table])
change = float(np.abs(model.predict(x_test, verbose=0) - before).max())
print(f"Largest change of a prediction after changing the padding embedding: {change:.2e}")
