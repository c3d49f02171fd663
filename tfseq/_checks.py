"""Ground floor: argument checks, config (de)serialization and the user-input error that every
layer of tfseq shares. Imports nothing from tfseq.

Every check names its owner and the argument and echoes the value
(``ValueError: LSTMCell: num_units must be a positive integer, got 0``): reject, never clamp.
"""

import numbers
from typing import Any


class UsageError(Exception):
    """Bad user input to a command: reported as one line, exit code 2."""


def check_positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def check_optional_int(owner: str, name: str, value: Any) -> int | None:
    """None, or an int (not a bool): seeds and TF1's ``input_size``."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        raise ValueError(f"{owner}: {name} must be an int or None, got {value!r}")
    return value


def check_bool(owner: str, name: str, value: Any) -> bool:
    """True or False, exactly: 0/1 and None are rejected."""
    if not isinstance(value, bool):
        raise ValueError(f"{owner}: {name} must be True or False, got {value!r}")
    return value


def check_optional_bool(owner: str, name: str, value: Any) -> bool | None:
    """None, True or False (a choice with an automatic default), exactly: 0/1 are rejected."""
    if not (value is None or isinstance(value, bool)):
        raise ValueError(f"{owner}: {name} must be None, True or False, got {value!r}")
    return value


def check_optional_nonnegative(owner: str, name: str, value: Any) -> float | None:
    """None, or a float >= 0 (TF1 clips to ``[-value, value]`` whenever it is not None, so 0.0
    clips to zero)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{owner}: {name} must be a number >= 0 or None, got {value!r}")
    return float(value)


def serialize_optional(obj: Any) -> dict | None:
    """A Keras object's config for ``get_config``, or None (Keras is imported on use, so the
    command line can import this module before TensorFlow)."""
    import keras

    return None if obj is None else keras.saving.serialize_keras_object(obj)


def deserialize_optional(config: dict | None) -> Any:
    """The inverse of :func:`serialize_optional`."""
    import keras

    return None if config is None else keras.saving.deserialize_keras_object(config)
