"""BM25 index (bm25s) and candidate mining: ranks, bands, the seed doc, save/load."""

from __future__ import annotations

import pytest

from qrelforge import ConfigError, InputFormatError
from qrelforge.synthetic.index import BM25Index
from qrelforge.synthetic.mine import Band, MineConfig, mine_candidates

DOCS = {
    f"d{i}": text
    for i, text in enumerate(
        [
            "The cat sat on the mat and purred.",
            "Cats are small domesticated carnivorous mammals.",
            "A dog barked at the mailman all morning.",
            "Stock markets fell sharply on Tuesday.",
            "The mat was woven from jute fibres.",
            "Purring cats and sleeping dogs share the sofa.",
            "Interest rates and stock prices move together.",
            "Jute is a long, soft, shiny vegetable fibre.",
        ]
    )
}


@pytest.fixture(scope="module")
def index() -> BM25Index:
    return BM25Index.build(DOCS)


def test_search_ranks_matching_docs_first_with_stemming(index):
    [hits] = index.search(["purring cat"], k=3)
    assert [d for d, _ in hits][:2] == ["d0", "d5"] or [d for d, _ in hits][:2] == ["d5", "d0"]
    assert all(s1 >= s2 for (_, s1), (_, s2) in zip(hits, hits[1:]))
    assert "d1" in [d for d, _ in hits]  # "cats" -> "cat" by the stemmer
    assert index.search(["zzz qqq", "the and of"], k=3) == [[], []]  # no indexed term: nothing, not an error


def test_saved_index_loads_and_answers_the_same(index, tmp_path):
    index.save(tmp_path / "ix")
    loaded = BM25Index.load(tmp_path / "ix")
    queries = ["jute mat", "stock rates", "dog"]
    assert loaded.search(queries, 4) == index.search(queries, 4)
    with pytest.raises(InputFormatError, match="BM25 index folder"):
        BM25Index.load(tmp_path)


def test_candidates_come_from_their_bands_without_the_seed_or_repeats(index):
    queries = {"q1": "cat on a mat", "q2": "stock market prices"}
    seeds = {"q1": "d0", "q2": "d3"}
    config = MineConfig(bands=((1, 2, 1), (3, 8, 2)), random=2, seed=1)
    candidates = mine_candidates(queries, seeds, index, config)
    ranked = {q: [d for d, _ in hits] for q, hits in zip(queries, index.search(list(queries.values()), 8))}
    for q in queries:
        mine = [c for c in candidates if c.query_id == q]
        assert [c.doc_id for c in mine if c.source == "seed"] == [seeds[q]]
        negatives = [c for c in mine if c.source != "seed"]
        assert seeds[q] not in {c.doc_id for c in negatives}
        assert len({c.doc_id for c in mine}) == len(mine)
        for c in negatives:
            if c.source.startswith("bm25"):
                first, last = map(int, c.source.split()[1].split("-"))
                assert first <= c.rank <= last and ranked[q][c.rank - 1] == c.doc_id
        assert sum(c.source == "random" for c in mine) == 2
    assert mine_candidates(queries, seeds, index, config) == candidates  # seeded: reproducible
    with pytest.raises(ConfigError, match="rank band"):
        Band(5, 2, 1)
    with pytest.raises(ConfigError, match="rank band"):
        MineConfig(bands=((5, 2, 1),))
