"""The CLI contract: instant --help, clear errors with exit code 2, and train -> label -> evaluate that resumes."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qrelforge import read_qrels
from qrelforge.cli import main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qrelforge", *args], capture_output=True, text=True)


def test_help_loads_no_heavy_library() -> None:
    code = (
        "import sys; from qrelforge.cli import parser; parser().format_help(); import qrelforge; "
        "heavy = {'torch', 'transformers', 'sklearn', 'matplotlib', 'numpy'} & set(sys.modules); print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "set()"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    from qrelforge.cli import parser

    action = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_subcommand_has_help(command: str) -> None:
    out = run(command, "--help")
    assert out.returncode == 0 and "usage: qrelforge " + command in out.stdout
    assert "Traceback" not in out.stderr


CONFIGS = {
    "train": ("TrainConfig",),
    "label": ("EngineSettings", "RayOptions"),
    "judge": ("EngineSettings", "RayOptions"),
    "rank-eval": ("RankerConfig",),
}


@pytest.mark.parametrize("command", sorted(CONFIGS))
def test_settings_flags_are_their_dataclass_fields(command: str) -> None:
    """Every settings field has a flag of its name (or its metadata's), with the field's default; nothing else does."""
    import dataclasses

    import qrelforge

    sub = subcommands()[command]
    dests = {a.dest: a for a in sub._actions}
    for kind in (getattr(qrelforge, name) for name in CONFIGS[command]):
        for f in dataclasses.fields(kind):
            action = dests[f.name]
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default
            assert action.default == default, f.name
            assert "--" + f.name.replace("_", "-") in action.option_strings, f.name
            if f.metadata.get("flag"):
                assert f.metadata["flag"] in action.option_strings
        defaults = vars(sub.parse_args([a for a in _required(sub)]))
        assert kind(**{f.name: defaults[f.name] for f in dataclasses.fields(kind)}) == kind()


def _required(sub: argparse.ArgumentParser) -> list[str]:
    """Values for the required options and positionals, so the parser yields its defaults for the rest."""
    values = []
    for a in sub._actions:
        if a.required and a.option_strings:
            values += [a.option_strings[0], "x"]
        elif not a.option_strings and a.dest != "help":
            values.append("x")
    return values


def test_bad_input_exits_2_with_file_and_line(tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("q1 0 d1 2\nq1 0 d2\n")
    out = run("evaluate", str(labels), "--qrels", str(labels))
    assert out.returncode == 2 and f"{labels}:2: expected 4 whitespace-separated fields" in out.stderr
    assert "Traceback" not in out.stderr
    out = run("evaluate", str(tmp_path / "none.txt"), "--qrels", str(labels))
    assert out.returncode == 2 and "none.txt: expected an existing file" in out.stderr


def test_a_flag_that_would_change_nothing_is_an_error(
    small_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--adapt-budget`` (or an adaptation setting) without ``--adapt``, ``--route-by`` (or ``--budget`` beside
    ``--adapt``) without ``--route``: one clear line and exit code 2, before anything is labeled; the default value
    said again is no mistake."""
    base = ["label", "--judge", "human", "--dataset", str(small_dataset), "--out", str(tmp_path / "l.txt")]
    for extra, said in (
        (["--adapt-budget", "10%"], "--adapt-budget: how --adapt adapts the student, and there is no --adapt"),
        (["--adapt-method", "ordinal", "--adapt-seed", "3"], "--adapt-method, --adapt-seed: how --adapt adapts"),
        (["--route-by", "entropy"], "--route-by: which pairs --route sends to a teacher, and there is no --route"),
        (["--adapt", "human", "--adapt-budget", "10%", "--budget", "10%"], "--budget beside --adapt: what --route"),
    ):
        assert main([*base, *extra]) == 2
        assert said in capsys.readouterr().err
        assert not (tmp_path / "l.txt").exists()
    assert main([*base, "--adapt-seed", "13", "--quiet"]) == 0 and (tmp_path / "l.txt").is_file()


def test_train_label_evaluate(
    small_dataset: Path, tiny_base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, labels = tmp_path / "model", tmp_path / "labels.txt"
    assert (
        main(
            [
                "train",
                "--dataset",
                str(small_dataset),
                "--out",
                str(model),
                "--base",
                str(tiny_base),
                "--epochs",
                "1",
                "--max-length",
                "64",
                "--quiet",
            ]
        )
        == 0
    )
    assert "validation vs teacher" in capsys.readouterr().out

    pairs = tmp_path / "run.txt"
    wanted = sorted(read_qrels(small_dataset / "qrels.txt"))[:30]
    pairs.write_text("".join(f"{p.query_id} Q0 {p.doc_id} {i + 1} 1.0 bm25\n" for i, p in enumerate(wanted)))
    assert (
        main(
            [
                "label",
                "--model",
                str(model),
                "--dataset",
                str(small_dataset),
                "--pairs",
                str(pairs),
                "--out",
                str(labels),
                "--quiet",
            ]
        )
        == 0
    )
    assert "this run: 30 pairs in" in capsys.readouterr().out
    assert sorted(read_qrels(labels)) == wanted

    assert main(["label", "--model", str(model), "--dataset", str(small_dataset), "--out", str(labels), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "this run: 66 pairs in" in printed and "30 pairs reused" in printed and "engine: engine local" in printed
    assert len(read_qrels(labels)) == 96
    store = labels.with_name("labels.txt.judgments.jsonl")
    assert len(store.read_text().splitlines()) == 96  # the 30 from the first run were not judged again

    assert (
        main(
            [
                "evaluate",
                str(labels),
                "--qrels",
                str(small_dataset / "qrels.txt"),
                "--json",
                "--report",
                str(tmp_path / "report"),
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 96 and result["missing"] == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert f"| labels.txt | 96 | 0 | {result['cohen_kappa']:.4f} |" in report  # the numbers --json printed
    assert "data:image/png;base64," in (tmp_path / "report" / "report.html").read_text()


def test_label_reads_parquet_pairs_and_reports_the_engine(
    small_dataset: Path, tiny_base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    model, labels = tmp_path / "model", tmp_path / "labels.txt"
    assert (
        main(
            [
                "train",
                "--dataset",
                str(small_dataset),
                "--out",
                str(model),
                "--base",
                str(tiny_base),
                "--epochs",
                "1",
                "--max-length",
                "64",
                "--quiet",
            ]
        )
        == 0
    )
    wanted = sorted(read_qrels(small_dataset / "qrels.txt"))[5:25]
    pairs = tmp_path / "pairs.parquet"
    pq.write_table(
        pa.table(
            {
                "query_id": [p.query_id for p in wanted],
                "doc_id": [p.doc_id for p in wanted],
                "bm25": [1.0] * len(wanted),
            }
        ),
        pairs,
    )
    capsys.readouterr()
    assert (
        main(
            [
                "label",
                "--model",
                str(model),
                "--dataset",
                str(small_dataset),
                "--pairs",
                str(pairs),
                "--out",
                str(labels),
                "--precision",
                "int8",
                "--tokens-per-batch",
                "512",
                "--quiet",
                "--report",
                str(tmp_path / "report"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert sorted(read_qrels(labels)) == wanted
    assert "precision int8" in printed and "tokens_per_batch 512" in printed and "hardware: cpu" in printed
    assert "tokens_per_batch 512" in (tmp_path / "report" / "report.md").read_text()

    pq.write_table(pa.table({"qid": ["x"], "doc_id": ["y"]}), pairs)
    out = run(
        "label", "--model", str(model), "--dataset", str(small_dataset), "--pairs", str(pairs), "--out", str(labels)
    )
    assert out.returncode == 2 and f"{pairs}: expected columns ['query_id', 'doc_id']" in out.stderr
    pq.write_table(pa.table({"query_id": [wanted[0].query_id, "nope"], "doc_id": [wanted[0].doc_id] * 2}), pairs)
    out = run(
        "label", "--model", str(model), "--dataset", str(small_dataset), "--pairs", str(pairs), "--out", str(labels)
    )
    assert out.returncode == 2 and f"{pairs}:2: expected a query id listed in the dataset's queries" in out.stderr


def test_convert_gguf_names_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"not a gguf file")
    out = run("convert-gguf", "--gguf", str(bad), "--out", str(tmp_path / "out"))
    assert out.returncode == 2 and f"{bad}: expected a GGUF causal LM" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "out").exists()


def test_progress_in_a_pipe_is_plain_lines_or_json(small_dataset: Path, tiny_base: Path, tmp_path: Path) -> None:
    """Without a terminal, a long job says where it is in plain lines (or JSON with --log-json), not a bar."""
    model = tmp_path / "model"
    assert (
        main(
            [
                "train",
                "--dataset",
                str(small_dataset),
                "--out",
                str(model),
                "--base",
                str(tiny_base),
                "--max-steps",
                "2",
                "--max-length",
                "64",
                "--quiet",
            ]
        )
        == 0
    )
    from concurrent.futures import ThreadPoolExecutor

    label = ["label", "--judge", str(model), "--dataset", str(small_dataset)]
    with ThreadPoolExecutor(3) as runs:  # three processes at once: each spends most of its time starting
        plain, logged, quiet = runs.map(
            lambda extra: run(*label, *extra),
            [
                ["--out", str(tmp_path / "a.txt")],
                ["--out", str(tmp_path / "b.txt"), "--log-json"],
                ["--out", str(tmp_path / "c.txt"), "--quiet"],
            ],
        )
    assert plain.returncode == 0 and re.search(r"labeling: 96/96 pairs \(100%\), [\d.]+ pairs/s", plain.stderr)
    assert "\x1b[" not in plain.stderr  # no terminal codes in a log
    rows = [json.loads(line) for line in logged.stderr.splitlines() if line.startswith("{")]
    assert rows and rows[-1]["final"] and rows[-1]["done"] == rows[-1]["total"] == 96 and rows[-1]["unit"] == "pairs"
    assert "labeling:" not in quiet.stderr and "{" not in quiet.stderr
    again = run(*label, "--out", str(tmp_path / "a.txt"))  # all in the store: shown as done, not as 0/0
    assert again.returncode == 0 and re.search(r"labeling: 96/96 pairs \(100%\), 0.0 pairs/s.*; resumed", again.stderr)


def test_a_resumed_loop_times_only_what_it_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run resumed at 90 of 100 batches shows 90 done, and its rate and ETA count only the batches it trains."""
    import io

    from qrelforge import progress

    clock = iter([0.0, 0.0, 10.0, 10.0, 10.0])  # the start; advance(5)'s check, mark and line 10 s on; the end
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    with progress.progress_bar("training", 100, "batches", stream=out, every=0, done=90) as advance:
        advance(5)
    first = out.getvalue().splitlines()[0]
    assert first.startswith("training: 95/100 batches (95%), 0.5 batches/s, ETA 0:00:10"), first
