"""What a check costs, and the options that change it.

A full check evaluates the loss about twice per component (central differences), plus a few
evaluations to measure the loss's noise and to refine suspicious components. ``method`` trades
evaluations for accuracy; ``eps`` fixes the step instead of choosing it per component.
"""

from course_network import backward_propagation, course_data, forward_propagation

import gradcheck as gc

X, Y, parameters = course_data()
cost, cache = forward_propagation(X, Y, parameters)
gradients = backward_propagation(X, Y, cache)
loss = lambda p: forward_propagation(X, Y, p)[0]  # noqa: E731
size = sum(p.size for p in parameters.values())

for method in ("forward", "central", "central4", "richardson"):
    report = gc.check(loss, parameters, gradients, method=method)
    s = report.settings
    print(
        f"{method:10s} {s.evaluations:4d} evaluations ({s.evaluations / size:.1f} per component), "
        f"{s.seconds * 1e3:6.1f} ms, detects relative errors above {report.detection_limit:.0e}"
    )

# The seeds' recipe: one fixed step for every component.
report = gc.check(loss, parameters, gradients, eps=1e-7)
print(f"eps=1e-7   difference {report.difference:.3e} (the course's reference value is 1.189e-07)")
