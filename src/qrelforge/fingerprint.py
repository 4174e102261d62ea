"""Fingerprints: short, readable names that change whenever anything that fixes a judge's output changes.

>>> make_fingerprint("replay", "gpt4o", {"sha256": "abc"}).startswith("replay:gpt4o:")
True
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def settings_hash(parts: Mapping[str, Any]) -> str:
    """The one hash of settings: SHA-256 of their canonical JSON (keys sorted; other values by their text). Callers
    keep as many of its hex digits as their keys always had (fingerprints 12, pipeline stages 16)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def make_fingerprint(kind: str, name: str, parts: Mapping[str, Any]) -> str:
    """``kind:name:hash`` — readable, and different whenever any part differs."""
    return f"{kind}:{name}:{settings_hash(parts)[:12]}"


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes (read once per process while the file's size and time are unchanged)."""
    stat = Path(path).stat()
    return _digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=1024)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
