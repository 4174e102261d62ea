"""Labeling is resumable: interrupted at any moment (even kill -9), every pair ends up judged exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from qrelforge import Judgment, JudgmentStore, LookupJudge, Pair, label
from qrelforge.errors import Interrupted
from qrelforge.judges.base import NO_TEXTS, Batch
from qrelforge.records import Usage

PAIRS = [Pair(f"q{i // 10}", f"d{i}") for i in range(95)]


class StopsAfter:
    """A judge that is interrupted (like Ctrl-C) during its third batch."""

    def __init__(self, inner: LookupJudge, batches: int) -> None:
        self.inner, self.left = inner, batches
        self.fingerprint, self.scale, self.traits = inner.fingerprint, inner.scale, inner.traits

    def judge(self, batch: Batch) -> list[Judgment]:
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return self.inner.judge(batch)

    def worst_case(self, batch: Batch) -> Usage:
        return Usage()


def stored_keys(path: Path) -> Counter:
    return Counter(
        (row["judge"], row["query_id"], row["doc_id"]) for row in map(json.loads, path.read_text().splitlines())
    )


def test_interrupted_then_resumed_judges_each_pair_once(tmp_path: Path) -> None:
    judge = LookupJudge({p: i % 4 for i, p in enumerate(PAIRS[:90])}, "replay:t:1")
    with JudgmentStore(tmp_path / "j.jsonl") as store, pytest.raises(Interrupted, match="40 pairs judged"):
        label(StopsAfter(judge, 2), PAIRS, NO_TEXTS, store, batch_size=20, progress=False)
    assert len(stored_keys(store.path)) == 40
    with JudgmentStore(store.path) as again:
        run = label(judge, PAIRS + PAIRS[:3], NO_TEXTS, again, batch_size=20, progress=False)
    assert (run.judged, run.reused) == (55, 40)
    assert run.statuses == {"ok": 50, "no_label": 5}
    keys = stored_keys(store.path)
    assert len(keys) == 95 and set(keys.values()) == {1}
    assert label(judge, PAIRS, NO_TEXTS, JudgmentStore(store.path), progress=False).judged == 0  # nothing is redone


SLOW_LABELER = textwrap.dedent("""
    import sys, time
    from qrelforge import JudgmentStore, LookupJudge, Pair, label
    from qrelforge.judges.base import NO_TEXTS

    class Slow(LookupJudge):
        def judge(self, batch):
            time.sleep(0.05)
            return super().judge(batch)

    pairs = [Pair(f"q{i // 10}", f"d{i}") for i in range(400)]
    label(Slow({p: i % 4 for i, p in enumerate(pairs)}, "replay:slow:1"), pairs, NO_TEXTS, JudgmentStore(sys.argv[1]),
          batch_size=7, progress=False)
""")


def test_killed_with_sigkill_then_resumed(tmp_path: Path) -> None:
    script, store = tmp_path / "slow.py", tmp_path / "j.jsonl"
    script.write_text(SLOW_LABELER)
    for _ in range(3):  # kill it three times at arbitrary moments, then let it finish
        proc = subprocess.Popen([sys.executable, str(script), str(store)])
        deadline = time.monotonic() + 60
        before = store.stat().st_size if store.exists() else 0
        while (not store.exists() or store.stat().st_size <= before + 200) and time.monotonic() < deadline:
            assert proc.poll() is None, "the labeler ended before it could be killed"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    subprocess.run([sys.executable, str(script), str(store)], check=True, timeout=120)
    keys = stored_keys(store)
    assert len(keys) == 400 and set(keys.values()) == {1}
