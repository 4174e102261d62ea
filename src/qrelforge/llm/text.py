"""Free-text LLM calls for the stages that write text (query generation), on the teachers' backends: any
OpenAI-compatible server, or a GGUF model in process. The connection settings are a TeacherConfig's.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..fingerprint import make_fingerprint
from ..records import Usage
from .clients import async_client, check_not_refused, load_llama, run_requests
from .config import TeacherConfig
from .gate import Gate, RemoteGate, RequestLimits, gate_for


@dataclass(frozen=True)
class Completion:
    text: str | None  # None when the request failed
    usage: Usage


class TextLLM(Protocol):
    fingerprint: str  # model and sampling settings

    def complete(self, prompts: Sequence[str]) -> list[Completion]:
        """One completion per prompt, in order."""
        ...


class OpenAIChat:
    """Completions from an OpenAI-compatible chat server within the config's limits (``concurrency``,
    ``requests_per_minute``, a 429's pause for every request), kept by a gate of its own like a teacher's
    (``llm/gate.py``); failures are kept, not raised."""

    def __init__(self, config: TeacherConfig) -> None:
        self.config = config
        self.fingerprint = make_fingerprint(
            "openai", str(config.model), {"temperature": config.temperature, "max_tokens": config.max_tokens}
        )

    def complete(self, prompts: Sequence[str]) -> list[Completion]:
        return run_requests(self._all(prompts))

    async def _all(self, prompts: Sequence[str]) -> list[Completion]:
        gate = gate_for(self.fingerprint, RequestLimits(self.config.concurrency, self.config.requests_per_minute))
        async with async_client(self.config, gate) as client:
            return list(await asyncio.gather(*(self._one(client, gate, p) for p in prompts)))

    async def _one(self, client: Any, gate: Gate | RemoteGate, prompt: str) -> Completion:
        import openai

        token = await gate.enter()
        try:
            response = await client.chat.completions.create(
                model=self.config.model,
                messages=[{"role": "user", "content": prompt}],
                temperature=self.config.temperature,
                max_tokens=self.config.max_tokens,
            )
        except openai.OpenAIError as exc:
            check_not_refused(exc, self.config)
            return Completion(None, Usage(requests=1))
        finally:
            await gate.leave(token)
        counted = response.usage
        usage = Usage(1, counted.prompt_tokens, counted.completion_tokens) if counted else Usage(requests=1)
        return Completion(response.choices[0].message.content or "", usage)


class LlamaChat:
    """Completions from a GGUF chat model in process, one prompt at a time (seeded sampling)."""

    def __init__(self, config: TeacherConfig, seed: int = 0) -> None:
        self.config = config
        self.llm, digest = load_llama(config, seed)
        self.fingerprint = make_fingerprint(
            "llama-cpp",
            os.path.basename(self.llm.model_path),
            {"model": digest, "temperature": config.temperature, "max_tokens": config.max_tokens, "seed": seed},
        )

    def complete(self, prompts: Sequence[str]) -> list[Completion]:
        return [self._one(p) for p in prompts]

    def _one(self, prompt: str) -> Completion:
        try:
            answer = self.llm.create_chat_completion(
                [{"role": "user", "content": prompt}],
                temperature=self.config.temperature,
                max_tokens=self.config.max_tokens,
            )
        except ValueError:  # the prompt does not fit in the context window
            return Completion(None, Usage(requests=1))
        counted = answer["usage"]
        return Completion(
            answer["choices"][0]["message"]["content"] or "",
            Usage(1, counted["prompt_tokens"], counted["completion_tokens"]),
        )


def load_llm(config: TeacherConfig) -> TextLLM:
    """The free-text LLM of ``config`` by its kind (``openai`` or ``llama-cpp``)."""
    return LlamaChat(config) if config.kind == "llama-cpp" else OpenAIChat(config)
