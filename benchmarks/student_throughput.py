"""Training throughput of a MiniLM student on this machine (pairs/s); labeling is label_throughput.py's job.

    python benchmarks/student_throughput.py [--data ../shared/data/trec-dl-2020-passage] [--student cross-encoder]

Training: steps of the real training loop (length-grouped batches of 16, max length 256), model load excluded.
Also a large matmul per dtype, to show whether bf16 is fast on this CPU. Numbers go to notes, not to tests.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import torch

from qrelforge import TrainConfig, load_dataset, teacher_examples, train_student
from qrelforge.students.base import bf16_is_fast, matmul_flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="dl20-demo", help="dataset folder or bundled id")
    parser.add_argument("--student", default=TrainConfig.student, help="student kind")
    parser.add_argument("--train-steps", type=int, default=40)
    args = parser.parse_args()

    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}; bf16 fast here (detected): {bf16_is_fast('cpu')}"
    )
    print(
        f"matmul 2048^2: fp32 {matmul_flops(torch.float32, 2048, 8) / 1e12:.3f} TFLOP/s, "
        f"bf16 {matmul_flops(torch.bfloat16, 2048, 8) / 1e12:.3f} TFLOP/s"
    )
    dataset = load_dataset(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(student=args.student, epochs=1, max_steps=args.train_steps)
        trained = train_student(teacher_examples([dataset]), Path(tmp) / "student", config, progress=False)
        print(
            f"{args.student} training: {trained.train_pairs_per_second:.1f} pairs/s over "
            f"{len(trained.losses)} steps of {config.batch_size} (max length {config.max_length}, "
            f"{'bf16' if trained.bf16 else 'fp32'})"
        )


if __name__ == "__main__":
    main()
