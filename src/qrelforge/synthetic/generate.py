"""Queries written from seed documents: seed sampling, one prompt per query style, cleaning of the answer, and the
filters (length, exact and near duplicates, InPars-style consistency with BM25), each counting what it drops.

>>> from qrelforge.llm.text import Completion
>>> from qrelforge.records import Usage
>>> class Echo:  # any TextLLM: a fingerprint, and one completion per prompt
...     fingerprint = "echo"
...     def complete(self, prompts):
...         return [Completion("Query: when did the mat tower open", Usage(1)) for _ in prompts]
>>> queries, counts = generate_queries(Echo(), {"d1": "The mat tower opened in 1889."}, ["d1"], ["question"])
>>> queries[0].text, queries[0].seed_doc_id, counts
('when did the mat tower open', 'd1', {'failed requests': 0, 'empty answers': 0})
"""

from __future__ import annotations

import functools
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..llm.config import TeacherConfig
from ..llm.text import TextLLM
from .index import BM25Index

STYLES = {
    "keywords": "Write a short web search query, two to five keywords, that this passage answers.",
    "question": "Write a natural question that someone would type into a search engine and that this passage answers.",
    "enterprise": "Write the query an employee would type into the company search to find this document. Use its "
    "title, author, file name or folder if they help.",
}


@dataclass(frozen=True)
class GenerateConfig:
    """The generation stage: who writes queries from which seeds, and the filters the queries must pass."""

    llm: TeacherConfig = field(default_factory=lambda: TeacherConfig(kind="llama-cpp"))
    seeds: int = 20
    stratify: str | None = None  # a docs.jsonl field (e.g. folder): seeds are shared equally among its values
    styles: tuple[str, ...] = ("question",)
    per_doc: int = 1
    seed: int = 0
    min_words: int = 2
    max_words: int = 20
    near_duplicate: float = 0.8  # word-set Jaccard with a kept query of the same seed
    consistency_k: int | None = 20  # the seed must be in the query's BM25 top k (None: no check)
    language: str | None = "auto"  # ISO 639-1 code; auto: the seed documents' language; null: no language filter
    language_confidence: float = 0.9  # drop a query only when another language is this certain

    def __post_init__(self) -> None:
        object.__setattr__(self, "styles", tuple(self.styles))
        if unknown := sorted(set(self.styles) - set(STYLES)):
            raise ConfigError(f"query styles {unknown} are unknown; known: {sorted(STYLES)}")


@dataclass(frozen=True)
class GeneratedQuery:
    query_id: str
    text: str
    seed_doc_id: str  # the document it was written from: a candidate positive, still graded by the teacher
    style: str
    generator: str  # fingerprint of the model and prompt that wrote it


def sample_seeds(doc_ids: Sequence[str], count: int, seed: int, strata: Mapping[str, str] | None = None) -> list[str]:
    """``count`` seed docs: uniform, or with ``strata`` (doc id -> a metadata value) an equal share per value."""
    rng = random.Random(seed)
    if not strata:
        return rng.sample(list(doc_ids), min(count, len(doc_ids)))
    groups: dict[str, list[str]] = {}
    for doc in doc_ids:
        groups.setdefault(strata.get(doc, ""), []).append(doc)
    for members in groups.values():
        rng.shuffle(members)
    chosen: list[str] = []
    turn = 0
    while len(chosen) < min(count, len(doc_ids)):  # round robin over the strata, in a fixed order
        for value in sorted(groups):
            if turn < len(groups[value]) and len(chosen) < count:
                chosen.append(groups[value][turn])
        turn += 1
    return chosen


def query_prompt(doc: str, style: str, metadata: Mapping[str, str] | None = None, max_chars: int = 2000) -> str:
    """The instruction that asks an LLM for one query of ``style`` about ``doc``."""
    if style not in STYLES:
        raise ConfigError(f"query style {style!r} is unknown; known: {sorted(STYLES)}")
    fields = "".join(f"{key}: {value}\n" for key, value in (metadata or {}).items())
    return (
        f"{fields}Document:\n{doc[:max_chars]}\n\n{STYLES[style]} "
        "Answer with the query only, on one line, without quotes."
    )


