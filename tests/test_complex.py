"""Complex parameters: two real ones each, read in PyTorch's convention g = ∂J/∂Re + i·∂J/∂Im.

Closed forms: J(z) = ||A z − b||² has g = 2·Aᴴ(A z − b); a planted missing conjugate is caught in
the core, in a custom torch.autograd.Function (a complex layer) and in a JAX custom_vjp.
"""

import numpy as np
import pytest

import gradcheck as gc

RNG = np.random.default_rng(0)
A = RNG.normal(size=(4, 3)) + 1j * RNG.normal(size=(4, 3))
B = RNG.normal(size=4) + 1j * RNG.normal(size=4)
Z = RNG.normal(size=3) + 1j * RNG.normal(size=3)


def least_squares(p):
    r = A @ p["z"] - B
    return float(np.vdot(r, r).real) + float(np.sum(p["w"] ** 2))


def gradient(p):
    return {"z": 2 * A.conj().T @ (A @ p["z"] - B), "w": 2 * p["w"]}


def params():
    return {"z": Z.copy(), "w": np.array([0.5, -1.5])}


def test_a_complex_parameter_is_checked_as_its_real_and_imaginary_parts():
    report = gc.check(least_squares, params(), gradient)
    assert report.passed, report.summary()
    assert [row.name for row in report.tensors] == ["z.real", "z.imag", "w"]
    assert report.component(0).name == "z.real[0]"


def test_the_numerical_gradient_of_a_complex_parameter_is_complex_in_the_same_convention():
    numerical = gc.numerical_gradient(least_squares, params())
    np.testing.assert_allclose(numerical["z"], gradient(params())["z"], rtol=1e-7)


def test_the_conjugate_gradient_is_named_a_missing_conjugate():
    conjugated = lambda p: {**gradient(p), "z": np.conj(gradient(p)["z"])}  # noqa: E731
    report = gc.check(least_squares, params(), conjugated)
    assert not report.passed and report.wrong_tensors == ["z.imag"]
    (finding,) = [f for f in report.findings if f.kind == "conjugate"]
    assert "complex conjugate" in finding.message and "z.real is right" in finding.message


def test_a_real_gradient_for_a_complex_parameter_has_zero_imaginary_part():
    real_only = lambda p: {**gradient(p), "z": gradient(p)["z"].real}  # noqa: E731
    report = gc.check(least_squares, params(), real_only)
    assert report.wrong_tensors == ["z.imag"]


def test_a_complex_gradient_for_a_real_parameter_is_refused():
    with pytest.raises(gc.StructureError, match="gradient of w is complex.*real part"):
        gc.check(least_squares, params(), lambda p: {**gradient(p), "w": gradient(p)["w"] + 0j})


def test_the_complex_step_method_refuses_complex_parameters():
    with pytest.raises(gc.ComplexStepError, match="z.real.*method='central'"):
        gc.check(least_squares, params(), gradient, method="complex")


def test_the_callers_complex_array_is_left_as_it_was():
    p = params()
    before = p["z"].copy()
    gc.check(least_squares, p, gradient)
    assert np.array_equal(p["z"], before) and p["z"].dtype == np.complex128


# --- PyTorch: a complex layer, and torch.check on complex params ------------------------------

torch = pytest.importorskip("torch")
import gradcheck.torch as gt  # noqa: E402


class ComplexLinear(torch.autograd.Function):
    """y = W x for complex W and x; ``conjugate=False`` plants the classic missing conjugate."""

    conjugate = True

    @staticmethod
    def forward(ctx, w, x):
        ctx.save_for_backward(w, x)
        return w @ x

    @staticmethod
    def backward(ctx, g):
        w, x = ctx.saved_tensors
        if ComplexLinear.conjugate:
            return torch.outer(g, x.conj()), w.conj().T @ g
        return torch.outer(g, x), w.T @ g


def complex_inputs():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(3, 2, dtype=torch.complex128, generator=gen, requires_grad=True)
    x = torch.randn(2, dtype=torch.complex128, generator=gen, requires_grad=True)
    return w, x


def test_a_complex_torch_layer_with_a_complex_output_passes(monkeypatch):
    monkeypatch.setattr(ComplexLinear, "conjugate", True)
    report = gt.check_function(ComplexLinear.apply, *complex_inputs())
    assert report.passed, report.summary()
    assert [row.name for row in report.tensors] == [
        "inputs[0].real",
        "inputs[0].imag",
        "inputs[1].real",
        "inputs[1].imag",
    ]


def test_a_missing_conjugate_in_a_torch_backward_is_caught(monkeypatch):
    monkeypatch.setattr(ComplexLinear, "conjugate", False)
    report = gt.check_function(ComplexLinear.apply, *complex_inputs())
    assert not report.passed
    assert set(report.wrong_tensors) == {
        "inputs[0].real",
        "inputs[0].imag",
        "inputs[1].real",
        "inputs[1].imag",
    }


def test_torch_check_takes_complex_params_in_pytorch_convention():
    a = torch.from_numpy(A)
    loss = lambda p: ((a @ p["z"]).abs() ** 2).sum()  # noqa: E731
    z = torch.from_numpy(Z.copy())
    assert gt.check(loss, {"z": z}).passed
    right = lambda p: {"z": 2 * a.conj().T @ (a @ p["z"])}  # noqa: E731
    assert gt.check(loss, {"z": z}, grad=right).passed
    report = gt.check(loss, {"z": z}, grad=lambda p: {"z": right(p)["z"].conj()})
    assert [f.kind for f in report.findings] == ["conjugate"]


# --- JAX: a function of complex parameters ----------------------------------------------------


def test_a_jax_function_of_complex_parameters_passes_in_jax_convention():
    jax = pytest.importorskip("jax")
    import gradcheck.jax as gj

    jnp = jax.numpy
    a = jnp.asarray(A)

    def f(p):
        return jnp.sum(jnp.abs(a @ p["z"]) ** 2) + jnp.sum(p["w"] ** 2)

    p = {"z": jnp.asarray(Z), "w": jnp.array([0.5, -1.5])}
    assert gj.check(f, p).passed  # jax.grad: ∂f/∂x − i·∂f/∂y, conjugated before comparing
    report = gj.check(f, p, grad=lambda p: {"z": jnp.conj(jax.grad(f)(p)["z"]), "w": 2 * p["w"]})
    assert report.wrong_tensors == ["z.imag"] and report.findings[0].kind == "conjugate"


def test_a_conjugate_too_many_in_a_jax_custom_vjp_is_caught():
    jax = pytest.importorskip("jax")
    import gradcheck.jax as gj

    jnp = jax.numpy

    def planted(conjugate):
        @jax.custom_vjp
        def mul(z, w):
            return z * w

        def backward(saved, g):  # JAX's holomorphic rule is g·w; a conj() there is the bug
            z, w = saved
            return (g * jnp.conj(w) if conjugate else g * w), g * z

        mul.defvjp(lambda z, w: (z * w, (z, w)), backward)
        return lambda p: jnp.sum(jnp.abs(mul(p["z"], p["w"])) ** 2)

    p = {"z": jnp.array([1 + 2j, 0.5 - 1j]), "w": jnp.array([0.3 - 0.7j, 1.2 + 0.4j])}
    assert gj.check(planted(False), p).passed
    assert set(gj.check(planted(True), p).wrong_tensors) == {"z.real", "z.imag"}
