"""A fault-injecting OpenAI-compatible chat server on 127.0.0.1, for the teacher's retry, timeout and parse paths.

Each request is answered by ``behaviour(body, number)``, which returns one of:
``("ok", [answer, ...])``, ``("status", code, headers)``, ``("slow", seconds, [answer, ...])`` or ``("drop",)``.
Every request body is kept in ``server.bodies``, so tests can count what reached the server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = Callable[[dict, int], tuple]


def completion(answers: list[str], body: dict) -> dict[str, Any]:
    """A chat completion with one choice per answer; a digit answer token carries log-probabilities."""
    choices = []
    for i, text in enumerate(answers):
        logprobs = None
        if body.get("logprobs"):
            digit = next((c for c in reversed(text) if c.isdigit()), None)
            tokens = (
                [{"token": text[:-1], "logprob": 0.0, "top_logprobs": []}]
                if digit is None
                else [
                    {
                        "token": digit,
                        "logprob": -0.2,
                        "top_logprobs": [
                            {"token": digit, "logprob": -0.2},
                            {"token": str((int(digit) + 1) % 4), "logprob": -2.0},
                            {"token": "the", "logprob": -3.0},
                        ],
                    }
                ]
            )
            logprobs = {"content": tokens}
        choices.append(
            {
                "index": i,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": logprobs,
            }
        )
    prompt_tokens = len(body["messages"][0]["content"]) // 4
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": body["model"],
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": 5 * len(answers),
            "total_tokens": prompt_tokens + 5 * len(answers),
        },
    }


class Watched:
    """A behaviour, watched: the most requests it had in flight at once, and each request's (arrival time, number)."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour, self.lock, self.in_flight, self.most = behaviour, threading.Lock(), 0, 0
        self.arrivals: list[tuple[float, int]] = []

    def __call__(self, body: dict, number: int) -> tuple:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.arrivals.append((time.monotonic(), number))
        try:
            return self.behaviour(body, number)
        finally:
            with self.lock:
                self.in_flight -= 1


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, behaviour: Behaviour) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.behaviour, self.bodies, self.lock = behaviour, [], threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class Handler(BaseHTTPRequestHandler):
    server: FaultServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.bodies.append(body)
            number = len(self.server.bodies)
        action = self.server.behaviour(body, number)
        if action[0] == "drop":
            self.connection.close()
            return
        if action[0] == "status":
            self._send(action[1], {"error": {"message": f"injected {action[1]}", "type": "fault"}}, action[2])
            return
        if action[0] == "slow":
            time.sleep(action[1])
            action = ("ok", action[2])
        self._send(200, completion(action[1], body), {})

    def _send(self, code: int, payload: dict, headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)


@contextmanager
def fault_server(behaviour: Behaviour) -> Iterator[FaultServer]:
    server = FaultServer(behaviour)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
