"""The PyTorch adapter by mode and order: a custom Function's jvp and double backward, checked
against the same finite differences as its backward; unsupported modes said, not failed."""

import pytest

torch = pytest.importorskip("torch")

import gradcheck as gc  # noqa: E402
import gradcheck.torch as gt  # noqa: E402

torch.set_num_threads(1)


class Tanh(torch.autograd.Function):
    """tanh with a backward built from differentiable operations on the saved output."""

    jvp_scale = 1.0

    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        ctx.y = y
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)

    @staticmethod
    def jvp(ctx, t):
        return t * (1 - ctx.y * ctx.y) * Tanh.jvp_scale


class TanhMissingDerivative(Tanh):
    """The jvp forgets tanh′: it returns the tangent itself."""

    @staticmethod
    def jvp(ctx, t):
        return t.clone()


class TanhDetached(torch.autograd.Function):
    """The classic second-order bug: tanh′ computed in forward (no graph) and used in backward."""

    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.derivative = 1 - y * y
        return y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.derivative


class TanhOnce(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


def x(seed=0):
    return torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def kinds(report):
    return {(f.kind, f.tensor) for f in report.findings}


def test_a_right_function_passes_in_both_modes_and_second_order_on_20_seeds():
    for seed in range(20):
        report = gt.check_function(Tanh.apply, x(seed), order=2, seed=seed)
        assert report.passed and report.findings == (), report.summary()
    assert [row.name for row in report.tensors] == ["inputs[0]", "fwd:inputs[0]", "hvp:inputs[0]"]
    assert report.settings.checked == "derivatives"


def test_a_jvp_twice_too_large_is_caught_in_forward_mode_only(monkeypatch):
    monkeypatch.setattr(Tanh, "jvp_scale", 2.0)
    report = gt.check_function(Tanh.apply, x())
    assert not report.passed and report.wrong_tensors == ["fwd:inputs[0]"]
    (finding,) = report.findings
    assert finding.kind == "scale" and finding.value == pytest.approx(2.0)
    assert "the forward-mode gradient of inputs[0] is 2.00×" in finding.message


def test_a_jvp_missing_tanh_prime_is_caught():
    report = gt.check_function(TanhMissingDerivative.apply, x())
    assert not report.passed and report.wrong_tensors == ["fwd:inputs[0]"]


def test_a_function_without_jvp_says_so_and_passes():
    report = gt.check_function(TanhDetached.apply, x())
    assert report.passed
    (note,) = report.findings
    assert note.kind == "not_checked" and "forward mode" in note.message and "jvp" in note.message
    with pytest.raises(gc.OptionError, match="leaves nothing to check"):
        gt.check_function(TanhDetached.apply, x(), modes="fwd")


class TanhWrongShapeJvp(Tanh):
    """The jvp returns one tangent per row instead of one per entry."""

    @staticmethod
    def jvp(ctx, t):
        return t.sum(dim=1, keepdim=True)


def test_a_jvp_that_raises_fails_the_check_and_quotes_the_error():
    report = gt.check_function(TanhWrongShapeJvp.apply, x())
    assert not report.passed and report.wrong_tensors == []
    (note,) = report.findings
    assert note.kind == "mode_error" and "forward mode raised RuntimeError" in note.message
    assert [row.name for row in report.tensors] == ["inputs[0]"]  # the backward was still checked
    with pytest.raises(gc.LossRaisedError, match="forward mode: RuntimeError"):
        gt.check_function(TanhWrongShapeJvp.apply, x(), modes="fwd")


def test_a_detached_intermediate_in_backward_is_caught_at_order_2():
    report = gt.check_function(TanhDetached.apply, x(), order=2)
    assert not report.passed and report.wrong_tensors == ["hvp:inputs[0]"]
    assert ("zero_second_derivative", "hvp:inputs[0]") in kinds(report)
    assert gt.check_function(TanhDetached.apply, x()).passed  # every first-order check passes


def test_a_once_differentiable_backward_declares_no_second_order():
    report = gt.check_function(TanhOnce.apply, x(), order=2)
    assert report.passed
    assert any(f.kind == "not_checked" and "once_differentiable" in f.message for f in report.findings)


def test_forward_mode_reuses_the_finite_differences_of_reverse_mode():
    rev = gt.check_function(Tanh.apply, x(), modes="rev").settings.evaluations
    both = gt.check_function(Tanh.apply, x()).settings.evaluations
    assert both == rev  # every point forward mode needs was evaluated for reverse mode


def test_a_module_at_order_2_leaves_the_model_alone():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    batch = torch.randn(8, 3), torch.randn(8, 1)
    rng = torch.get_rng_state()
    report = gt.check_module(model, torch.nn.MSELoss(), *batch, order=2)
    assert report.passed, report.summary()
    assert {row.name.split(":")[0] for row in report.tensors} >= {"fwd", "hvp"}
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert torch.equal(rng, torch.get_rng_state()) and all(p.grad is None for p in model.parameters())


def test_above_a_thousand_components_forward_mode_checks_a_sample(monkeypatch):
    class Layer(torch.nn.Module):
        def forward(self, z):
            return Tanh.apply(z)

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(40, 30), Layer(), torch.nn.Linear(30, 1))  # 1,261 params
    batch = torch.randn(16, 40), torch.randn(16, 1)
    monkeypatch.setattr(Tanh, "jvp_scale", 2.0)
    report = gt.check_module(model, torch.nn.MSELoss(), *batch)
    assert not report.passed and set(report.wrong_tensors) == {"fwd:0.weight", "fwd:0.bias"}
    fwd_rows = [row for row in report.tensors if row.name.startswith("fwd:")]
    assert sum(row.checked for row in fwd_rows) == 1000
    assert any(f.kind == "coverage" and f.message.startswith("forward mode:") for f in report.findings)


