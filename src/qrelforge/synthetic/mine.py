"""Candidate pairs for each query: BM25 hard negatives sampled across rank bands, optional random negatives,
and the query's seed document as a candidate positive (graded by the teacher like the rest, never assumed).

>>> from qrelforge import BM25Index, MineConfig
>>> index = BM25Index.build({f"d{i}": f"cat number {i}" for i in range(6)})
>>> found = mine_candidates({"q1": "cat"}, {"q1": "d0"}, index, MineConfig(bands=((1, 3, 2),), random=0))
>>> [c.source for c in found]
['seed', 'bm25 1-3', 'bm25 1-3']
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import ConfigError
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


@dataclass(frozen=True)
class MineConfig:
    """The mining stage: ``(first, last, count)`` rank bands, ``random`` negatives per query, and the sampling seed."""

    bands: tuple[tuple[int, int, int], ...] = ((1, 10, 3), (11, 50, 3), (51, 200, 3))
    random: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "bands", tuple(tuple(band) for band in self.bands))
        self.rank_bands()  # checks every band now
        if self.random < 0:
            raise ConfigError(f"random negatives must be >= 0; got {self.random}")

    def rank_bands(self) -> list[Band]:
        return [Band(*band) for band in self.bands]


def mine_candidates(
    queries: Mapping[str, str], seeds: Mapping[str, str], index: BM25Index, config: MineConfig = MineConfig()
) -> list[Candidate]:
    """For each query (id -> text), its seed doc and docs sampled from each band and at random, without repeats."""
    bands, random_negatives = config.rank_bands(), config.random
    depth = max((b.last for b in bands), default=0)
    ranked = index.search([queries[q] for q in queries], depth) if depth else [[] for _ in queries]
    rng, out = random.Random(config.seed), []
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
