"""Embeddings of a frozen encoder, computed once per distinct text and kept on disk (SQLite).

A key is the hash of the text's token ids (prompt and truncation included) within a namespace that names the
encoder's weights and the numeric format, so a changed base, prompt, length or format never reuses a stale vector.
SQLite commits each batch atomically: a killed run keeps what it had committed, never half a vector.

>>> import tempfile, numpy as np
>>> cache = EmbeddingCache(tempfile.mkdtemp() + "/embeddings.sqlite", "minilm:fp32")
>>> cache.put({(1, 2, 3): np.ones(4, dtype=np.float32)})
>>> cache.get([(1, 2, 3), (4, 5)])
{(1, 2, 3): array([1., 1., 1., 1.], dtype=float32)}
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..io.files import user_cache_dir

CACHE_ENV = "QRELFORGE_EMBEDDING_CACHE"  # overrides the default file


def default_cache_path() -> Path:
    """``$QRELFORGE_EMBEDDING_CACHE``, else ``~/.cache/qrelforge/embeddings.sqlite`` (``$XDG_CACHE_HOME`` honoured)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return user_cache_dir() / "embeddings.sqlite"


class EmbeddingCache:
    """Vectors by token ids, for one encoder (``namespace``: its weights' digest and numeric format)."""

    def __init__(self, path: str | Path, namespace: str) -> None:
        self.path, self.namespace = Path(path), namespace
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (namespace TEXT, key BLOB, vector BLOB, "
                "PRIMARY KEY (namespace, key))"
            )

    def get(self, ids: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], np.ndarray]:
        """The cached vectors of these token id sequences (missing ones are absent)."""
        keys = {_key(i): i for i in ids}
        found: dict[tuple[int, ...], np.ndarray] = {}
        with self._connect() as db:
            wanted = list(keys)
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                rows = db.execute(
                    f"SELECT key, vector FROM vectors WHERE namespace = ? AND key IN ({','.join('?' * len(part))})",
                    [self.namespace, *part],
                )
                for key, vector in rows:
                    found[keys[key]] = np.frombuffer(vector, dtype=np.float32).copy()
        return found

    def put(self, vectors: Mapping[tuple[int, ...], np.ndarray]) -> None:
        """Store these vectors in one transaction."""
        rows = [(self.namespace, _key(i), np.asarray(v, dtype=np.float32).tobytes()) for i, v in vectors.items()]
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection whose block is one transaction (committed at the end, rolled back on an error)."""
        db = sqlite3.connect(self.path, timeout=60)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            with db:
                yield db
        finally:
            db.close()


def _key(ids: Sequence[int]) -> bytes:
    return hashlib.sha1(np.asarray(ids, dtype=np.int64).tobytes()).digest()
