"""Find the bug the check points at, fix it, check again.

The course plants two bugs: dW2 is multiplied by 2 and db1 uses 4./m instead of 1./m. The
report names the wrong tensors; the ratio analytic / numerical of their worst components says
how they are wrong (a constant factor means a wrong scale, not a wrong formula).
"""

import numpy as np
from course_network import backward_propagation, course_data, forward_propagation

import gradcheck as gc

X, Y, parameters = course_data()
loss = lambda p: forward_propagation(X, Y, p)[0]  # noqa: E731
cost, cache = forward_propagation(X, Y, parameters)

report = gc.check(loss, parameters, backward_propagation(X, Y, cache, bug=True))
print(report.summary())
assert report.wrong_tensors == ["b1", "W2"]

for name in report.wrong_tensors:
    wrong = [c for c in report.worst(50) if c.tensor == name and c.flagged]
    ratios = np.array([c.analytic / c.numerical for c in wrong])
    print(f"{name}: analytic / numerical = {np.median(ratios):.3f} on all {len(wrong)} wrong components")
# → b1: 4.000 (4./m instead of 1./m)   W2: 2.000 (the stray * 2)

report = gc.check(loss, parameters, backward_propagation(X, Y, cache, bug=False))
print(report.summary())
assert report.passed
