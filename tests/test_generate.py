"""Seed sampling, query prompts, answer cleaning and the query filters (each drop counted)."""

from __future__ import annotations

from collections import Counter

import pytest

from qrelforge import ConfigError
from qrelforge.synthetic.generate import (
    GenerateConfig,
    GeneratedQuery,
    clean_query,
    filter_queries,
    language_of,
    query_prompt,
    sample_seeds,
)
from qrelforge.synthetic.index import BM25Index

DOCS = {
    "d0": "Jute is a long, soft, shiny vegetable fibre that can be spun into coarse, strong threads.",
    "d1": "The Eiffel Tower in Paris was completed in 1889 for the World's Fair.",
    "d2": "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "d3": "Stock markets fell sharply on Tuesday as interest rates rose.",
}


def q(i: int, text: str, seed: str) -> GeneratedQuery:
    return GeneratedQuery(f"g{i}", text, seed, "question", "test")


def test_seeds_uniform_or_an_equal_share_per_stratum():
    ids = [f"d{i}" for i in range(100)]
    assert sample_seeds(ids, 10, seed=3) == sample_seeds(ids, 10, seed=3)
    assert len(set(sample_seeds(ids, 10, seed=3))) == 10 and len(sample_seeds(ids, 500, seed=3)) == 100
    strata = {d: ("memo" if i < 90 else "report") for i, d in enumerate(ids)}
    chosen = sample_seeds(ids, 10, seed=3, strata=strata)
    assert Counter(strata[d] for d in chosen) == {"memo": 5, "report": 5}


def test_prompt_names_the_style_and_metadata_and_unknown_styles_are_errors():
    prompt = query_prompt(DOCS["d1"], "enterprise", {"title": "Tower history", "folder": "/travel"})
    assert "title: Tower history" in prompt and "folder: /travel" in prompt and "Eiffel" in prompt
    assert "employee" in prompt and "keywords" in query_prompt("x", "keywords")
    with pytest.raises(ConfigError, match="query style 'poem' is unknown"):
        query_prompt("x", "poem")


@pytest.mark.parametrize(
    "answer, query",
    [
        ("when was the eiffel tower built", "when was the eiffel tower built"),
        ('Query: "jute fibre uses"\nThis query asks...', "jute fibre uses"),
        ("\n\n  search query - photosynthesis glucose  \n", "photosynthesis glucose"),
        ("   \n", None),
        ('""', None),
    ],
)
def test_clean_query_takes_the_first_line_without_labels_or_quotes(answer, query):
    assert clean_query(answer) == query


def test_filters_drop_and_count_length_duplicates_and_inconsistent_queries():
    index = BM25Index.build(DOCS)
    queries = [
        q(0, "jute fibre threads", "d0"),
        q(1, "Jute fibre threads?", "d0"),  # the same words
        q(2, "jute fibre threads strong", "d0"),  # 3 of 4 words shared with g0 (0.75): kept at 0.8
        q(3, "jute fibre threads coarse strong", "d0"),  # 4 of 5 shared with g2 (0.8): near duplicate
        q(4, "eiffel", "d1"),  # one word
        q(5, "when was the eiffel tower completed", "d1"),
        q(6, "why do stock markets fall", "d2"),  # its seed doc is d2, BM25 finds d3
    ]
    queries.append(q(7, "wann wurde der eiffelturm gebaut", "d1"))  # German, over an English corpus
    queries.append(q(8, "bm25 okapi", "d1"))  # no clear language: kept by the language filter (then inconsistent)
    kept, dropped = filter_queries(queries, index, GenerateConfig(near_duplicate=0.8, consistency_k=1), language="en")
    assert [k.query_id for k in kept] == ["g0", "g2", "g5"]
    assert dropped == {"length": 1, "language": 1, "duplicate": 1, "near duplicate": 1, "consistency": 2}
    assert language_of(list(DOCS.values())) == "en"
    kept, dropped = filter_queries(queries, index, GenerateConfig(near_duplicate=0.8, consistency_k=None))
    assert "g6" in [k.query_id for k in kept] and dropped["consistency"] == 0


