"""The pipeline: every stage's output, skipping what is up to date, re-running only what a change touches, and
the whole chain with the real local LLM as generator and teacher."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path

import pytest
from fault_server import fault_server

from qrelforge import ConfigError
from qrelforge.cli import main
from qrelforge.pipeline.config import load_pipeline_config
from qrelforge.pipeline.run import STAGES, run_pipeline
from qrelforge.students.registry import read_card


def answer(body: dict, number: int) -> tuple:
    """Generation prompts get the first four words of their document; judge prompts a grade from a hash."""
    prompt = body["messages"][0]["content"]
    if "Document:\n" in prompt:
        words = re.findall(r"\w+", prompt.split("Document:\n", 1)[1])
        return ("ok", [" ".join(words[:4])])
    return ("ok", [f"Score: {zlib.crc32(prompt.encode()) % 4}"])


def write_config(folder: Path, corpus: Path, base: Path, server_url: str, random_negatives: int = 1) -> Path:
    llm = f"{{kind: openai, model: m, base_url: '{server_url}', concurrency: 2}}"
    (folder / "pipeline.yaml").write_text(f"""
corpus: {{dataset: {corpus}}}
generate: {{llm: {llm}, seeds: 10, styles: [keywords, question], consistency_k: 5}}
mine: {{bands: [[1, 3, 1], [4, 20, 2]], random: {random_negatives}}}
teacher: {{kind: openai, model: m, base_url: '{server_url}', template: rubric, concurrency: 2, logprobs: false,
          prices: {{input_per_million: 1.0, output_per_million: 2.0}}}}
train: {{base: {base}, max_steps: 4, val_fraction: 0.3}}
evaluate: {{dataset: {corpus}, pairs: 12}}
""")
    return folder / "pipeline.yaml"


def test_every_stage_writes_its_output_and_a_rerun_does_no_work(small_dataset, tiny_base, tmp_path):
    out = tmp_path / "run"
    with fault_server(answer) as server:
        config = load_pipeline_config(write_config(tmp_path, small_dataset, tiny_base, server.base_url))
        manifests = run_pipeline(config, out, progress=False)
        first = len(server.bodies)
        again = run_pipeline(config, out, progress=False)
        assert len(server.bodies) == first  # nothing asked twice
    assert again == manifests
    queries = [json.loads(line) for line in (out / "generate" / "queries.jsonl").read_text().splitlines()]
    assert queries and all(
        q["seed_doc_id"] and q["style"] in ("keywords", "question") and q["generator"] for q in queries
    )
    assert manifests["generate"]["counts"]["written"] == 20  # 10 seeds x 2 styles
    assert manifests["generate"]["counts"]["dropped"]["duplicate"] >= 1  # both styles got the same four words
    candidates = [json.loads(line) for line in (out / "mine" / "candidates.jsonl").read_text().splitlines()]
    seeds = {q["query_id"]: q["seed_doc_id"] for q in queries}
    for c in candidates:
        assert (c["source"] == "seed") == (c["doc_id"] == seeds[c["query_id"]])  # the seed is never a negative
        if c["source"] == "bm25 1-3":
            assert 1 <= c["rank"] <= 3
    judged = manifests["judge"]["counts"]
    assert judged["pairs"] == len(candidates) and judged["statuses"] == {"ok": len(candidates)}
    assert judged["cost"] > 0 and len((out / "judge" / "qrels.txt").read_text().splitlines()) == len(candidates)
    assert read_card(out / "train" / "model").train_examples == manifests["train"]["counts"]["train examples"]
    assert manifests["train"]["counts"]["last loss"] > 0
    assert set(manifests["evaluate"]["counts"]) == {"teacher", "student"}
    assert "kappa" in (out / "evaluate" / "report.md").read_text()
    assert all(m["key"] and m["versions"]["qrelforge"] for m in manifests.values())


def test_a_changed_setting_reruns_its_stage_and_what_follows_and_asks_only_for_new_pairs(
    small_dataset, tiny_base, tmp_path, capsys
):
    out = tmp_path / "run"
    with fault_server(answer) as server:
        run_pipeline(
            load_pipeline_config(write_config(tmp_path, small_dataset, tiny_base, server.base_url)), out, progress=False
        )
        old_pairs = {(c["query_id"], c["doc_id"]) for c in map(json.loads, (out / "mine" / "candidates.jsonl").open())}
        before = {s: json.loads((out / s / "manifest.json").read_text()) for s in STAGES}
        asked = len(server.bodies)
        changed = write_config(tmp_path, small_dataset, tiny_base, server.base_url, random_negatives=3)
        assert main(["run", str(changed), "--out", str(out), "--dry-run"]) == 0
        plan = capsys.readouterr().out
        assert "index: up to date" in plan and "generate: up to date" in plan and "mine: run" in plan
        assert len(server.bodies) == asked  # a dry run calls nothing
        after = run_pipeline(load_pipeline_config(changed), out, progress=False)
        new_pairs = {(c["query_id"], c["doc_id"]) for c in map(json.loads, (out / "mine" / "candidates.jsonl").open())}
        assert len(server.bodies) - asked == len(new_pairs - old_pairs) > 0
    assert after["index"] == before["index"] and after["generate"] == before["generate"]
    assert all(after[s]["key"] != before[s]["key"] for s in ("mine", "judge", "train", "evaluate"))


def test_pipeline_config_errors_name_the_file(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("corpus: {dataset: x}\nmine: {bands: [[1, 10, 2]], randum: 1}\n")
    with pytest.raises(ConfigError, match=r"p.yaml: unknown mine settings \['randum'\]"):
        load_pipeline_config(bad)
    bad.write_text("generate: {seeds: 3}\n")
    with pytest.raises(ConfigError, match="corpus: needs a dataset folder"):
        load_pipeline_config(bad)


@pytest.mark.llm
def test_the_whole_chain_with_the_real_local_llm(small_dataset, tiny_base, tmp_path):
    (tmp_path / "p.yaml").write_text(f"""
