"""gradcheck.torch.check_function: pytrees in and out, what is summed, what is left out, and
backwards that mishandle an undefined output gradient."""

import math
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import gradcheck as gc  # noqa: E402
import gradcheck.torch as gt  # noqa: E402

torch.set_num_threads(1)


def randn(*shape, seed=0):
    return torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


class TwoOutputs(torch.autograd.Function):
    """(sin x, x²) with a backward that may mishandle an undefined gradient of the second output."""

    undefined_as = "zeros"  # or "ones": the planted bug (reads a missing gradient as ones)

    @staticmethod
    def forward(ctx, x):
        ctx.set_materialize_grads(False)  # let backward see None for an unused output
        ctx.save_for_backward(x)
        return torch.sin(x), x**2

    @staticmethod
    def backward(ctx, g_sin, g_square):
        (x,) = ctx.saved_tensors
        if g_square is None:  # a backward is handed None for an output the loss did not use
            g_square = torch.zeros_like(x) if TwoOutputs.undefined_as == "zeros" else torch.ones_like(x)
        if g_sin is None:
            g_sin = torch.zeros_like(x)
        return torch.cos(x) * g_sin + 2 * x * g_square


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, y: (x * y, [torch.tanh(x), {"s": (x - y).sum()}]),
        lambda x, y: torch.meshgrid(x, y, indexing="ij"),
        lambda x, y: torch.sort(x * y),  # values and int64 indices: the indices are ignored
    ],
    ids=["nested", "meshgrid", "sort-with-indices"],
)
def test_any_pytree_of_outputs_is_summed_with_its_own_cotangent(fn):
    report = gt.check_function(fn, randn(4, seed=1).requires_grad_(), randn(4, seed=2).requires_grad_())
    assert report.passed, report.summary()


def test_outputs_returned_without_grad_stay_out_of_the_loss():
    """native_layer_norm returns (out, mean, rstd); mean and rstd are saved statistics."""
    x = randn(2, 3, 4).requires_grad_()
    report = gt.check_function(lambda x: torch.native_layer_norm(x, (4,), None, None, 1e-5), x)
    assert report.passed, report.summary()


def test_a_function_with_no_differentiable_output_is_refused_with_the_reason():
    with pytest.raises(gc.OptionError, match=r"no differentiable tensor .*int64.*detaches it"):
        gt.check_function(lambda x: torch.argsort(x), randn(5).requires_grad_())


def test_pytree_inputs_are_named_by_their_place():
    a, b, c = (randn(3, seed=s).requires_grad_() for s in (1, 2, 3))
    report = gt.check_function(
        lambda xs, d: torch.cat(xs) * d["scale"].sum(), [a, b], {"scale": c}, modes="rev"
    )
    assert report.passed
    assert [row.name for row in report.tensors] == ["inputs[0][0]", "inputs[0][1]", "inputs[1].scale"]


def test_unused_inputs_and_zero_tensor_gradients_read_as_zeros():
    """sgn of a complex input: its gradient is a ZeroTensor where the input is 0."""
    z = torch.tensor([0j, 1 + 1j, -2 + 0.5j], dtype=torch.complex128, requires_grad=True)
    unused = randn(2).requires_grad_()
    report = gt.check_function(lambda z, u: torch.sgn(z), z, unused)
    assert report.passed, report.summary()


def test_non_finite_input_entries_are_left_unperturbed_and_reported_unchecked():
    """A masked softmax: -inf entries have no derivative; the others are checked."""
    x = randn(3, 4)
    x[0, 1] = x[2, 3] = -math.inf
    report = gt.check_function(lambda x: torch.softmax(x, dim=-1), x.requires_grad_())
    assert report.passed, report.summary()
    assert report.tensors[0].checked == 10
    (unchecked,) = [f for f in report.findings if f.kind == "unchecked"]
    assert "2 of the 12 entries of inputs[0] are not finite (inputs[0][0, 1] = -inf" in unchecked.message


