"""``get`` / ``serialize`` / ``deserialize`` for a family of Keras objects resolved by identifier, as Keras 3's
``keras.regularizers`` and ``keras.constraints`` define them (one implementation for both)."""
from __future__ import annotations


def identifier_api(kind, module, by_name):
    """The ``(get, serialize, deserialize)`` functions of one family.

    Args:
        kind: the word in error messages ("regularizer", "constraint").
        module: the Keras module written in serialized configs ("keras.regularizers").
        by_name: {name: class}, the class names and the snake-case names Keras accepts as strings.
    """
    def serialize(obj):
        """Keras 3's serialized form: ``{"module", "class_name", "config", "registered_name"}`` (None for None)."""
        if obj is None:
            return None
        return {"module": module, "class_name": type(obj).__name__, "config": obj.get_config(),
                "registered_name": None}

    def deserialize(config, custom_objects=None):
        """An object from :func:`serialize`'s dict (or a bare ``{"class_name", "config"}``)."""
        name = config.get("class_name")
        cls = (custom_objects or {}).get(name) or by_name.get(name)
        if cls is None:
            raise ValueError(f"Could not interpret {kind} identifier: {config}")
        return cls.from_config(config.get("config") or {})

    def get(identifier):
        """None, an object or callable (returned as is), a class (instantiated), a name or a config dict.

        Raises:
            ValueError: ``Could not interpret <kind> identifier: ...`` for anything else (Keras's message).
        """
        if identifier is None:
            return None
        obj = deserialize(identifier) if isinstance(identifier, dict) else \
            by_name.get(identifier) if isinstance(identifier, str) else identifier
        if callable(obj):
            return obj() if isinstance(obj, type) else obj
        raise ValueError(f"Could not interpret {kind} identifier: {identifier}")

    return get, serialize, deserialize
