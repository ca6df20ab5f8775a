"""The Taylor remainder test on the course's network: rate 2 when the gradient is right, 1 with
the course's two planted bugs; the HTML page draws the remainders against h on log-log axes."""

import sys
import tempfile
from pathlib import Path

import gradcheck as gc
from gradcheck import _demo

loss, parameters, gradients = _demo.problem()  # the course's three-layer network, fixed
right = gc.taylor_test(loss, parameters, gradients)
print(right)
assert right.passed and all(abs(rate - 2) <= 0.1 for rate in right.rates)

loss, parameters, gradients = _demo.problem(("dW2x2", "db1-4m"))  # dW2 doubled, db1 with 4./m
wrong = gc.taylor_test(loss, parameters, gradients)
print(wrong.summary())
assert not wrong.passed and all(abs(rate - 1) <= 0.1 for rate in wrong.rates)

page = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()) / "taylor.html"
wrong.to_html(page)
print(f"wrote {page}")