def generate_queries(
    llm: TextLLM,
    docs: Mapping[str, str],
    seeds: Sequence[str],
    styles: Sequence[str],
    per_doc: int = 1,
    metadata: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[list[GeneratedQuery], dict[str, int]]:
    """``per_doc`` queries of each style from each seed doc; returns them and counts of failed requests and of
    answers that held no query (both are dropped, never guessed)."""
    jobs = [(doc, style, k) for doc in seeds for style in styles for k in range(per_doc)]
    prompts = [query_prompt(docs[doc], style, (metadata or {}).get(doc)) for doc, style, _ in jobs]
    queries, failed, empty = [], 0, 0
    for (doc, style, k), answer in zip(jobs, llm.complete(prompts)):
        text = clean_query(answer.text) if answer.text is not None else None
        failed += answer.text is None
        empty += answer.text is not None and text is None
        if text:
            queries.append(GeneratedQuery(f"gen-{doc}-{style}-{k}", text, doc, style, llm.fingerprint))
    return queries, {"failed requests": failed, "empty answers": empty}


def clean_query(answer: str) -> str | None:
    """The query in an LLM's answer: its first non-empty line without a "Query:" label or quotes; None if empty."""
    line = next((ln.strip() for ln in answer.splitlines() if ln.strip()), "")
    line = re.sub(r"^(?:search\s+)?query\s*[:\-]\s*", "", line, flags=re.IGNORECASE).strip().strip("\"'`“”").strip()
    return line or None


def language_of(texts: Sequence[str]) -> str:
    """The most frequent language (ISO 639-1, by py3langid) among ``texts``: the language of a corpus sample."""
    return Counter(_identifier().classify(text)[0] for text in texts).most_common(1)[0][0]


def filter_queries(
    queries: Sequence[GeneratedQuery],
    index: BM25Index,
    config: GenerateConfig = GenerateConfig(),
    language: str | None = None,
) -> tuple[list[GeneratedQuery], dict[str, int]]:
    """Keep the queries that pass every filter of ``config``, in order; returns them and how many each dropped.

    length: word count outside [min_words, max_words]. language: identified as another language than
    ``language`` (None: no check) with probability >= ``language_confidence`` (short queries are often ambiguous:
    those stay). duplicate: the same words as a kept query (case and punctuation aside). near duplicate: word-set
    Jaccard >= ``near_duplicate`` with a kept query of the same seed. consistency: the seed document is not in the
    query's BM25 top ``consistency_k`` (None: no check).
    """
    min_words, max_words, near_duplicate = config.min_words, config.max_words, config.near_duplicate
    consistency_k, language_confidence = config.consistency_k, config.language_confidence
    dropped: Counter[str] = Counter()
    kept: list[GeneratedQuery] = []
    seen: set[str] = set()
    words_by_seed: dict[str, list[set[str]]] = {}
    for query in queries:
        words = re.findall(r"\w+", query.text.lower())
        found, probability = _identifier().classify(query.text) if language else (language, 1.0)
        if not min_words <= len(words) <= max_words:
            dropped["length"] += 1
        elif found != language and probability >= language_confidence:
            dropped["language"] += 1
        elif " ".join(words) in seen:
            dropped["duplicate"] += 1
        elif any(_jaccard(set(words), other) >= near_duplicate for other in words_by_seed.get(query.seed_doc_id, [])):
            dropped["near duplicate"] += 1
        else:
            kept.append(query)
            seen.add(" ".join(words))
            words_by_seed.setdefault(query.seed_doc_id, []).append(set(words))
    if consistency_k:
        hits = index.search([q.text for q in kept], consistency_k)
        consistent = [q for q, found in zip(kept, hits) if q.seed_doc_id in {d for d, _ in found}]
        dropped["consistency"] = len(kept) - len(consistent)
        kept = consistent
    return kept, {name: dropped[name] for name in ("length", "language", "duplicate", "near duplicate", "consistency")}


@functools.cache
def _identifier() -> Any:
    from py3langid import langid

    return langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0
