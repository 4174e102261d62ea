"""An append-only JSONL store of judgments, keyed by ``(judge fingerprint, query_id, doc_id)``.

Each batch is appended with one write and an fsync. A crash can only tear the last line; opening the store
drops that torn tail, so every stored judgment is whole and none is stored twice. The one exception is an
``api_error`` judgment (the server never answered): it does not count as done, and a later judgment of the same
pair replaces it, so a resumed run retries exactly the pairs that were never answered.

>>> import tempfile
>>> from qrelforge import Judgment, JudgmentStore, Pair
>>> store = JudgmentStore(tempfile.mkdtemp() + "/labels.judgments.jsonl")
>>> store.append([Judgment("q1", "d1", 2, "judge-a")])
1
>>> store.pending("judge-a", [Pair("q1", "d1"), Pair("q1", "d2")])
([Pair(query_id='q1', doc_id='d2')], 1)
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from ..errors import InputFormatError, StoreError
from .files import append_jsonl, numbered_lines, open_append_only
from ..records import STATUSES, Judgment, Pair, Usage

EXPECTED = 'a judgment object {"judge", "query_id", "doc_id", "grade", "status", "probs", "raw", "usage"}'
RETRIED = "api_error"


class JudgmentStore:
    """Judgments of any number of judges in one file; at most one judgment per judge and pair."""

    def __init__(self, path: str | Path) -> None:
        self.path = open_append_only(path)
        self._by_key: dict[tuple[str, Pair], Judgment] = {}
        for judgment in self._read():
            self._by_key[(judgment.judge, judgment.pair)] = judgment

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
        append_jsonl(self.path, (row_of(j) for j in batch))
        self._by_key.update(zip(keys, batch))
        return len(batch)

    def _read(self) -> Iterable[Judgment]:
        for number, line in numbered_lines(self.path, "judgments"):
            try:
                yield _from_row(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
                raise InputFormatError(self.path, number, EXPECTED, f"{type(exc).__name__}: {exc}") from None


def row_of(j: Judgment) -> dict[str, object]:
    """A judgment as the store's row (and a judgment Parquet's)."""
    usage = None if j.usage is None else asdict(j.usage)
    row = {"judge": j.judge, "query_id": j.query_id, "doc_id": j.doc_id, "grade": j.grade,
           "status": j.status, "probs": j.probs, "raw": j.raw, "usage": usage}
    return row | ({"truncated": True} if j.truncated else {}) | ({"flagged": True} if j.flagged else {})


def _from_row(row: dict) -> Judgment:
    if row["status"] not in STATUSES:
        raise ValueError(f"status {row['status']!r} is not one of {STATUSES}")
    probs, usage = row.get("probs"), row.get("usage")
    return Judgment(query_id=str(row["query_id"]), doc_id=str(row["doc_id"]), grade=row["grade"],
                    judge=str(row["judge"]), status=row["status"],
                    probs=tuple(probs) if probs is not None else None, raw=row.get("raw"),
                    usage=Usage(**usage) if usage is not None else None, truncated=bool(row.get("truncated")),
                    flagged=bool(row.get("flagged")))
