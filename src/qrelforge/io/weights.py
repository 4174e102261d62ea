"""Model weight files checked before they are read: a truncated or unreadable file is one error that names it.

A safetensors file starts with the length of its JSON header, and the header gives every tensor's byte range, so
the size a whole file has is known before any tensor is read; other weight files must at least be readable.

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.safetensors"
>>> header = b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}'
>>> _ = path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
>>> check_weight_files([path])
>>> _ = path.write_bytes(path.read_bytes()[:-3])
>>> check_weight_files([path])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
qrelforge.errors.InputFormatError: ...safetensors: expected a whole safetensors file of 77 bytes ...; got 74 bytes...
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputFormatError


def check_weight_files(paths: Iterable[Path]) -> None:
    """Raise an InputFormatError naming the first weight file that is unreadable or not whole."""
    for path in paths:
        try:
            size = path.stat().st_size
            with path.open("rb") as handle:
                if path.suffix == ".safetensors":
                    _check_safetensors(path, handle.read(8), handle, size)
                else:
                    handle.read(1)
        except OSError as exc:
            raise InputFormatError(path, None, "a readable weight file", exc.strerror or str(exc)) from None


def _check_safetensors(path: Path, head: bytes, handle: object, size: int) -> None:
    expected = "a whole safetensors file"
    length = int.from_bytes(head, "little") if len(head) == 8 else -1
    if length < 2 or 8 + length > size:
        raise InputFormatError(path, None, expected, f"{size} bytes without a whole header: a truncated copy?")
    try:
        header = json.loads(handle.read(length))  # type: ignore[attr-defined]
        end = max((entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"), default=0)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise InputFormatError(path, None, expected, "a header that is not safetensors' JSON") from None
    if size < 8 + length + end:  # (some writers leave a byte or two of padding after the data)
        raise InputFormatError(
            path,
            None,
            f"{expected} of {8 + length + end} bytes (its header says so)",
            f"{size} bytes: a truncated copy?",
        )
