"""Print the collection's table: ``PYTHONPATH=src:tests python -m models [seeds]``."""

from __future__ import annotations

import sys
from collections import Counter

from .collection import cases, run

COLUMNS = ("correct", "passed", "bugs", "caught", "right kind", "invisible", "on kinks")


def main(seeds: int) -> None:
    counts: Counter[tuple[str, str]] = Counter()
    order: dict[str, None] = {}
    for seed in range(seeds):
        for case in cases(seed):
            outcome = run(case)
            order[case.condition] = None
            correct = case.bug is None
            counts[(case.condition, "correct" if correct else "bugs")] += 1
            if not outcome.visible:
                counts[(case.condition, outcome.why)] += 1
            elif outcome.ok:
                counts[(case.condition, "passed" if correct else "caught")] += 1
                counts[(case.condition, "right kind")] += not correct and outcome.kind_right
            else:
                print(f"FAIL seed {seed} {case.id}: {outcome.why}")
    print(f"{'condition':<22}" + "".join(f"{c:>11}" for c in COLUMNS))
    for condition in [*order, "total"]:
        row = [
            sum(v for (k, c), v in counts.items() if c == column and condition in (k, "total"))
            for column in COLUMNS
        ]
        print(f"{condition:<22}" + "".join(f"{n:>11}" for n in row))


main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
