"""Candidate pairs for each query: BM25 hard negatives sampled across rank bands, optional random negatives,
and the query's seed document as a candidate positive (graded by the teacher like the rest, never assumed)."""
from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import ConfigError
from .index import BM25Index


@dataclass(frozen=True)
class Band:
    """Sample ``count`` docs among BM25 ranks ``first`` to ``last`` (1-based, inclusive)."""

    first: int
    last: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.first <= self.last or self.count < 0:
            raise ConfigError(f"a rank band needs 1 <= first <= last and count >= 0; got {self}")


@dataclass(frozen=True)
class Candidate:
    query_id: str
    doc_id: str
    source: str  # "seed", "bm25 1-10" (the band), or "random"
    rank: int | None  # BM25 rank, when BM25 found the doc


DEFAULT_BANDS = (Band(1, 10, 4), Band(11, 50, 4), Band(51, 200, 4))


def mine_candidates(queries: Mapping[str, str], seeds: Mapping[str, str], index: BM25Index,
                    bands: Sequence[Band] = DEFAULT_BANDS, random_negatives: int = 0,
                    seed: int = 0) -> list[Candidate]:
    """For each query (id -> text), its seed doc and docs sampled from each band and at random, without repeats."""
    depth = max((b.last for b in bands), default=0)
    ranked = index.search([queries[q] for q in queries], depth) if depth else [[] for _ in queries]
    rng, out = random.Random(seed), []
    for query_id, hits in zip(queries, ranked):
        seed_doc = seeds.get(query_id)
        chosen = [Candidate(query_id, seed_doc, "seed", _rank(hits, seed_doc))] if seed_doc else []
        taken = {seed_doc}
        for band in bands:
            pool = [(r, d) for r, (d, _) in enumerate(hits, start=1) if band.first <= r <= band.last and d not in taken]
            for rank, doc in sorted(rng.sample(pool, min(band.count, len(pool)))):
                chosen.append(Candidate(query_id, doc, f"bm25 {band.first}-{band.last}", rank))
                taken.add(doc)
        draw = rng.sample(index.doc_ids, min(len(index.doc_ids), random_negatives + len(taken)))
        for doc in [d for d in draw if d not in taken][:random_negatives]:
            chosen.append(Candidate(query_id, doc, "random", _rank(hits, doc)))
        out += chosen
    return out


def _rank(hits: Sequence[tuple[str, float]], doc_id: str | None) -> int | None:
    return next((r for r, (d, _) in enumerate(hits, start=1) if d == doc_id), None)
