"""Reading a report: the verdict, the seeds' difference, the tensors, the worst components, files."""

import json
import tempfile
from pathlib import Path

from course_network import backward_propagation, course_data, forward_propagation

import gradcheck as gc

X, Y, parameters = course_data()
cost, cache = forward_propagation(X, Y, parameters)
report = gc.check(
    lambda p: forward_propagation(X, Y, p)[0], parameters, backward_propagation(X, Y, cache, bug=True)
)

# The verdict, made per component against each derivative's own estimated numerical error.
print("passed:", report.passed, "| wrong tensors:", report.wrong_tensors)
# The seeds' relative difference ||g - g'|| / (||g|| + ||g'||) and its band (fine, inspect, worry).
print(f"difference {report.difference:.3e} → {report.band}")

# One row per tensor: how many components were checked and found wrong, and the worst of them.
for row in report.tensors:
    print(f"{row.name:3s} {row.flagged:2d} of {row.checked:2d} wrong, worst {row.worst}")

# The components that disagree most, relative to their estimated numerical error.
for c in report.worst(3):
    print(f"{c.name:9s} analytic {c.analytic: .6f}  numerical {c.numerical: .6f}  wrong={c.flagged}")

# Findings: what the check could tell about the cause (kinks, precision, bug patterns).
for finding in report.findings:
    print(f"[{finding.kind}] {finding.message}")

# Three lines for a log; a web page with a heatmap per tensor; JSON for other programs.
print(report.summary(k=2))
folder = Path(tempfile.mkdtemp())
report.to_html(folder / "report.html")
(folder / "report.json").write_text(report.to_json())
again = gc.Report.from_dict(json.loads((folder / "report.json").read_text()))
assert again.summary() == report.summary()
print("wrote", folder / "report.html", "and", folder / "report.json")
