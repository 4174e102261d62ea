"""A teacher LLM behind any OpenAI-compatible chat API (OpenAI, Azure, vLLM, Ollama, llama.cpp server).

Requests run concurrently (at most ``concurrency`` at a time, at most ``requests_per_minute``: ``llm/gate.py``, one gate
for all Ray actors) through the official ``openai`` client, which retries 429, 5xx, timeouts and dropped connections
with exponential backoff and jitter and honours Retry-After; after a 429 every request of the gate waits.
A pair whose request still fails becomes an ``api_error`` judgment (retried by the next run); an answer in no
accepted format becomes a ``parse_error`` judgment with its text — never a guessed grade.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

from ..fingerprint import make_fingerprint
from ..llm.clients import async_client, check_not_refused, run_requests, server_url
from ..llm.config import TeacherConfig
from ..llm.fence import instruction_like
from ..llm.gate import Gate, RemoteGate, RequestLimits, gate_for
from ..llm.parse import grade_probs, parse_grade
from ..llm.prompt import Prompt
from ..records import Judgment, Pair, Usage
from .base import Batch, Traits

CHARS_PER_TOKEN = 3  # a cautious estimate (English text runs about 4 characters per token)
CHAT_OVERHEAD_TOKENS = 16  # the chat template's role markers around the prompt


class OpenAITeacher:
    """Grades pairs by asking a chat model. No per-call state: each call runs its own event loop and client."""

    def __init__(self, config: TeacherConfig, prompt: Prompt) -> None:
        self.config, self.prompt = config, prompt
        self.scale = config.scale.grades
        self.traits = Traits(
            batch_pairs=4 * config.concurrency,
            probabilities=config.logprobs or config.samples > 1,
            prices=config.prices,
            limits=RequestLimits(
                config.concurrency, config.requests_per_minute, config.timeout * (config.max_retries + 1) + 60
            ),
        )
        decoding = {
            k: getattr(config, k)
            for k in ("temperature", "max_tokens", "samples", "vote", "logprobs", "top_logprobs", "response_format")
        }
        self.fingerprint = make_fingerprint(
            "openai", str(config.model), {"prompt": asdict(prompt), "decoding": decoding}
        )

    def judge(self, batch: Batch) -> list[Judgment]:
        judgments = run_requests(self._judge_all(batch))
        return [
            replace(
                j,
                truncated=self.prompt.cuts(passage),
                flagged=self.config.flag_instructions and instruction_like(passage),
            )
            for j, passage in zip(judgments, batch.docs())
        ]

    def worst_case(self, batch: Batch) -> Usage:
        """An upper estimate of the tokens judging the batch will bill (the server's count is used once known)."""
        return prompt_usage(self.prompt, batch, self.config.max_tokens * self.config.samples)

    async def _judge_all(self, batch: Batch) -> list[Judgment]:
        assert self.traits.limits is not None
        gate = gate_for(self.fingerprint, self.traits.limits)
        async with async_client(self.config, gate) as client:
            return list(await asyncio.gather(*(self._judge_one(client, gate, pair, batch) for pair in batch.pairs)))

    async def _judge_one(self, client: Any, gate: Gate | RemoteGate, pair: Pair, batch: Batch) -> Judgment:
        import openai

        c = self.config
        options: dict[str, Any] = {"logprobs": True, "top_logprobs": c.top_logprobs} if c.logprobs else {}
        if c.samples > 1:
            options["n"] = c.samples
        schema = {
            "type": "object",
            "properties": {"score": {"type": "integer", "enum": list(c.scale.grades)}},
            "required": ["score"],
            "additionalProperties": False,
        }
        if c.response_format == "json_schema":
            options["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "grade", "strict": True, "schema": schema},
            }
        elif c.response_format == "json_object":
            options["response_format"] = {"type": "json_object", "schema": schema}
        token = await gate.enter()
        try:
            response = await client.chat.completions.create(
                model=c.model,
                messages=[{"role": "user", "content": self.prompt.render(batch.query(pair), batch.doc(pair))}],
                temperature=c.temperature,
                max_tokens=c.max_tokens,
                **options,
            )
        except openai.OpenAIError as exc:
            check_not_refused(exc, c)
            where = server_url(c) or "https://api.openai.com/v1"
            return Judgment(
                pair.query_id,
                pair.doc_id,
                None,
                self.fingerprint,
                status="api_error",
                raw=f"{type(exc).__name__} from base_url {where}: {exc}",
                usage=Usage(requests=1),
            )
        finally:
            await gate.leave(token)
        counted = response.usage
        usage = Usage(1, counted.prompt_tokens, counted.completion_tokens) if counted else Usage(requests=1)
        return self._read(pair, response.choices, usage)

    def _read(self, pair: Pair, choices: Sequence[Any], usage: Usage) -> Judgment:
        """Parse every sampled answer; vote over the ones in an accepted format."""
        texts = [choice.message.content or "" for choice in choices]
        answers = [
            (g, grade_probs(choice.logprobs and choice.logprobs.content, g, self.config.scale))
            for choice, text in zip(choices, texts)
            if (g := parse_grade(text, self.config.scale)) is not None
        ]
        raw = texts[0] if len(texts) == 1 else "\n---\n".join(texts)
        if not answers:
            return Judgment(
                pair.query_id, pair.doc_id, None, self.fingerprint, status="parse_error", raw=raw, usage=usage
            )
        grades = [g for g, _ in answers]
        probs = [p for _, p in answers]
        if all(p is not None for p in probs):
            mean: tuple[float, ...] | None = tuple(round(sum(col) / len(probs), 6) for col in zip(*probs))
        else:
            counts = Counter(grades)
            mean = tuple(counts[g] / len(grades) for g in self.config.scale.grades) if len(texts) > 1 else None
        return Judgment(
            pair.query_id,
            pair.doc_id,
            vote(grades, self.config.vote),
            self.fingerprint,
            probs=mean,
            raw=raw,
            usage=usage,
        )


def prompt_usage(prompt: Prompt, batch: Batch, completion_tokens: int) -> Usage:
    """One request per pair: its prompt's tokens, estimated cautiously, and at most ``completion_tokens`` more."""
    chars = sum(len(prompt.render(batch.query(p), batch.doc(p))) for p in batch.pairs)
    n = len(batch.pairs)
    return Usage(n, -(-chars // CHARS_PER_TOKEN) + CHAT_OVERHEAD_TOKENS * n, completion_tokens * n)


def vote(grades: Sequence[int], rule: str) -> int:
    """``majority``: the most frequent grade (ties go to the lower); ``mean``: the mean, rounded half up."""
    if rule == "mean":
        return int(sum(grades) / len(grades) + 0.5)
    counts = Counter(grades)
    return min(counts, key=lambda g: (-counts[g], g))
