"""Keras datasets: `mnist` and `fashion_mnist`, each with `load_data()`.

Data is read from local IDX files (cache, Keras cache, `/usr/share/datasets`)
or downloaded with checksum verification; see `gpuflow.keras.datasets._idx`.
"""

from gpuflow.keras.datasets import fashion_mnist, mnist

__all__ = ["fashion_mnist", "mnist"]
