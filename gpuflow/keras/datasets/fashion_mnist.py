"""Fashion-MNIST dataset, as `keras.datasets.fashion_mnist`."""

import os

from gpuflow.keras.datasets import _idx

NAME = "fashion-mnist"
BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# SHA-256 of the upstream .gz files, from Keras (keras/src/datasets/fashion_mnist.py,
# FILE_HASHES). The same files' MD5s are published in the Fashion-MNIST README:
# 8d4fb7e6c68d591d4c3dfef9ec88bf0d, 25c81989df183df01b3e8a0aad5dffbe,
# bef4ecab320f06d8554ea6380940ec79, bb300cfdad3c16e7a12a480ee83cd310 (order below).
SHA256 = {
    "train-images-idx3-ubyte": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}


def load_data():
    """Loads the Fashion-MNIST dataset.

    60,000 training and 10,000 test 28x28 grayscale images of 10 clothing
    classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal,
    6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot. Same API and result as
    `keras.datasets.fashion_mnist.load_data()` (https://keras.io/api/datasets/).

    The four IDX files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or `.gz`) are
    looked for in `$GPUFLOW_HOME/datasets/fashion-mnist/` (default
    `~/.gpuflow/...`), then `$KERAS_HOME/datasets/fashion-mnist/` (default
    `~/.keras/...`), then `/usr/share/datasets/fashion-mnist/` (Debian package
    `dataset-fashion-mnist`), and otherwise downloaded from
    http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ into the first,
    each checked against its published SHA-256.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x_train` uint8 (60000, 28, 28)
        and `x_test` uint8 (10000, 28, 28), pixel values 0..255; `y_train`
        uint8 (60000,) and `y_test` uint8 (10000,), labels 0..9.

    Raises:
        FileNotFoundError: the files are nowhere on disk and the download
            failed; the message lists every place looked in and how to get
            the data.
        ValueError: a file is corrupt or truncated (the message names it), or
            a download did not match its checksum (nothing is kept).

    License: Fashion-MNIST is copyright Zalando SE, MIT license
    (https://github.com/zalandoresearch/fashion-mnist).
    """
    cache = _idx.cache_dir(NAME)
    places = [
        (cache, "gpuflow cache, $GPUFLOW_HOME/datasets/" + NAME),
        (_idx.keras_dir(NAME), "Keras cache, $KERAS_HOME/datasets/" + NAME),
        (_idx.system_dir(NAME), "system, Debian package dataset-fashion-mnist"),
    ]
    for directory, _ in places:
        paths = _idx.find_idx_set(directory)
        if paths:
            return _idx.load_idx_set(paths)

    for name in _idx.IDX_FILES:  # fetch what the cache lacks
        if _idx.find_file(cache, name) is None:
            url = BASE_URL + name + ".gz"
            try:
                _idx.download(url, os.path.join(cache, name + ".gz"), SHA256[name])
            except OSError as e:
                raise _idx.unavailable_error(
                    "Fashion-MNIST",
                    [(d, role, _idx.describe(d)) for d, role in places],
                    url,
                    e,
                    [
                        "install it system-wide (Debian/Ubuntu): "
                        "sudo apt-get install dataset-fashion-mnist",
                        f"or copy the four files (raw or .gz) from {BASE_URL} into {cache}/",
                        "or connect to the network and call load_data() again",
                    ],
                ) from e
    return _idx.load_idx_set(_idx.find_idx_set(cache))