def test_an_input_with_no_elements_gives_a_report_that_says_nothing_was_checked(tmp_path):
    report = gt.check_function(torch.exp, torch.zeros(0, 3, dtype=torch.float64, requires_grad=True))
    assert report.passed and report.tensors[0].checked == 0
    assert report.summary().startswith("✔ nothing was checked")
    assert [f.kind for f in report.findings] == ["unchecked"]
    report.to_html(tmp_path / "report.html")
    assert "Nothing was checked" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_each_output_alone_catches_a_backward_that_mishandles_an_undefined_gradient(monkeypatch):
    x = randn(5).requires_grad_()
    assert gt.check_function(TwoOutputs.apply, x).passed
    monkeypatch.setattr(TwoOutputs, "undefined_as", "ones")
    report = gt.check_function(TwoOutputs.apply, x)
    assert not report.passed and report.wrong_tensors == ["inputs[0]"]
    assert report.findings[0].kind == "undefined_gradient"
    assert "only output[0] is used" in report.findings[0].message
    # every check ran: the one over both outputs and the failing one of output[0] alone
    assert report.settings.evaluations > 2 * 2 * 5


def test_a_backward_that_raises_on_an_undefined_gradient_gets_a_clear_error():
    class Strict(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, a, b):
            return 2 * a + 3 * b  # fails when a or b is None

    with pytest.raises(
        gc.LossRaisedError, match=r"backward of fn raised TypeError.*only output\[0\]'s gradient"
    ):
        gt.check_function(Strict.apply, randn(3).requires_grad_())


def test_a_non_finite_output_names_the_entry():
    with pytest.raises(gc.NonFiniteError, match=r"fn returned nan at output\[1\] \(1 of 3 entries"):
        gt.check_function(torch.log, torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64, requires_grad=True))


def test_a_sparse_input_is_refused_with_the_fix():
    sparse = randn(3, 3).to_sparse().requires_grad_()
    with pytest.raises(gc.OptionError, match=r"inputs\[0\] is a sparse tensor .*to_dense"):
        gt.check_function(lambda a: torch.mm(a, torch.eye(3, dtype=torch.float64)), sparse)


def test_a_float32_constant_in_a_float64_backward_is_named():
    """hardsigmoid's float64 backward uses float32(1/6) = 0.1666666716 (2.98e-8 relative)."""
    x = (torch.linspace(-2.5, 2.5, 20, dtype=torch.float64) + 0.01).requires_grad_()
    report = gt.check_function(torch.nn.functional.hardsigmoid, x, modes="rev")
    (scale,) = [f for f in report.findings if f.kind == "scale"]
    assert re.search(r"1\.00000003\d*×|1\.000000029\d×", scale.message), scale.message
    assert "float32 constant or intermediate" in scale.message


def test_the_callers_inputs_are_untouched():
    x = randn(3, 4, seed=5).requires_grad_()
    before = x.detach().clone()
    gt.check_function(lambda x: (x.sum(0), torch.relu(x)), x)
    assert torch.equal(x.detach(), before) and x.grad is None and x.requires_grad
    assert np.isfinite(before.numpy()).all()


def test_labels_that_require_grad_do_not_blind_the_check_of_the_input():
    """hinge_embedding_loss with labels of ±1 that require grad: a 1 % error in the input's
    gradient is caught (the noise is measured along each input)."""

    class OnePercent(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return 1.01 * g

    x = randn(4, 5, seed=7).requires_grad_()
    y = torch.where(randn(4, 5, seed=8) > 0, 1.0, -1.0).double().requires_grad_()
    hinge = torch.nn.functional.hinge_embedding_loss
    assert gt.check_function(hinge, x, y).passed
    report = gt.check_function(lambda x, y: hinge(OnePercent.apply(x), y), x, y)
    assert report.wrong_tensors == ["inputs[0]"] and report.findings[0].kind == "scale"
