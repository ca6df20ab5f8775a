"""A problem file for the command line: ``gradcheck run examples/course_problem.py``.

``gradcheck run FILE.py[:NAME]`` imports the file, calls NAME() (default ``problem``) and checks
what it returns: ``gc.Problem(loss=..., params=..., grad=...)`` or a dict with those keys.

    gradcheck run examples/course_problem.py --html report.html --json report.json   # exit 0
    gradcheck run examples/course_problem.py:buggy                                   # exit 1
"""

from course_network import backward_propagation, course_data, forward_propagation

import gradcheck as gc


def problem(bug=False):
    X, Y, parameters = course_data()
    cost, cache = forward_propagation(X, Y, parameters)
    return gc.Problem(
        loss=lambda p: forward_propagation(X, Y, p)[0],
        params=parameters,
        grad=backward_propagation(X, Y, cache, bug=bug),
    )


def buggy():
    return problem(bug=True)
