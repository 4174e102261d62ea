"""Labeling throughput of a student: our engine against the usual ways of running the same model, in one run.

    python benchmarks/label_throughput.py --data ../shared/data/trec-dl-2020-passage \
        --bi-encoder MODEL_DIR --cross-encoder MODEL_DIR [--pairs 3000] [--teacher-pairs 40] [--ray] --out DIR

For each student folder, on the same random judged pairs (texts from the dataset, tokenization included, model
loading excluded):
- our engine (``load_student(...).judge``) in every numeric format: fp32, bf16 and int8, each with the share of its
  grades that differ from fp32's (bf16 on all the pairs where the CPU runs it natively — AMX or AVX512-BF16, as
  ``bf16_is_fast`` measures — else, emulated, on the first ``--emulated-pairs`` only, and marked so), and fp32 on one
  thread;
- sentence-transformers with its defaults on the same weights (``CrossEncoder.predict`` for a cross-encoder;
  ``SentenceTransformer.encode`` of queries and passages plus the cosine for a bi-encoder); truncation is set to the
  student's max length in every runner, so all of them read the same tokens;
- a plain Hugging Face loop: fp32, fixed batches of 32 in input order, each padded to its longest member.
Then the local LLM teacher (SmolLM2 in process) on the first ``--teacher-pairs`` pairs, for the student/teacher
ratio, and cost per million labels from a machine price per hour and an API teacher's token prices (its tokens are
estimated by qrelforge's dry-run estimate of the UMBRELA prompt, completion at its max_tokens: an upper bound).

Roofline: our engine's FLOPs are counted with torch's FlopCounterMode on the same pairs (the model's matrix work at
the measured token lengths), divided by the engine's seconds, and compared with a large bf16 and fp32 matmul
measured in the same run. Numbers go to notes (benchmarks/RESULTS.md), never to tests.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qrelforge import Batch, EngineSettings, Pair, TeacherConfig, load_dataset, load_student, load_teacher
from qrelforge.io.store import JudgmentStore
from qrelforge.judges.cost import plan
from qrelforge.llm.config import Prices
from qrelforge.students.base import bf16_is_fast, matmul_flops
from qrelforge.students.engine import hardware
from qrelforge.students.registry import read_card


def timed(run: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = run()
    return out, time.perf_counter() - start


def engine_run(model_dir: Path, dataset: Any, pairs: Sequence[Pair], settings: EngineSettings) -> tuple[list, float]:
    student = load_student(model_dir, settings)
    student.judge(Batch(pairs[:64], dataset))  # warm-up: first-call kernel choices and allocations
    return timed(lambda: student.judge(Batch(pairs, dataset)))


def engine_flops(model_dir: Path, dataset: Any, pairs: Sequence[Pair]) -> float:
    """FLOPs our engine's fp32 model performs on these pairs (torch's counter: matmuls, attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    student = load_student(model_dir, EngineSettings("fp32"))
    with FlopCounterMode(display=False) as counter:
        student.judge(Batch(pairs, dataset))
    return float(counter.get_total_flops())


def layer_gemm_flops(model_dir: Path, tokens: int = 4096) -> float:
    """FLOP/s of the model's own linear layers (fp32) on a block of ``tokens`` tokens: its achievable matmul rate.

    MiniLM's layers are narrow (384 wide): such matrix products run below a large square matmul's peak.
    """
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    width, inner = config.hidden_size, config.intermediate_size
    shapes = [(width, width)] * 4 + [(width, inner), (inner, width)]  # q, k, v, attention out; FFN in, out
    layers = [torch.nn.Linear(a, b) for a, b in shapes]
    x = {a: torch.randn(tokens, a) for a in (width, inner)}
    flops = sum(2 * tokens * a * b for a, b in shapes)
    with torch.inference_mode():
        for layer, (a, _) in zip(layers, shapes):
            layer(x[a])  # warm-up
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for layer, (a, _) in zip(layers, shapes):
                layer(x[a])
            best = min(best, time.perf_counter() - start)
    return flops / best


def plain_hf_loop(model_dir: Path, kind: str, queries: list[str], docs: list[str], max_length: int) -> None:
    """What a user writes first: fp32, batches of 32 in input order, padded to the batch's longest member."""
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if kind == "cross-encoder":
        model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    else:
        model = AutoModel.from_pretrained(model_dir).eval()

    def embed(texts: list[str]) -> torch.Tensor:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)

    with torch.no_grad():
        for i in range(0, len(queries), 32):
            q, d = queries[i : i + 32], docs[i : i + 32]
            if kind == "cross-encoder":
                model(**tokenizer(q, d, padding=True, truncation=True, max_length=max_length, return_tensors="pt"))
            else:
                (embed(q) * embed(d)).sum(-1)


