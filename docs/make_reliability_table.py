"""Write docs/reliability.md by running the cases of tests/test_reliability.py.

Run from the repository root: ``PYTHONPATH=src python docs/make_reliability_table.py``.
"""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    spec = importlib.util.spec_from_file_location("reliability_cases", ROOT / "tests" / "test_reliability.py")
    assert spec is not None and spec.loader is not None
    cases = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = cases  # dataclasses look their module up there
    spec.loader.exec_module(cases)
    cases.DOC.write_text(cases.table(), encoding="utf-8")
    print(f"wrote {cases.DOC.relative_to(ROOT)} ({len(cases.CASES)} cases)")


if __name__ == "__main__":
    main()
