"""Benchmark: every derivative a user writes, side by side with the peers' checks.

Run:  PYTHONPATH=src python benchmarks/derivatives.py

1. The planted bugs of issue 12, each caught and named, and the right versions on 20 seeds.
2. Forward mode of a custom Function at n = 64: calls and time against
   torch.autograd.gradcheck with and without check_forward_ad, and a 2×-wrong jvp.
3. jax.test_util.check_grads: its default modes on a custom_vjp, and order=2 on a backward that
   drops its second derivative where f(x) = 0 and where it is not.
4. The Taylor test against a pyadjoint-style fixed ladder (4 steps from 0.01, minimum rate
   > 1.9): a 1 % error in one of 50 gradient components, 5 random directions × 20 seeds.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402
import warnings  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import gradcheck as gc  # noqa: E402
import gradcheck.jax as gj  # noqa: E402
import gradcheck.torch as gt  # noqa: E402
from gradcheck import _demo  # noqa: E402

torch.set_num_threads(1)
SEEDS = range(20)


# --- the planted bugs ---------------------------------------------------------------------------

RNG = np.random.default_rng(0)
LAYER = {"x": RNG.normal(size=3), "W": RNG.normal(size=(4, 3)), "b": RNG.normal(size=4)}


def layer(p):
    return np.tanh(p["W"] @ p["x"] + p["b"])


def layer_jvp(p, t, bug=None):
    dz = t["W"] @ p["x"] + p["W"] @ t["x"] + t["b"]
    if bug == "no tanh'":
        return dz
    return (2.0 if bug == "2x" else 1.0) * (1 - layer(p) ** 2) * dz


N = 12
_M = RNG.normal(size=(N, N))
A, LAM, W0 = _M @ _M.T / N, 0.1, RNG.normal(size=N)


def quadratic_grad(w):
    return A @ w + np.tanh(w) + LAM * w


def quadratic_hvp(w, v, bug=None):
    h = A @ v + (1 - np.tanh(w) ** 2) * v + LAM * v
    if bug == "no λI":
        return h - LAM * v
    if bug == "doubled diagonal":
        return h + (np.diag(A) + 1 - np.tanh(w) ** 2 + LAM) * v
    return h


class Tanh(torch.autograd.Function):
    detached = False

    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        ctx.derivative = 1 - y * y
        return y

    @staticmethod
    def backward(ctx, g):
        if Tanh.detached:
            return g * ctx.derivative
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


def jax_sin(stop: bool):
    @jax.custom_vjp
    def sin(x):
        return jnp.sin(x)

    def backward(x, g):
        d = jnp.cos(x)
        return (g * (jax.lax.stop_gradient(d) if stop else d),)

    sin.defvjp(lambda x: (jnp.sin(x), x), backward)
    return sin


X_JAX = RNG.normal(size=(6, 3))
P_JAX = {"W": RNG.normal(size=(3, 4)), "v": RNG.normal(size=4)}
B50, A50 = RNG.normal(size=50), RNG.normal(size=(50, 50)) / 7


def loss50(w):
    return float(np.sum(np.tanh(A50 @ w)) + 0.5 * w @ w + B50 @ w)


def grad50(w, bug=False):
    g = A50.T @ (1 - np.tanh(A50 @ w) ** 2) + w + B50
    return g * np.where(np.arange(50) == 7, 1.01, 1.0) if bug else g


W50 = RNG.normal(size=50)


def planted():
    def torch_check(detached, seed=0):
        Tanh.detached = detached
        x = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        return gt.check_function(Tanh.apply, x, modes="rev", order=2, seed=seed)

    def jax_check(stop, seed=0):
        return gj.check(lambda p: jnp.sum(jax_sin(stop)(X_JAX @ p["W"]) @ p["v"]) ** 2 / 10, P_JAX, order=2, seed=seed)

    cases = [
        ("wrong jvp (2×)", "check_jvp", lambda s, b: gc.check_jvp(layer, LAYER, lambda p, t: layer_jvp(p, t, b and "2x"), seed=s)),
        ("missing tanh′ in a JVP", "check_jvp", lambda s, b: gc.check_jvp(layer, LAYER, lambda p, t: layer_jvp(p, t, b and "no tanh'"), seed=s)),
        ("HVP without λI", "check_hvp", lambda s, b: gc.check_hvp(quadratic_grad, W0, lambda w, v: quadratic_hvp(w, v, b and "no λI"), seed=s)),
        ("doubled HVP diagonal", "check_hvp", lambda s, b: gc.check_hvp(quadratic_grad, W0, lambda w, v: quadratic_hvp(w, v, b and "doubled diagonal"), seed=s)),
        ("detached intermediate in backward", "torch order=2", lambda s, b: torch_check(b, s)),
        ("stop_gradient in a custom_vjp backward", "jax order=2", lambda s, b: jax_check(b, s)),
        ("1 % error in one of 50 components", "taylor_test", lambda s, b: gc.taylor_test(loss50, W50, lambda w: grad50(w, b), seed=s)),
    ]  # fmt: skip
    print("| planted bug | checked by | caught | finding | right version passes |")
    print("|---|---|---|---|---|")
    for name, by, run in cases:
        wrong = run(0, True)
        kinds = sorted({f.kind for f in wrong.findings if f.kind not in ("not_checked",)})
        passes = sum(run(seed, False).passed for seed in SEEDS)
        print(f"| {name} | {by} | {'yes' if not wrong.passed else 'NO'} | {', '.join(kinds)} | {passes}/20 |")


# --- forward mode against torch.autograd.gradcheck --------------------------------------------


class Cube(torch.autograd.Function):
    calls = 0
    jvp_scale = 1.0

    @staticmethod
    def forward(ctx, x):
        Cube.calls += 1
        ctx.save_for_backward(x)
        ctx.x = x
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g

    @staticmethod
    def jvp(ctx, t):
        return 3 * ctx.x**2 * t * Cube.jvp_scale


def forward_mode():
    x = torch.randn(64, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    print("| check | forward calls | points | time | 2×-wrong jvp caught |")
    print("|---|---:|---:|---:|---|")
    for label, run in (
        ("torch gradcheck", lambda: torch.autograd.gradcheck(Cube.apply, (x,), raise_exception=False)),
        ("torch gradcheck, check_forward_ad=True", lambda: torch.autograd.gradcheck(Cube.apply, (x,), check_forward_ad=True, raise_exception=False)),
        ("gradcheck.torch, modes='rev'", lambda: gt.check_function(Cube.apply, x, modes="rev", contracts=False)),
        ("gradcheck.torch, default (rev and fwd)", lambda: gt.check_function(Cube.apply, x, contracts=False)),
    ):  # fmt: skip
        Cube.jvp_scale = 1.0
        run()  # warm-up: torch's forward-mode decompositions load on first use
        Cube.calls = 0
        start = time.perf_counter()
        result = run()
        seconds, calls = time.perf_counter() - start, Cube.calls
        points = result.settings.evaluations if isinstance(result, gc.Report) else calls
        Cube.jvp_scale = 2.0
        wrong = run()
        caught = not (wrong.passed if isinstance(wrong, gc.Report) else wrong)
        print(f"| {label} | {calls} | {points} | {seconds:.3f} s | {'yes' if caught else 'no'} |")


# --- jax check_grads ------------------------------------------------------------------------------


def jax_peer():
    from jax.test_util import check_grads

    jax.config.update("jax_enable_x64", True)
    x0 = jnp.array([0.3, -1.1, 0.7])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            check_grads(lambda x: jnp.sum(jax_sin(False)(x) ** 2), (x0,), order=1)
            print("check_grads default modes on a custom_vjp: ran")
        except TypeError as error:
            print(f"check_grads default modes on a custom_vjp: TypeError: {str(error).splitlines()[0]}")
    for label, offset in (("f(x) ≠ 0", 0.0), ("f(x) = 0", float(jnp.sum(jnp.sin(x0) ** 2)))):
        for stop in (False, True):
            s = jax_sin(stop)

            def f(x, s=s, offset=offset):
                return jnp.sum(s(x) ** 2) - offset

            try:
                check_grads(f, (x0,), order=2, modes=["rev"])
                theirs = "passes"
            except AssertionError:
                theirs = "fails"
            ours = "passes" if gj.check(f, x0, order=2).passed else "fails"
            what = "backward with stop_gradient" if stop else "right backward"
            print(f"| {label} | {what} | check_grads(order=2, modes=['rev']) {theirs} | gradcheck.jax order=2 {ours} |")


# --- the Taylor test against a fixed ladder -------------------------------------------------------


def fixed_ladder_rate(loss, grad, w, direction):
    """pyadjoint-style: steps 0.01·2⁻ⁱ for i < 4, the minimum of the three rates."""
    j0, slope = loss(w), grad(w) @ direction
    residuals = [abs(loss(w + h * direction) - j0 - h * slope) for h in 0.01 / 2.0 ** np.arange(4)]
    return min(np.log2(residuals[i] / residuals[i + 1]) for i in range(3))


def taylor():
    print("| test | right gradient passes | 1 % error in one of 50 components passes | course fixed / buggy |")
    print("|---|---:|---:|---|")
    fixed_right = fixed_wrong = ours_right = ours_wrong = 0
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        for _ in range(5):
            d = rng.normal(size=50)
            fixed_right += fixed_ladder_rate(loss50, grad50, W50, d) > 1.9
            fixed_wrong += fixed_ladder_rate(loss50, lambda w: grad50(w, True), W50, d) > 1.9
        right = gc.taylor_test(loss50, W50, grad50, seed=seed, directions=5)
        wrong = gc.taylor_test(loss50, W50, lambda w: grad50(w, True), seed=seed, directions=5)
        ours_right += sum(d.passed for d in right.directions)
        ours_wrong += sum(d.passed for d in wrong.directions)
    course = [gc.taylor_test(*_demo.problem(bugs)).rates for bugs in ((), ("dW2x2", "db1-4m"))]
    shown = " / ".join(", ".join(f"{r:.2f}" for r in rates) for rates in course)
    print(f"| fixed ladder (4 steps from 0.01, min rate > 1.9) | {fixed_right}/100 | {fixed_wrong}/100 | |")
    print(f"| gc.taylor_test (adaptive, to the floor) | {ours_right}/100 | {ours_wrong}/100 | {shown} |")


if __name__ == "__main__":
    print(f"load average: {os.getloadavg()[0]:.1f}\n")
    planted()
    print()
    forward_mode()
    print()
    jax_peer()
    print()
    taylor()
