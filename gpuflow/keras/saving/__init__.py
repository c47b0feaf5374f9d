"""``keras.saving``: models and weights in Keras's file formats; no pickle, no code run from a file.

Each format is checked against files written by Keras 3.15.1 and tf_keras 2.21 (reference files in
``tests/fixtures``). One module per job:

* :mod:`.saving_api`: ``save_model``/``load_model``/``save_weights``/``load_weights``, which pick the format
  from the path (Keras's ``saving_api.py``).
* :mod:`.keras_zip`: the ``.keras`` archive (``metadata.json``, ``config.json``, ``model.weights.h5``) and its
  ``zipped=False`` folder (Keras's ``saving_lib.py``).
* :mod:`.weights_h5`: the ``.weights.h5`` layout, walked as Keras's ``_walk_saveable``; each layer's
  variables come from its ``save_own_variables`` and go back through its ``load_own_variables``; the
  optimizer's are those its ``saved_variables`` declares.
* :mod:`.legacy_h5`: Keras 2's ``.h5`` (Keras's ``legacy_h5_format.py``).
* :mod:`.serialization`: objects to and from Keras 3 config dicts (Keras's ``serialization_lib.py``).
* :mod:`.registry`: the classes a file may name (gpuflow's own, custom objects, registered ones).
* :mod:`.atomic`: crash-safe writes (temporary, flush, rename), shared by every format.

Safety: loading never imports a module named in a file and never runs code from it; ``Lambda`` layers and
serialized Python lambdas are refused; HDF5 links and external datasets are refused; each member and dataset is
checked against what it can legitimately need before it is read; weights load all or nothing.
"""
from .registry import (CustomObjectScope, custom_object_scope, get_custom_objects, get_registered_name,
                       get_registered_object, register_keras_serializable)
from .saving_api import load_model, load_weights, save_model, save_weights
from .serialization import (UnsafeDeserializationError, deserialize_keras_object, model_from_json, model_to_json,
                            serialize_keras_object)

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "model_to_json", "model_from_json",
           "serialize_keras_object", "deserialize_keras_object", "register_keras_serializable",
           "get_custom_objects", "get_registered_name", "get_registered_object", "UnsafeDeserializationError",
           "CustomObjectScope", "custom_object_scope"]
