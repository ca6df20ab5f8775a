"""Check the course's network in five lines (the README's first example)."""

from course_network import backward_propagation, course_data, forward_propagation

import gradcheck as gc

X, Y, parameters = course_data()

cost, cache = forward_propagation(X, Y, parameters)
gradients = backward_propagation(X, Y, cache)
report = gc.check(lambda p: forward_propagation(X, Y, p)[0], parameters, gradients)
print(report)
assert report.passed
