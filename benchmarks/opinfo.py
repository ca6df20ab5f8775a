"""gradcheck.torch.check_function and torch.autograd.gradcheck over PyTorch's OpInfo samples.

Every float64 CPU sample of every operator with autograd (tests/_opinfo.py drives them the way
PyTorch's test_ops drives gradcheck), both checkers on the same samples, one thread each. Prints
the pass / fail / error table, the disagreements, and the time of each checker; results are
written as JSON lines so that the two sides can be run apart and read again.

    PYTHONPATH=src python benchmarks/opinfo.py                     # every sample, both checkers
    PYTHONPATH=src python benchmarks/opinfo.py --per-op 2          # the first two of each operator
    PYTHONPATH=src python benchmarks/opinfo.py --only ours --out ours.jsonl
    PYTHONPATH=src python benchmarks/opinfo.py --only slow --per-op 2  # torch's default slow mode
    PYTHONPATH=src python benchmarks/opinfo.py --read theirs.jsonl --read ours.jsonl [--per-op 2]
    PYTHONPATH=src python benchmarks/opinfo.py --complex --per-op 1  # complex128 samples
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch  # noqa: E402

import _opinfo  # noqa: E402

CHECKERS = {
    "theirs": _opinfo.theirs,
    "slow": lambda sample: _opinfo.theirs(sample, fast=False),
    "ours": _opinfo.ours,
}
LABELS = {
    "theirs": "torch.autograd.gradcheck as test_ops runs it",
    "slow": "torch.autograd.gradcheck, slow mode",
    "ours": "gradcheck.torch.check_function",
}


def run(per_op: int | None, only: list[str], out: Path, dtype: torch.dtype) -> None:
    with out.open("w", encoding="utf-8") as file:
        for sample in _opinfo.samples(per_op, dtype=dtype):
            row: dict[str, object] = {"id": sample.id, "op": sample.name}
            for who in only:
                result = CHECKERS[who](sample)
                row[who] = {"kind": result.kind, "seconds": result.seconds, "message": result.message[:2000]}
            file.write(json.dumps(row) + "\n")
            file.flush()


def read(paths: list[Path], per_op: int | None = None) -> dict[str, dict]:
    """The rows of result files by sample id (with ``per_op``, the first N of each operator)."""
    rows: dict[str, dict] = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            index = int(row["id"].rsplit("[", 1)[1].rstrip("]"))
            if per_op is None or index < per_op:
                rows.setdefault(row["id"], {}).update(row)
    return rows


def table(rows: dict[str, dict]) -> None:
    print(f"{len(rows)} samples of {len({r['op'] for r in rows.values()})} operators\n")
    print("| | pass | fail | error | crash | time |\n|---|---:|---:|---:|---:|---:|")
    for who in CHECKERS:
        seen = [r[who] for r in rows.values() if who in r]
        if not seen:
            continue
        counts = collections.Counter(x["kind"] for x in seen)
        seconds = sum(x["seconds"] for x in seen)
        cells = " | ".join(f"{counts.get(k, 0):,}" for k in ("pass", "fail", "error", "crash"))
        print(f"| {LABELS[who]} | {cells} | {seconds:.0f} s |")
    both = [r for r in rows.values() if "ours" in r and "theirs" in r]  # against test_ops' way
    disagree = collections.Counter(
        (r["op"], r["theirs"]["kind"], r["ours"]["kind"])
        for r in both
        if r["theirs"]["kind"] != r["ours"]["kind"]
    )
    print("\ndisagreements (operator, torch, gradcheck: samples):")
    for (op, theirs, ours), count in sorted(disagree.items()):
        print(f"  {op}: torch {theirs}, gradcheck {ours}: {count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-op", type=int, default=None, help="only the first N samples of each operator")
    parser.add_argument("--only", choices=sorted(CHECKERS), action="append", help="run one checker only")
    parser.add_argument("--out", type=Path, default=Path("opinfo.jsonl"), help="where to write the results")
    parser.add_argument("--read", type=Path, action="append", help="tabulate results written before")
    parser.add_argument("--complex", action="store_true", help="the complex128 samples instead of float64")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.read:
        table(read(args.read, args.per_op))
        return
    run(
        args.per_op,
        args.only or ["theirs", "ours"],  # slow mode only on request: hours on the largest samples
        args.out,
        torch.complex128 if args.complex else torch.float64,
    )
    table(read([args.out]))


if __name__ == "__main__":
    main()
