"""Training and labeling throughput of a MiniLM student on this machine (pairs/s).

    python benchmarks/student_throughput.py [--data ../shared/data/trec-dl-2020-passage] [--student cross-encoder]

Training: steps of the real training loop (length-grouped batches of 16, max length 256), model load excluded.
Labeling: the student Judge through `label` into a judgment store (tokenization included), at each precision.
Also a large matmul per dtype, to show whether bf16 is fast on this CPU. Numbers go to notes, not to tests.
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from qrelforge import JudgmentStore, TrainConfig, label, load_dataset, load_student, teacher_examples, train_student
from qrelforge.students.base import bf16_is_fast


def matmul_tflops(dtype: torch.dtype, n: int = 2048, reps: int = 8) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="dl20-demo", help="dataset folder or bundled id")
    parser.add_argument("--student", default=TrainConfig.student, help="student kind")
    parser.add_argument("--train-steps", type=int, default=40)
    parser.add_argument("--label-pairs", type=int, default=2000)
    parser.add_argument("--bf16-pairs", type=int, default=300, help="pairs for the forced-bf16 labeling run")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}; bf16 fast here (detected): {bf16_is_fast('cpu')}")
    print(f"matmul 2048^2: fp32 {matmul_tflops(torch.float32):.3f} TFLOP/s, bf16 {matmul_tflops(torch.bfloat16):.3f} TFLOP/s")
    dataset = load_dataset(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(student=args.student, epochs=1, max_steps=args.train_steps)
        trained = train_student(teacher_examples([dataset]), Path(tmp) / "student", config, progress=False)
        print(f"{args.student} training: {trained.train_pairs_per_second:.1f} pairs/s over "
              f"{len(trained.losses)} steps of {config.batch_size} (max length {config.max_length}, {'bf16' if trained.bf16 else 'fp32'})")
        pairs = dataset.pairs[:args.label_pairs]
        for precision, n in (("fp32", len(pairs)), ("bf16", args.bf16_pairs)):
            judge = load_student(trained.model_dir, dataset, precision=precision)
            run = label(judge, pairs[:n], JudgmentStore(Path(tmp) / f"{precision}.jsonl"), progress=False)
            print(f"labeling ({precision}, batch 64): {run.pairs_per_second:.1f} pairs/s over {run.judged} pairs")


if __name__ == "__main__":
    main()
