"""Command-line flags derived from a settings dataclass, so that a flag and its field cannot disagree.

Each field becomes ``--field-name`` (or the ``flag`` of its metadata, with ``--field-name`` kept as an alias), with
the field's default, type and ``help``; booleans are switches, tuples comma-separated lists, ``choices`` and a
``group`` come from the metadata, and ``file: True`` reads the value from the file the flag names.

>>> import argparse
>>> from qrelforge.rank.config import RankerConfig
>>> parser = argparse.ArgumentParser()
>>> add_config_flags(parser, RankerConfig)
>>> config = config_from_args(RankerConfig, parser.parse_args(["--ranker", "lightgbm", "--lr", "1e-4"]))
>>> config.kind, config.learning_rate, config.steps
('lightgbm', 0.0001, 300)
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Collection
from pathlib import Path
from typing import Any


def add_config_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, kind: type, skip: Collection[str] = ()
) -> None:
    """Add one flag per field of the dataclass ``kind`` (but those in ``skip``) to ``parser``."""
    hints = typing.get_type_hints(kind)
    groups: dict[str, Any] = {}
    for f in dataclasses.fields(kind):
        if f.name in skip:
            continue
        meta, derived = f.metadata, "--" + f.name.replace("_", "-")
        names = [meta["flag"], derived] if meta.get("flag") else [derived]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        options: dict[str, Any] = {"dest": f.name, "default": default}
        value_type = _value_type(hints[f.name])
        if value_type is bool:
            options["action"] = argparse.BooleanOptionalAction if default else "store_true"
        elif meta.get("file"):
            options.update(action=_ReadFile, metavar="FILE")
        elif value_type is tuple:
            options.update(type=_comma_list, metavar="A,B,...")
        else:
            options["type"] = value_type
        if "choices" in meta:
            options["choices"] = meta["choices"]
        shown = ",".join(default) if isinstance(default, tuple) else default
        default_text = "" if default in (None, "", False) or meta.get("file") else f" (default: {shown})"
        options["help"] = meta.get("help", "") + default_text if meta.get("help") or default_text else None
        target = parser
        if meta.get("group"):
            target = groups.setdefault(meta["group"], parser.add_argument_group(meta["group"]))
        target.add_argument(*names, **options)


def config_from_args(kind: type, args: argparse.Namespace) -> Any:
    """The ``kind`` dataclass from the parsed flags of its fields (fields without a flag keep their defaults)."""
    return kind(**{f.name: getattr(args, f.name) for f in dataclasses.fields(kind) if hasattr(args, f.name)})


def _value_type(hint: Any) -> type:
    """``int`` for ``int | None``, ``tuple`` for ``tuple[str, ...]``; the field's type without None."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return typing.get_origin(hint) or hint


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


class _ReadFile(argparse.Action):
    """The flag names a file; the field's value is the file's text (a default is never read as a path)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: Any, option: str | None = None
    ) -> None:
        try:
            setattr(namespace, self.dest, Path(value).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            parser.error(f"{option}: cannot read {value}: {exc}")
