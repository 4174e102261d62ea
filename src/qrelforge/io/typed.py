"""Settings read from YAML, checked against the dataclass they fill: unknown keys and values of the wrong type are
errors that name the key, what was expected and what was found (before any constructor sees them).

>>> from dataclasses import dataclass
>>> @dataclass
... class Decoding:
...     temperature: float = 0.0
...     samples: int = 1
>>> checked(Decoding, {"temperature": 1}, "teacher settings")
{'temperature': 1.0}
>>> checked(Decoding, {"temperature": "hot"}, "teacher settings")
Traceback (most recent call last):
...
qrelforge.errors.ConfigError: teacher settings: temperature must be a number; got 'hot'
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

NAMES = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}


def checked(kind: type, data: Any, what: str, nested: Mapping[str, type] | None = None) -> dict[str, Any]:
    """``data`` as keyword arguments for the dataclass ``kind``: keys known, values of the fields' types (ints are
    numbers too; a list is a tuple). Fields named in ``nested`` hold dataclasses and are left to the caller."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what}: expected a mapping of settings; got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(kind)}
    if unknown := sorted(set(data) - set(fields)):
        raise ConfigError(f"unknown {what} {unknown}; known: {sorted(fields)}")
    hints = typing.get_type_hints(kind)
    out = {}
    for key, value in data.items():
        out[key] = value if key in (nested or {}) else _value(hints[key], value, f"{what}: {key}")
    return out


def _value(hint: Any, value: Any, where: str) -> Any:
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    if value is None:
        if type(None) in options:
            return None
        raise ConfigError(f"{where} must be set; got null")
    for option in (o for o in options if o is not type(None)):
        origin = typing.get_origin(option) or option
        if origin is tuple and isinstance(value, (list, tuple)):
            item = typing.get_args(option)[0] if typing.get_args(option) else Any
            return tuple(_value(item, v, where) if item is not Any else v for v in value)
        if origin is bool and isinstance(value, bool):
            return value
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if origin is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if origin is str and isinstance(value, str):
            return value
        if origin is Any:
            return value
    expected = " or ".join(NAMES.get(typing.get_origin(o) or o, "a list") for o in options if o is not type(None))
    raise ConfigError(f"{where} must be {expected}; got {value!r}")


def _is_union(hint: Any) -> bool:
    return isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
