"""An API key never leaves the environment: not in what any command prints (help, dry runs, summaries, errors), nor
in any file a run writes (labels, stores, reports, manifests, models)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fault_server import fault_server
from test_pipeline import answer, write_config

KEY = "sk-qrelforge-canary-7f3a9b2c"
COMMANDS = ("train", "label", "judge", "run", "evaluate", "demo", "convert-gguf", "augment", "review", "rank-eval")


def run(*args: str) -> str:
    env = {**os.environ, "OPENAI_API_KEY": KEY, "QRELFORGE_TEST_KEY": KEY}
    out = subprocess.run([sys.executable, "-m", "qrelforge", *args], env=env, capture_output=True, text=True)
    return out.stdout + out.stderr


def test_no_key_in_anything_a_run_prints_or_writes(small_dataset: Path, tiny_base: Path, tmp_path: Path) -> None:
    printed = [run(command, "--help") for command in COMMANDS]
    with fault_server(answer) as server:
        teacher = tmp_path / "teacher.yaml"
        teacher.write_text(
            f"model: m\nbase_url: {server.base_url}\nlogprobs: false\n"
            "prices: {input_per_million: 1, output_per_million: 2}\n"
        )
        printed.append(
            run(
                "judge",
                "--dataset",
                str(small_dataset),
                "--teacher",
                str(teacher),
                "--out",
                str(tmp_path / "labels.txt"),
                "--dry-run",
            )
        )
        printed.append(
            run(
                "judge",
                "--dataset",
                str(small_dataset),
                "--teacher",
                str(teacher),
                "--out",
                str(tmp_path / "labels.txt"),
                "--report",
                str(tmp_path / "report"),
                "--quiet",
            )
        )
        config = write_config(tmp_path, small_dataset, tiny_base, server.base_url)
        printed.append(run("run", str(config), "--out", str(tmp_path / "pipeline"), "--dry-run"))
        printed.append(run("run", str(config), "--out", str(tmp_path / "pipeline"), "--quiet"))
    with fault_server(lambda body, n: ("status", 401, {})) as refusing:  # the error names the variable, not its value
        teacher.write_text(f"model: m\nbase_url: {refusing.base_url}\n")
        refused = run(
            "judge", "--dataset", str(small_dataset), "--teacher", str(teacher), "--out", str(tmp_path / "refused.txt")
        )
        assert "OPENAI_API_KEY" in refused
        printed.append(refused)
    assert (tmp_path / "pipeline" / "evaluate" / "report.md").is_file()  # the whole chain ran with the key set
    assert not [text for text in printed if KEY in text]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 20
    assert not [p for p in written if KEY.encode() in p.read_bytes()]
