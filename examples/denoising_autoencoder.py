"""A denoising convolutional autoencoder: noisy images in, clean images out.

Run:  python examples/denoising_autoencoder.py [--quick]
Only the import differs from TensorFlow: `import gpuflow as tf`.
The images are drawn here (random filled rectangles and discs on 16x16, values in [0, 1]), so the script needs
no download; Gaussian noise is added to the inputs and the model learns to give back the clean image.
`--quick` shrinks the data and epochs (the tests use it). Nothing is written to disk.
"""
import argparse

import numpy as np

import gpuflow as tf

keras = tf.keras
parser = argparse.ArgumentParser(description="A denoising convolutional autoencoder on drawn shapes.")
parser.add_argument("--quick", action="store_true", help="a small, fast run (what the tests use)")
QUICK = parser.parse_args().quick

N_IMAGES = 200 if QUICK else 4000
EPOCHS = 20 if QUICK else 40
SIZE, NOISE = 16, 0.3
WIDTH = 8 if QUICK else 16


def shapes(n, rng):
    """n images with one filled rectangle or disc each, intensity 0.5-1."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    images = np.zeros((n, SIZE, SIZE, 1), "float32")
    for img in images:
        cy, cx, r = rng.integers(4, SIZE - 4), rng.integers(4, SIZE - 4), rng.integers(2, 5)
        mask = (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= rng.integers(2, 5)) if rng.random() < 0.5 \
            else (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        img[mask, 0] = rng.uniform(0.5, 1.0)
    return images


rng = np.random.default_rng(0)
clean = shapes(N_IMAGES, rng)
noisy = np.clip(clean + NOISE * rng.standard_normal(clean.shape), 0, 1).astype("float32")
split = int(0.8 * N_IMAGES)

keras.utils.set_random_seed(1)
autoencoder = keras.Sequential([
    keras.Input((SIZE, SIZE, 1)),
    keras.layers.Conv2D(WIDTH, 3, activation="relu", padding="same"),
    keras.layers.MaxPooling2D(2, padding="same"),                     # 8x8xWIDTH
    keras.layers.Conv2D(8, 3, activation="relu", padding="same"),
    keras.layers.MaxPooling2D(2, padding="same"),                     # 4x4x8: the code
    keras.layers.Conv2DTranspose(8, 3, strides=2, activation="relu", padding="same"),
    keras.layers.Conv2DTranspose(WIDTH, 3, strides=2, activation="relu", padding="same"),
    keras.layers.Conv2D(1, 3, activation="sigmoid", padding="same"),
], name="denoising_autoencoder")
autoencoder.summary()
autoencoder.compile(optimizer=keras.optimizers.Adam(5e-3), loss="binary_crossentropy")
autoencoder.fit(noisy[:split], clean[:split], epochs=EPOCHS, batch_size=16, shuffle=True,
                validation_data=(noisy[split:], clean[split:]), verbose=0 if QUICK else 2)

denoised = autoencoder.predict(noisy[split:], verbose=0)
noisy_mse = float(np.mean((noisy[split:] - clean[split:]) ** 2))
denoised_mse = float(np.mean((denoised - clean[split:]) ** 2))
print(f"Test MSE of the noisy inputs: {noisy_mse:.5f}")
print(f"Test MSE of the denoised outputs: {denoised_mse:.5f}")
