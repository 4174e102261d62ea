"""An append-only JSONL store of judgments, keyed by ``(judge fingerprint, query_id, doc_id)``.

Each batch is appended with one write and an fsync. A crash can only tear the last line; opening the store
drops that torn tail, so every stored judgment is whole and none is stored twice. The one exception is an
``api_error`` judgment (the server never answered): it does not count as done, and a later judgment of the same
pair replaces it, so a resumed run retries exactly the pairs that were never answered.

One process writes a store at a time: an open store holds an exclusive lock (``flock`` on ``STORE.lock``, which
names the holder), so a second writer stops at once with a message naming the first; the kernel releases the lock
of a killed process, so none is left stuck. ``read_judgments`` reads a store without writing or locking it. The
store's file is created by its first append: a run that judged nothing leaves none behind.

>>> import tempfile
>>> from qrelforge import Judgment, JudgmentStore, Pair
>>> with JudgmentStore(tempfile.mkdtemp() + "/labels.judgments.jsonl") as store:
...     store.append([Judgment("q1", "d1", 2, "judge-a")])
...     store.pending("judge-a", [Pair("q1", "d1"), Pair("q1", "d2")])
1
([Pair(query_id='q1', doc_id='d2')], 1)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import InputFormatError, StoreError
from ..records import STATUSES, Judgment, Pair, Usage
from .files import append_jsonl, drop_torn_tail, numbered_lines
from .lock import WriterLock

EXPECTED = 'a judgment object {"judge", "query_id", "doc_id", "grade", "status", "probs", "raw", "usage"}'
RETRIED = "api_error"


class JudgmentStore:
    """Judgments of any number of judges in one file; at most one judgment per judge and pair."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = WriterLock(self.path.with_name(self.path.name + ".lock"), f"the judgment store {self.path}")
        try:
            if self.path.is_file():
                drop_torn_tail(self.path)
            self._by_key = {(j.judge, j.pair): j for j in _read(self.path)}
        except BaseException:
            self._lock.release()
            raise

    def close(self) -> None:
        """Release the store for other writers (a closed store is not written again)."""
        self._lock.release()

    def __enter__(self) -> JudgmentStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def done(self, judge: str) -> set[Pair]:
        """Pairs this judge has answered: a stored judgment of any status but ``api_error``."""
        return {pair for (fp, pair), j in self._by_key.items() if fp == judge and j.status != RETRIED}

    def pending(self, judge: str, pairs: Iterable[Pair]) -> tuple[list[Pair], int]:
        """The distinct ``pairs`` this judge has not answered yet, in order, and how many it has."""
        done, unique = self.done(judge), list(dict.fromkeys(pairs))
        todo = [p for p in unique if p not in done]
        return todo, len(unique) - len(todo)

    def judges(self) -> list[str]:
        """The fingerprints of the judges with judgments here."""
        return sorted({fp for fp, _ in self._by_key})

    def judgments(self, judge: str, pairs: Iterable[Pair] | None = None) -> list[Judgment]:
        """This judge's stored judgments (of ``pairs`` only, when given), sorted by pair."""
        wanted = None if pairs is None else set(pairs)
        mine = (j for (fp, pair), j in self._by_key.items() if fp == judge and (wanted is None or pair in wanted))
        return sorted(mine, key=lambda j: j.pair)

    def append(self, judgments: Iterable[Judgment]) -> int:
        """Append a batch durably; a judgment whose judge and pair are already answered is an error."""
        batch = list(judgments)
        keys = [(j.judge, j.pair) for j in batch]
        repeated = [k for k in keys if k in self._by_key and self._by_key[k].status != RETRIED]
        if repeated or len(set(keys)) != len(keys):
            raise StoreError(f"{self.path}: judgments already stored for {repeated[:3] or 'pairs repeated in batch'}")
        self._lock.check()
        if batch:
            append_jsonl(self.path, (row_of(j) for j in batch))
        self._by_key.update(zip(keys, batch))
        return len(batch)


def read_judgments(path: str | Path) -> list[Judgment]:
    """Every judgment of a store file, read without writing it or taking its lock (a line a writer is still
    appending is not read; an ``api_error`` answered again later gives way to its answer)."""
    return list({(j.judge, j.pair): j for j in _read(Path(path), complete=True)}.values())


def _read(path: Path, complete: bool = False) -> Iterable[Judgment]:
    if not path.exists() and not complete:
        return
    for number, line in numbered_lines(path, "judgments", complete=complete):
        try:
            yield judgment_of(json.loads(line))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputFormatError(path, number, EXPECTED, f"{type(exc).__name__}: {exc}") from None


def row_of(j: Judgment) -> dict[str, Any]:
    """A judgment as the store's row (and a judgment Parquet's)."""
    usage = None if j.usage is None else asdict(j.usage)
    row = {
        "judge": j.judge,
        "query_id": j.query_id,
        "doc_id": j.doc_id,
        "grade": j.grade,
        "status": j.status,
        "probs": j.probs,
        "raw": j.raw,
        "usage": usage,
    }
    return row | ({"truncated": True} if j.truncated else {}) | ({"flagged": True} if j.flagged else {})


def judgment_of(row: dict) -> Judgment:
    """A judgment from the store's row (or a shard's)."""
    if row["status"] not in STATUSES:
        raise ValueError(f"status {row['status']!r} is not one of {STATUSES}")
    probs, usage = row.get("probs"), row.get("usage")
    return Judgment(
        query_id=str(row["query_id"]),
        doc_id=str(row["doc_id"]),
        grade=row["grade"],
        judge=str(row["judge"]),
        status=row["status"],
        probs=tuple(probs) if probs is not None else None,
        raw=row.get("raw"),
        usage=Usage(**usage) if usage is not None else None,
        truncated=bool(row.get("truncated")),
        flagged=bool(row.get("flagged")),
    )
