"""``keras.models.clone_model``: a model of the same architecture with new layers (and so new, freshly initialised
weights), as Keras 3.15's ``keras/src/models/cloning.py``."""
from __future__ import annotations

from .layers.base import KerasTensor
from .layers.core import Input, InputLayer
from .models import Functional, Sequential, _fill_node_kwargs, _node_kwargs

__all__ = ["clone_model"]


def _clone_function(clone_function, call_function, recursive, cache):
    """``clone_function`` (default: ``layer.__class__.from_config(layer.get_config())``) memoised per layer, so a
    shared layer stays shared in the copy, and applied to nested Sequential/Functional models when ``recursive``."""
    if clone_function is None:
        def clone_function(layer):
            return layer.__class__.from_config(layer.get_config())

    def wrapped(layer):
        if id(layer) not in cache:
            if recursive and isinstance(layer, (Sequential, Functional)):
                cache[id(layer)] = clone_model(layer, clone_function=clone_function, recursive=True, cache=cache,
                                               **({} if isinstance(layer, Sequential) else
                                                  {"call_function": call_function}))
            else:
                cache[id(layer)] = clone_function(layer)
        return cache[id(layer)]
    return wrapped


def _single_input(input_tensors):
    if isinstance(input_tensors, (list, tuple)):
        if len(input_tensors) != 1:
            raise ValueError("Argument `input_tensors` must contain a single tensor.")
        input_tensors = input_tensors[0]
    if not isinstance(input_tensors, KerasTensor):
        raise ValueError(f"Argument `input_tensors` must be a KerasTensor. Received invalid value: "
                         f"input_tensors={input_tensors}")
    return input_tensors


def _copy_compile(model, clone):
    if getattr(model, "compiled", False):
        from .saving.serialization import Ctx, _compile_config, compile_from_config
        config = _compile_config(model)
        if config is not None:
            compile_from_config(clone, config, Ctx())
    return clone


def _clone_sequential(model, clone_function, input_tensors):
    new_layers = [clone_function(layer) for layer in model.layers]
    ref = model._input_layer
    if input_tensors is not None:
        new_layers = [_single_input(input_tensors)] + new_layers
    elif ref is not None:
        new_layers = [Input(batch_shape=ref.batch_shape, dtype=ref.dtype, name=ref.name)] + new_layers
    elif model._declared_input_shape() is not None:  # a first layer's input_shape= (Keras makes it an InputLayer)
        new_layers = [Input(batch_shape=model._declared_input_shape())] + new_layers
    return _copy_compile(model, Sequential(new_layers, name=model.name, trainable=model.trainable))


def _clone_functional(model, clone_function, input_tensors, call_function):
    if input_tensors is not None:
        given = list(input_tensors) if isinstance(input_tensors, (list, tuple)) else [input_tensors]
        if len(given) != len(model.inputs):
            raise ValueError(f"Argument `input_tensors` must have the same number of tensors as the model's "
                             f"inputs ({len(model.inputs)}). Received: {len(given)}")
        for t in given:
            _single_input(t)
        new_inputs = given
    else:
        new_inputs = []
        for t in model.inputs:
            layer = t._history[0]
            new_inputs.append(Input(batch_shape=layer.batch_shape, dtype=layer.dtype, name=layer.name)
                              if isinstance(layer, InputLayer) else Input(batch_shape=t.shape, dtype=t.dtype))
    memo = {id(old): new for old, new in zip(model.inputs, new_inputs)}
    calls = {}
    for layer, ins, out in model._nodes:  # topological order
        kwargs = _node_kwargs(out)
        key = (id(layer), id(ins), id(kwargs))
        if key not in calls:
            args = [memo[id(i)] for i in ins] if isinstance(ins, (list, tuple)) else memo[id(ins)]
            new_layer = clone_function(layer)
            filled = _fill_node_kwargs(kwargs, memo)
            calls[key] = (call_function(new_layer, args, **filled) if call_function is not None
                          else new_layer(args, **filled))
        result = calls[key]
        index = out._history[2] if len(out._history) > 2 else None
        memo[id(out)] = result[index] if index is not None and isinstance(result, (list, tuple)) else result
    struct = model._in_struct
    inputs = new_inputs if isinstance(struct, (list, tuple)) else new_inputs[0]
    outs = [memo[id(o)] for o in model.outputs]
    outputs = outs if isinstance(model._out_struct, (list, tuple)) else outs[0]
    return _copy_compile(model, Functional(inputs, outputs, name=model.name, trainable=model.trainable))


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """A copy of ``model``'s architecture with new layers: the weights are newly initialised, not copied
    (``keras.models.clone_model``). A compiled model's copy is compiled with the same settings (new optimizer).

    Args:
        model: a Sequential, a functional ``Model(inputs, outputs)``, or a subclassed model (then rebuilt from its
            ``get_config()``).
        input_tensors: KerasTensors (``keras.Input``) to build the copy on, instead of new inputs of the same shape.
        clone_function: ``fn(layer) -> layer`` making each layer of the copy; default
            ``layer.__class__.from_config(layer.get_config())``. Called once per layer, so shared layers stay shared.
        call_function: functional models only: ``fn(layer, *args, **kwargs)`` making each node of the copy; default
            ``layer(*args, **kwargs)``.
        recursive: also clone the layers inside nested Sequential/functional models with ``clone_function``.

    Raises:
        ValueError: an unknown keyword argument; ``call_function`` with a Sequential; ``clone_function``,
            ``input_tensors`` or ``call_function`` with a subclassed model; ``input_tensors`` that are not
            KerasTensors or not one per input (Keras's messages).
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"Unexpected keyword argument(s): {tuple(kwargs.keys())}")
    cache = {} if cache is None else cache
    if isinstance(model, Sequential):
        if call_function is not None:
            raise ValueError("`call_function` argument is not supported with Sequential models.  In a Sequential "
                             "model, layers aren't called at model-construction time (they're merely listed). Use "
                             "`call_function` with Functional models only. Received model of type "
                             f"'{model.__class__.__name__}', with call_function={call_function}")
        return _clone_sequential(model, _clone_function(clone_function, None, recursive, cache), input_tensors)
    if isinstance(model, Functional):
        return _clone_functional(model, _clone_function(clone_function, call_function, recursive, cache),
                                 input_tensors, call_function)
    if clone_function or input_tensors:
        raise ValueError("Arguments `clone_function` and `input_tensors` are only supported for Sequential models or "
                         f"Functional models. Received model of type '{model.__class__.__name__}', with "
                         f"clone_function={clone_function} and input_tensors={input_tensors}")
    if call_function is not None:
        raise ValueError("Argument `call_function` is only supported for Functional models. Received model of type "
                         f"'{model.__class__.__name__}', with call_function={call_function}")
    from .saving import deserialize_keras_object, serialize_keras_object
    return deserialize_keras_object(serialize_keras_object(model),
                                    custom_objects={model.__class__.__name__: model.__class__})