def test_modes_and_order_are_validated():
    with pytest.raises(gc.OptionError, match="did you mean 'rev'"):
        gt.check_function(Tanh.apply, x(), modes="reverse")
    with pytest.raises(gc.OptionError, match="order=3"):
        gt.check_function(Tanh.apply, x(), order=3)


class Identity(torch.autograd.Function):
    """An old-style Function (no vmap rule) that passes its input and its tangent on."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(ctx, t):
        return t


def test_a_tangent_forward_ad_silently_drops_is_a_zero_forward_derivative():
    # PyTorch 2.13's forward AD of scatter_reduce(reduce="prod") propagates no tangent and raises
    # nothing; the Function without a vmap rule sends forward mode to one dual pass per entry.
    index = torch.tensor([0, 1, 0, 1])

    def fn(x):
        return Identity.apply(torch.ones(2, dtype=x.dtype).scatter_reduce(0, index, x, "prod"))

    report = gt.check_function(fn, x()[:, 0] + 2.0, contracts=False)
    assert not report.passed and report.wrong_tensors == ["fwd:inputs[0]"]
    assert [f.kind for f in report.findings if f.tensor == "fwd:inputs[0]"] == ["zero_derivative"]


def test_forward_mode_keeps_its_stack_of_tangents_within_the_chunk_budget(monkeypatch):
    from gradcheck import _modes

    assert _modes.tangents_per_call(1_000) == 256 and _modes.tangents_per_call(5_200_000) == 1
    monkeypatch.setattr(_modes, "CHUNK_BYTES", 8 * 12 * 5)  # five tangents of the 12 entries per call
    assert _modes.tangents_per_call(12) == 5
    monkeypatch.setattr(Tanh, "jvp_scale", 2.0)
    report = gt.check_function(Tanh.apply, x(), contracts=False)
    assert report.wrong_tensors == ["fwd:inputs[0]"] and report.findings[0].kind == "scale"
