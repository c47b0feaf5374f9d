"""A variational autoencoder (Kingma & Welling, 2014) with an overridden `train_step`, as in the Keras VAE example.

Run:  python examples/vae.py [--quick]
Only the import differs from TensorFlow: `import gpuflow as tf`.
The data are 8x8 images of one horizontal or vertical bar (32 patterns) with pixel noise, drawn here. The
encoder gives the mean and log-variance of a 2-D latent code, a Sampling layer draws the code with the
reparameterization trick, the decoder maps it back to pixels; the loss is the reconstruction cross-entropy
plus the KL divergence to N(0, I), computed in the subclass's `train_step` with a GradientTape.
`--quick` shrinks the data and epochs (the tests use it). Nothing is written to disk.
"""
import argparse

import numpy as np

import gpuflow as tf

keras = tf.keras
parser = argparse.ArgumentParser(description="A VAE with an overridden train_step on bar images.")
parser.add_argument("--quick", action="store_true", help="a small, fast run (what the tests use)")
QUICK = parser.parse_args().quick

N_IMAGES = 512 if QUICK else 4096
EPOCHS = 40 if QUICK else 100
SIDE, LATENT = 8, 2


def bars(n, rng):
    """n flattened 8x8 images, each one full horizontal or vertical bar, with 5% of pixels flipped."""
    images = np.zeros((n, SIDE, SIDE), "float32")
    for img, k, vertical in zip(images, rng.integers(0, SIDE, n), rng.random(n) < 0.5):
        if vertical:
            img[:, k] = 1.0
        else:
            img[k, :] = 1.0
    flip = rng.random(images.shape) < 0.05
    return np.where(flip, 1.0 - images, images).reshape(n, SIDE * SIDE).astype("float32")


class Sampling(keras.layers.Layer):
    """z = mean + exp(log_var / 2) * epsilon, epsilon ~ N(0, I): the reparameterization trick."""

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = tf.random.normal(tf.shape(z_mean))
        return z_mean + tf.exp(0.5 * z_log_var) * epsilon


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def call(self, x):
        return self.decoder(self.encoder(x)[2])

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(x)
            reconstruction = self.decoder(z)
            reconstruction_loss = tf.reduce_mean(
                tf.reduce_sum(keras.losses.binary_crossentropy(x[..., None], reconstruction[..., None]), axis=1))
            kl_loss = -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
            kl_loss = tf.reduce_mean(tf.reduce_sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


keras.utils.set_random_seed(0)
tf.random.set_seed(0)
data = bars(N_IMAGES, np.random.default_rng(0))

encoder_inputs = keras.Input((SIDE * SIDE,))
h = keras.layers.Dense(64, activation="relu")(encoder_inputs)
z_mean = keras.layers.Dense(LATENT, name="z_mean")(h)
z_log_var = keras.layers.Dense(LATENT, name="z_log_var")(h)
z = Sampling()([z_mean, z_log_var])
encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")

latent_inputs = keras.Input((LATENT,))
h = keras.layers.Dense(64, activation="relu")(latent_inputs)
decoder = keras.Model(latent_inputs, keras.layers.Dense(SIDE * SIDE, activation="sigmoid")(h), name="decoder")
encoder.summary()

vae = VAE(encoder, decoder)
vae.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3))
history = vae.fit(data, epochs=EPOCHS, batch_size=32, verbose=0 if QUICK else 2).history
print(f"First epoch: total loss {history['total_loss'][0]:.3f}, reconstruction "
      f"{history['reconstruction_loss'][0]:.3f}, KL {history['kl_loss'][0]:.3f}")
print(f"Last epoch: total loss {history['total_loss'][-1]:.3f}, reconstruction "
      f"{history['reconstruction_loss'][-1]:.3f}, KL {history['kl_loss'][-1]:.3f}")

# Decode a few points of the latent plane: each should look like a bar.
grid = np.array([[a, b] for a in (-1.5, 0.0, 1.5) for b in (-1.5, 1.5)], "float32")
samples = decoder.predict(grid, verbose=0).reshape(-1, SIDE, SIDE)
strength = [max(s.mean(axis=0).max(), s.mean(axis=1).max()) for s in samples]  # a clean bar gives 1
print("Generated images, mean of the brightest row or column:", " ".join(f"{v:.2f}" for v in strength))
print("First generated image:\n" + "\n".join("".join("#" if p > 0.5 else "." for p in row) for row in samples[0]))
