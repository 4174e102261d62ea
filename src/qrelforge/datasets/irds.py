"""Datasets by ir_datasets id (``irds:msmarco-passage/trec-dl-2019/judged``), read lazily through the optional
``ir_datasets`` package: queries and qrels when first used, and each doc fetched by id from the docs store, so a large
corpus costs only the docs a job reads.

>>> docs = LazyDocs({"d1": "a cat"}.get, ["d1"])
>>> docs["d1"], "d2" in docs, len(docs)
('a cat', False, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import ConfigError
from ..records import Pair
from .base import Dataset

PREFIX = "irds:"


class LazyDocs(Mapping[str, str]):
    """Doc texts by id, fetched on first use; iteration and length cover the judged docs only."""

    def __init__(self, fetch: Callable[[str], str | None], judged: Sequence[str]) -> None:
        self.fetch, self.judged = fetch, list(dict.fromkeys(judged))
        self.cache: dict[str, str] = {}

    def __getitem__(self, doc_id: str) -> str:
        if doc_id not in self.cache:
            text = self.fetch(doc_id)
            if text is None:
                raise KeyError(doc_id)
            self.cache[doc_id] = text
        return self.cache[doc_id]

    def __contains__(self, doc_id: object) -> bool:
        try:
            self[doc_id]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.judged)

    def __len__(self) -> int:
        return len(self.judged)


def load_irds(spec: str) -> Dataset:
    """The ir_datasets dataset ``irds:<id>`` as a Dataset (queries, judged docs by id, qrels, its grade scale)."""
    try:
        import ir_datasets
    except ImportError:
        raise ConfigError(
            f"{spec}: ir_datasets ids need the ir_datasets package: pip install 'qrelforge[irds]'"
        ) from None
    name = spec[len(PREFIX) :]
    try:
        found = ir_datasets.load(name)
    except KeyError:
        raise ConfigError(f"{spec}: ir_datasets knows no dataset {name!r} (see ir_datasets.registry)") from None
    for part in ("queries", "docs", "qrels"):
        if not getattr(found, f"has_{part}")():
            raise ConfigError(f"{spec}: the dataset has no {part}; qrelforge needs queries, docs and qrels")
    queries = {q.query_id: _text(q) for q in found.queries_iter()}
    qrels = {Pair(r.query_id, r.doc_id): int(r.relevance) for r in found.qrels_iter()}
    store = found.docs_store()

    def fetch(doc_id: str) -> str | None:
        try:
            return _text(store.get(doc_id))
        except KeyError:
            return None

    defs = found.qrels_defs() if hasattr(found, "qrels_defs") else {}
    grades = tuple(sorted(int(g) for g in defs)) if defs and all(0 <= int(g) <= 9 for g in defs) else None
    return Dataset(
        name.replace("/", "_"),
        queries=queries,
        docs=LazyDocs(fetch, [p.doc_id for p in qrels]),
        qrels=qrels,
        grades=grades,
    )


def _text(record: Any) -> str:
    """A query's or a doc's text: its ``text`` field, or ir_datasets' default text of the record."""
    return getattr(record, "text", None) or record.default_text()