def sentence_transformers_scorer(model_dir: Path, kind: str, max_length: int) -> Callable[[list[str], list[str]], Any]:
    """sentence-transformers with its defaults (batch 32, its own length sorting) on the student's weights."""
    import sentence_transformers as st

    if kind == "cross-encoder":
        model = st.CrossEncoder(str(model_dir), max_length=max_length, device="cpu")
        return lambda q, d: model.predict(list(zip(q, d)), show_progress_bar=False)
    model = st.SentenceTransformer(str(model_dir), device="cpu")
    model.max_seq_length = max_length
    return lambda q, d: (
        model.encode(q, normalize_embeddings=True, show_progress_bar=False)
        * model.encode(d, normalize_embeddings=True, show_progress_bar=False)
    ).sum(-1)


def teacher_rate(dataset: Any, pairs: Sequence[Pair], template: str) -> float:
    """Pairs/s of the local LLM teacher (SmolLM2 in process) with a bundled prompt template."""
    teacher = load_teacher(TeacherConfig(kind="llama-cpp", template=template), pairs)
    teacher.judge(Batch(pairs[:2], dataset))  # warm-up
    _, seconds = timed(lambda: teacher.judge(Batch(pairs, dataset)))
    return len(pairs) / seconds


def api_cost_per_million(dataset: Any, pairs: Sequence[Pair], prices: Prices, out: Path) -> float:
    """US$ per million labels of an API teacher with the UMBRELA prompt (qrelforge's dry-run estimate)."""
    config = TeacherConfig(kind="openai", model="gpt-4o", template="umbrela", prices=prices)
    with JudgmentStore(out / "dry-run.jsonl") as store:
        estimate = plan(load_teacher(config, pairs), pairs, dataset, store)
    return estimate.cost / len(pairs) * 1e6


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--data", required=True, help="dataset folder (../shared/data/trec-dl-2020-passage)")
    args.add_argument("--bi-encoder", type=Path, help="a trained bi-encoder student folder")
    args.add_argument("--cross-encoder", type=Path, help="a trained cross-encoder student folder")
    args.add_argument("--pairs", type=int, default=3000)
    args.add_argument("--teacher-pairs", type=int, default=40, help="0 skips the local LLM teacher")
    args.add_argument("--emulated-pairs", type=int, default=100, help="pairs timed in bf16 where it is emulated")
    args.add_argument("--ray", action="store_true", help="also label with Ray on a local cluster (1x2 and 2x1 CPUs)")
    args.add_argument("--machine-usd-per-hour", type=float, default=0.10, help="price of this machine")
    args.add_argument("--api-input-per-million", type=float, default=2.50, help="API teacher US$ per 1M input tokens")
    args.add_argument("--api-output-per-million", type=float, default=10.0)
    args.add_argument("--seed", type=int, default=0)
    args.add_argument("--out", required=True, type=Path)
    opts = args.parse_args()
    opts.out.mkdir(parents=True, exist_ok=True)

    dataset = load_dataset(opts.data)
    pairs = random.Random(opts.seed).sample(dataset.pairs, min(opts.pairs, len(dataset.pairs)))
    queries, docs = [dataset.queries[p.query_id] for p in pairs], [dataset.docs[p.doc_id] for p in pairs]
    machine = hardware()
    roofline = {"bf16": matmul_flops(torch.bfloat16, 4096, 3), "fp32": matmul_flops(torch.float32, 4096, 3)}
    print(f"machine: {machine}")
    print(
        f"matmul roofline (4096^2, best of 3): bf16 {roofline['bf16'] / 1e9:.0f} GFLOP/s, "
        f"fp32 {roofline['fp32'] / 1e9:.0f} GFLOP/s"
    )
    per_hour = opts.machine_usd_per_hour

    def cost(rate: float) -> float:
        return per_hour / 3600 / rate * 1e6

    results: dict[str, Any] = {"machine": machine, "roofline_flops": roofline, "pairs": len(pairs), "students": {}}
    for kind, model_dir in (("bi-encoder", opts.bi_encoder), ("cross-encoder", opts.cross_encoder)):
        if model_dir is None:
            continue
        max_length = read_card(model_dir).max_length
        rows: dict[str, float] = {}
        fp32, seconds = engine_run(model_dir, dataset, pairs, EngineSettings("fp32"))
        rows["engine fp32"] = len(pairs) / seconds
        flops = engine_flops(model_dir, dataset, pairs)
        achieved, layer_rate = flops / seconds, layer_gemm_flops(model_dir)
        changed: dict[str, float] = {"engine fp32": 0.0}
        gaps: dict[str, float] = {"engine fp32": 0.0}
        for fmt in ("bf16", "int8"):
            native = fmt != "bf16" or bf16_is_fast("cpu")
            some = pairs if native else pairs[: opts.emulated_pairs]
            judged, seconds = engine_run(model_dir, dataset, some, EngineSettings(fmt))
            name = f"engine {fmt}" if native else f"engine {fmt} (emulated: no native bf16; {len(some)} pairs)"
            rows[name] = len(some) / seconds
            changed[name] = float(np.mean([a.grade != b.grade for a, b in zip(fp32, judged)]))
            gaps[name] = float(
                np.abs(np.array([a.probs for a in fp32[: len(some)]]) - np.array([b.probs for b in judged])).mean()
            )
        _, seconds = engine_run(model_dir, dataset, pairs, EngineSettings("fp32", threads=1))
        rows["engine fp32, 1 thread"] = len(pairs) / seconds
        torch.set_num_threads(machine["torch_threads"])
        score = sentence_transformers_scorer(model_dir, kind, max_length)
        score(queries[:64], docs[:64])  # warm-up
        _, seconds = timed(functools.partial(score, queries, docs))
        rows["sentence-transformers defaults"] = len(pairs) / seconds
        _, seconds = timed(functools.partial(plain_hf_loop, model_dir, kind, queries, docs, max_length))
        rows["plain HF loop (fp32, batch 32)"] = len(pairs) / seconds
        if opts.ray:  # the cluster is started before timing; each run's actor start (model load) is included
            import ray

            from qrelforge import RayOptions, label_with_ray

            ray.init(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
            for actors, cpus in ((1, 2), (2, 1)):
                folder = opts.out / f"ray-{kind}-{actors}x{cpus}"
                with JudgmentStore(folder / "store.jsonl") as store:
                    ray_run = label_with_ray(
                        load_student(model_dir, EngineSettings("fp32")),
                        pairs,
                        dataset,
                        store,
                        folder / "shards",
                        RayOptions(actors=actors, cpus_per_actor=cpus),
                        progress=False,
                    )
                rows[f"ray, {actors} actor(s) x {cpus} CPU (actor start included)"] = ray_run.pairs_per_second
            ray.shutdown()
        results["students"][kind] = {
            "pairs_per_second": rows,
            "flops_per_pair": flops / len(pairs),
            "achieved_flops": achieved,
            "share_of_bf16_roofline": achieved / roofline["bf16"],
            "share_of_fp32_roofline": achieved / roofline["fp32"],
            "layer_gemm_flops": layer_rate,
            "bf16_native": bf16_is_fast("cpu"),
            "grades_changed_from_fp32": changed,
            "mean_prob_gap_from_fp32": gaps,
        }
        base = rows["sentence-transformers defaults"]
        print(f"\n{kind} ({model_dir}), {len(pairs)} pairs, {flops / len(pairs) / 1e9:.2f} GFLOP per pair:")
        for name, rate in rows.items():
            differ = f"  {changed[name]:6.2%} of grades differ from fp32" if name in changed else ""
            print(f"  {name:58s} {rate:8.1f} pairs/s  {rate / base:5.2f}x s-t  ${cost(rate):.3f} per 1M labels{differ}")
        print(
            f"  engine fp32 achieves {achieved / 1e9:.0f} GFLOP/s: {achieved / roofline['bf16']:.0%} of the bf16 "
            f"matmul roofline, {achieved / roofline['fp32']:.0%} of the fp32 one; the model's own linear layers "
            f"alone run at {layer_rate / 1e9:.0f} GFLOP/s on 4096 tokens ({achieved / layer_rate:.0%} of that)"
        )
        for name in changed.keys() - {"engine fp32"}:
            print(f"  {name} vs fp32: {changed[name]:.2%} of grades differ, mean probability gap {gaps[name]:.4f}")

    if opts.teacher_pairs:
        api = api_cost_per_million(
            dataset, pairs, Prices(opts.api_input_per_million, opts.api_output_per_million), opts.out
        )
        results["teacher"] = {"api_usd_per_million": api}
        print(f"\nAPI teacher (gpt-4o prices, UMBRELA, upper estimate): ${api:,.0f} per 1M labels")
        for template in ("umbrela", "rubric"):  # the default prompt, and the shortest bundled one
            rate = teacher_rate(dataset, pairs[: opts.teacher_pairs], template)
            results["teacher"][template] = {"local_llm_pairs_per_second": rate, "local_llm_usd_per_million": cost(rate)}
            print(
                f"local LLM teacher (SmolLM2-135M in process, {template} prompt): {rate:.2f} pairs/s, "
                f"${cost(rate):.2f} per 1M labels"
            )
            for kind, student in results["students"].items():
                best = max(student["pairs_per_second"]["engine fp32"], student["pairs_per_second"]["engine int8"])
                print(f"  {kind} engine / this teacher: {best / rate:,.0f}x pairs/s")
    (opts.out / "label_throughput.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