def test_queries_from_an_openai_compatible_server_keep_provenance_and_drop_failures():
    from fault_server import fault_server

    from qrelforge import TeacherConfig
    from qrelforge.llm.text import load_llm
    from qrelforge.synthetic.generate import generate_queries

    def behaviour(body, n):
        prompt = body["messages"][0]["content"]
        if "Stock markets" in prompt:
            return ("status", 400, {})
        return ("ok", ['Query: "eiffel tower year"'] if "Eiffel" in prompt else ["  \n"])

    with fault_server(behaviour) as server:
        llm = load_llm(TeacherConfig(model="writer", base_url=server.base_url, max_retries=0, temperature=0.7))
        queries, counts = generate_queries(llm, DOCS, ["d1", "d3", "d0"], ["keywords", "question"])
        assert len(server.bodies) == 6 and {b["temperature"] for b in server.bodies} == {0.7}
    assert [(g.text, g.seed_doc_id, g.style) for g in queries] == [
        ("eiffel tower year", "d1", "keywords"),
        ("eiffel tower year", "d1", "question"),
    ]
    assert all(g.generator == llm.fingerprint for g in queries) and len({g.query_id for g in queries}) == 2
    assert counts == {"failed requests": 2, "empty answers": 2}


def test_query_writing_keeps_the_servers_limits_and_waits_out_a_429():
    """The writer keeps its concurrency and its requests a minute, and a 429 holds back every request for its
    Retry-After (a gate like the teacher's)."""
    import time

    from fault_server import Watched, fault_server

    from qrelforge import TeacherConfig
    from qrelforge.llm.text import load_llm

    def behaviour(body, n):
        if n == 3:
            return ("status", 429, {"Retry-After": "1"})
        time.sleep(0.1)
        return ("ok", ["Query: q"])

    watched = Watched(behaviour)
    with fault_server(watched) as server:
        config = TeacherConfig(model="writer", base_url=server.base_url, max_retries=2, concurrency=2)
        answers = load_llm(config).complete([f"write a query {i}" for i in range(12)])
        assert [a.text for a in answers] == ["Query: q"] * 12 and watched.most == 2
        limited = next(t for t, n in watched.arrivals if n == 3)
        assert not [t for t, _ in watched.arrivals if limited + 0.1 < t < limited + 0.9]  # all waited out the 429
        watched.arrivals.clear()
        paced = TeacherConfig(model="writer", base_url=server.base_url, concurrency=4, requests_per_minute=600)
        assert all(a.text for a in load_llm(paced).complete([f"another {i}" for i in range(11)]))
        times = sorted(t for t, _ in watched.arrivals)
        assert times[-1] - times[0] >= 10 / 10 * 0.9  # 10 a second, whatever the concurrency


@pytest.mark.llm
def test_the_real_local_model_writes_queries_for_seed_docs():
    from qrelforge import TeacherConfig, load_dataset
    from qrelforge.llm.text import load_llm
    from qrelforge.synthetic.generate import generate_queries

    demo = load_dataset("dl20-demo")
    seeds = sorted(demo.docs)[:3]
    llm = load_llm(TeacherConfig(kind="llama-cpp", temperature=0.0, max_tokens=24))
    queries, counts = generate_queries(llm, demo.docs, seeds, ["question"])
    assert counts["failed requests"] == 0 and len(queries) + counts["empty answers"] == 3
    assert queries and all(q.seed_doc_id in seeds and 0 < len(q.text) <= 200 for q in queries)
    again, _ = generate_queries(
        load_llm(TeacherConfig(kind="llama-cpp", temperature=0.0, max_tokens=24)), demo.docs, seeds, ["question"]
    )
    assert [q.text for q in again] == [q.text for q in queries]  # greedy decoding: the same queries