corpus: {{dataset: {small_dataset}}}
generate: {{llm: {{kind: llama-cpp, temperature: 0, max_tokens: 24}}, seeds: 6, styles: [question], consistency_k: 50}}
mine: {{bands: [[1, 3, 1], [4, 20, 2]], random: 1}}
teacher: {{kind: llama-cpp, template: rubric}}
train: {{base: {tiny_base}, max_steps: 3, val_fraction: 0.4}}
evaluate: {{dataset: {small_dataset}, pairs: 8}}
""")
    manifests = run_pipeline(load_pipeline_config(tmp_path / "p.yaml"), tmp_path / "run", progress=False)
    generated = manifests["generate"]["counts"]
    assert generated["written"] + generated["empty answers"] == 6 and generated["kept"] >= 2
    assert manifests["mine"]["counts"]["by source"]["seed"] == generated["kept"]
    run = tmp_path / "run"
    queries = {q["query_id"]: q for q in map(json.loads, (run / "generate" / "queries.jsonl").open())}
    assert all(
        q["seed_doc_id"] and q["style"] == "question" and q["generator"].startswith("llama-cpp:")
        for q in queries.values()
    )
    for c in map(json.loads, (run / "mine" / "candidates.jsonl").open()):
        assert (c["source"] == "seed") == (c["doc_id"] == queries[c["query_id"]]["seed_doc_id"])
    assert sum(manifests["judge"]["counts"]["statuses"].values()) == manifests["mine"]["counts"]["candidates"]
    assert (tmp_path / "run" / "train" / "model" / "qrelforge.json").is_file()
    assert set(manifests["evaluate"]["counts"]) == {"teacher", "student"}


def test_generation_interrupted_mid_stage_resumes_without_asking_again(small_dataset, tiny_base, tmp_path):
    out = tmp_path / "run"
    asked: list[str] = []

    def refuse_after_first_chunk(body: dict, number: int) -> tuple:
        prompt = body["messages"][0]["content"]
        if "Document:\n" in prompt:
            asked.append(prompt)
            if len(asked) > 16:  # the first 8 seed docs x 2 styles are answered, then the key is refused
                return ("status", 401, {})
        return answer(body, number)

    with fault_server(refuse_after_first_chunk) as server:
        config = load_pipeline_config(write_config(tmp_path, small_dataset, tiny_base, server.base_url))
        with pytest.raises(ConfigError, match="refused"):
            run_pipeline(config, out, progress=False)
    assert not (out / "generate" / "manifest.json").exists()
    first = len(asked)
    with fault_server(answer) as healthy:
        config = load_pipeline_config(write_config(tmp_path, small_dataset, tiny_base, healthy.base_url))
        manifests = run_pipeline(config, out, progress=False)
        generation_requests = [b for b in healthy.bodies if "Document:\n" in b["messages"][0]["content"]]
    assert first > 16 and len(generation_requests) == 2 * 2  # only the 2 seed docs left, in 2 styles
    assert manifests["generate"]["counts"]["written"] == 20


def test_document_metadata_reaches_the_prompts_and_stratifies_the_seeds(tmp_path):
    from qrelforge.pipeline import stages

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rows = [
        {
            "doc_id": f"d{i}",
            "text": f"Report number {i} on budget planning and travel policy {i}.",
            "title": f"Policy {i}",
            "folder": "finance" if i < 8 else "hr",
        }
        for i in range(10)
    ]
    (corpus / "docs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (corpus / "queries.tsv").write_text("q1\tbudget policy\n")
    (corpus / "qrels.txt").write_text("q1 0 d1 1\nq1 0 d9 0\n")
    with fault_server(answer) as server:
        (tmp_path / "p.yaml").write_text(
            f"corpus: {{dataset: {corpus}}}\n"
            f"generate: {{llm: {{model: m, base_url: '{server.base_url}'}}, seeds: 4, stratify: folder, "
            "styles: [enterprise], consistency_k: null, language: null}\n"
        )
        config = load_pipeline_config(tmp_path / "p.yaml")
        run = tmp_path / "run"
        (run / "index").mkdir(parents=True)
        (run / "generate").mkdir()
        stages.index(config, run, run / "index", False)
        counts = stages.generate(config, run, run / "generate", False)
        prompts = [b["messages"][0]["content"] for b in server.bodies]
    assert counts["written"] == 4 and len(prompts) == 4
    assert all("title: Policy" in p and "folder: " in p and "employee" in p for p in prompts)
    assert sorted(p.split("folder: ")[1].split("\n")[0] for p in prompts) == ["finance", "finance", "hr", "hr"]
