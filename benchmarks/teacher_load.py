"""Teacher judging under load: N pairs against the fault-injecting server on 127.0.0.1 (latency, 429s, dropped
connections), at a given concurrency; prints pairs/s, statuses and the process's peak RSS.

    python benchmarks/teacher_load.py --pairs 20000 --concurrency 32

The server is the tests' (tests/fault_server.py), in a thread of this process; its work is counted in the RSS too.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from fault_server import fault_server  # noqa: E402
from test_load import rough, synthetic  # noqa: E402

from qrelforge import JudgmentStore, TeacherConfig, label, load_teacher  # noqa: E402


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    args.add_argument("--pairs", type=int, default=20_000)
    args.add_argument("--concurrency", type=int, default=32)
    opts = args.parse_args()
    dataset = synthetic(queries=max(1, opts.pairs // 100))
    pairs = dataset.pairs[: opts.pairs]
    with tempfile.TemporaryDirectory() as folder, fault_server(rough) as server:
        config = TeacherConfig(
            model="m",
            base_url=server.base_url,
            template="rubric",
            logprobs=False,
            concurrency=opts.concurrency,
            max_retries=3,
            timeout=10,
        )
        with JudgmentStore(Path(folder) / "j.jsonl") as store:
            run = label(load_teacher(config), pairs, dataset, store, progress=False)
        requests = len(server.bodies)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"{run.judged} pairs in {run.seconds:.1f} s: {run.pairs_per_second:.0f} pairs/s at concurrency "
        f"{opts.concurrency}; {requests} requests (retries included); statuses {run.statuses}; "
        f"peak RSS {peak:.2f} GiB"
    )


if __name__ == "__main__":
    main()
