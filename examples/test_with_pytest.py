"""Gradient checks in a test suite: run with ``pytest examples/test_with_pytest.py``.

``gc.assert_gradients`` raises an AssertionError whose message is made for test logs. The
``gradcheck`` fixture (from gradcheck's pytest plugin) does the same with the session's options:
``pytest --gradcheck-method central4 --gradcheck-html-dir reports`` writes a web page for every
failing check.
"""

import pytest
from course_network import backward_propagation, course_data, forward_propagation

import gradcheck as gc


@pytest.fixture
def network():
    X, Y, parameters = course_data()
    cost, cache = forward_propagation(X, Y, parameters)
    return (lambda p: forward_propagation(X, Y, p)[0]), parameters, X, Y, cache


def test_backward_propagation(network):
    loss, parameters, X, Y, cache = network
    gc.assert_gradients(loss, parameters, backward_propagation(X, Y, cache))


def test_backward_propagation_with_the_fixture(network, gradcheck):
    loss, parameters, X, Y, cache = network
    gradcheck.assert_gradients(loss, parameters, backward_propagation(X, Y, cache))


def test_the_planted_bugs_are_caught(network):
    loss, parameters, X, Y, cache = network
    with pytest.raises(gc.GradientMismatch, match="WRONG in db1, dW2"):
        gc.assert_gradients(loss, parameters, backward_propagation(X, Y, cache, bug=True))
