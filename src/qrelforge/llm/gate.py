"""One teacher's request limits, shared by everyone who sends its requests: at most ``concurrency`` requests in flight,
at most ``requests_per_minute`` HTTP attempts (retries count), and after a 429 nobody sends until its Retry-After.

In one process the gate is kept per teacher fingerprint and limits, so successive batches share it. On Ray the
labeling driver starts one ``Gate`` as a named actor (``shared_gate``) and every worker's teacher finds it by name
(``gate_for``), so the limits hold across all actors together: a 429 seen by one actor holds back all of them.

>>> import asyncio
>>> gate = Gate(RequestLimits(concurrency=2, requests_per_minute=600))
>>> async def two_attempts() -> list[float]:
...     return [await gate.admit(), await gate.admit()]
>>> [round(delay, 1) for delay in asyncio.run(two_attempts())]  # 600 a minute: one each 0.1 s
[0.0, 0.1]
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

GATE_PREFIX = "qrelforge-gate:"
DEFAULT_PAUSE = 1.0  # seconds everyone waits after a 429 without a Retry-After
POLL = 0.01


@dataclass(frozen=True)
class RequestLimits:
    concurrency: int
    requests_per_minute: float | None = None
    lease_seconds: float = 3600.0  # a request slot not given back by then is taken back (its worker died)


class Gate:
    """The limits' state. Every method is a coroutine, so the same class serves in process and as a Ray actor."""

    def __init__(self, limits: RequestLimits) -> None:
        self.limits = limits
        self._leases: dict[int, float] = {}
        self._tokens = itertools.count()
        self._next = 0.0  # when the next attempt may start (the rate)
        self._paused = 0.0  # until when everyone waits (a 429)

    async def enter(self) -> int:
        """Wait for a request slot; returns its token for ``leave``."""
        while True:
            now = time.monotonic()
            self._leases = {t: at for t, at in self._leases.items() if now - at < self.limits.lease_seconds}
            if len(self._leases) < self.limits.concurrency:
                token = next(self._tokens)
                self._leases[token] = now
                return token
            await asyncio.sleep(POLL)

    async def leave(self, token: int) -> None:
        self._leases.pop(token, None)

    async def admit(self) -> float:
        """Reserve the next attempt's start; returns the seconds to wait for it (the rate, and any pause)."""
        now = time.monotonic()
        start = max(now, self._next, self._paused)
        if self.limits.requests_per_minute:
            self._next = start + 60.0 / self.limits.requests_per_minute
        return start - now

    async def pause(self, seconds: float) -> None:
        """After a 429: nobody's next attempt starts before ``seconds`` from now."""
        self._paused = max(self._paused, time.monotonic() + seconds)

    async def in_flight(self) -> int:
        return len(self._leases)


class RemoteGate:
    """A Gate running as a Ray actor, seen from a worker: the same coroutines, each one call to the actor."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def enter(self) -> int:
        return int(await self.handle.enter.remote())

    async def leave(self, token: int) -> None:
        await self.handle.leave.remote(token)

    async def admit(self) -> float:
        return float(await self.handle.admit.remote())

    async def pause(self, seconds: float) -> None:
        await self.handle.pause.remote(seconds)


_IN_PROCESS: dict[tuple[str, RequestLimits], Gate] = {}


def gate_for(fingerprint: str, limits: RequestLimits) -> Gate | RemoteGate:
    """The gate of the teacher ``fingerprint``: the Ray cluster's named one where this runs on Ray and the labeling
    driver started one, else this process's own."""
    if "ray" in sys.modules:  # never import Ray where nobody started it
        import ray

        if ray.is_initialized():
            with contextlib.suppress(ValueError):  # no gate of this teacher on the cluster
                return RemoteGate(ray.get_actor(GATE_PREFIX + fingerprint))
    return _IN_PROCESS.setdefault((fingerprint, limits), Gate(limits))


@contextlib.contextmanager
def shared_gate(fingerprint: str, limits: RequestLimits | None) -> Iterator[None]:
    """On a connected Ray cluster: one named Gate actor for the teacher ``fingerprint`` while the block runs (nothing
    for a judge without request limits)."""
    if limits is None:
        yield
        return
    import ray

    actor: Any = (
        ray.remote(Gate)
        .options(name=GATE_PREFIX + fingerprint, get_if_exists=True, num_cpus=0, max_concurrency=1000)
        .remote(limits)
    )
    ray.get(actor.in_flight.remote())  # started before any worker looks for it
    try:
        yield
    finally:
        ray.kill(actor)


def retry_after(headers: Any) -> float:
    """The seconds a 429 asks to wait (``retry-after-ms`` or ``retry-after``), else ``DEFAULT_PAUSE``."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        with contextlib.suppress(TypeError, ValueError):
            if value is not None and float(value) >= 0:
                return min(float(value) * scale, 60.0)
    return DEFAULT_PAUSE
