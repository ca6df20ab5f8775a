"""The contracts of a custom op: each broken one is a ``contract`` finding that names the
contract and the tensor; a Function that keeps them all gets none."""

import pytest

torch = pytest.importorskip("torch")

import gradcheck.torch as gt  # noqa: E402

torch.set_num_threads(1)


class Scale(torch.autograd.Function):
    """x · n for a float x and an integer n, with a backward that can break each contract."""

    broken = ""

    @staticmethod
    def forward(ctx, x, n):
        ctx.save_for_backward(x, n)
        if Scale.broken == "mutates input":
            x.add_(0.0).mul_(1.0)
            x.data[0] += 1.0
        out = x * n
        return x.view(-1).view(x.shape) if Scale.broken == "aliases input" else out

    @staticmethod
    def backward(ctx, g):
        x, n = ctx.saved_tensors
        grad = g * n
        broken = Scale.broken
        if broken == "float64 gradient":
            grad = grad.double()
        if broken == "unreduced gradient":
            grad = grad.expand(2, *grad.shape) / 2
        if broken == "zero cotangent":
            grad = grad + 0.1
        if broken == "keeps state":
            Scale.calls = getattr(Scale, "calls", 0) + 1
            grad = grad * Scale.calls
        if broken == "mutates in backward":
            x.data.mul_(1.0)
            x.data[0] += 1.0
        return grad, (torch.ones_like(n) if broken == "integer gradient" else None)


def inputs():
    x = torch.randn(4, dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    return x, torch.tensor([1, 2, 3, 4])


def contracts(broken, monkeypatch):
    monkeypatch.setattr(Scale, "broken", broken)
    monkeypatch.setattr(Scale, "calls", 0, raising=False)
    x, n = inputs()
    before = x.clone()
    report = gt.check_function(Scale.apply, x, n, modes="rev")
    assert torch.equal(x, before), "the caller's tensor is never touched"
    return report, [f for f in report.findings if f.kind == "contract"]


def test_a_function_that_keeps_every_contract_passes(monkeypatch):
    report, found = contracts("", monkeypatch)
    assert report.passed and found == []


@pytest.mark.parametrize(
    "broken, contract",
    [
        ("mutates input", "inputs are not mutated"),
        ("mutates in backward", "inputs are not mutated"),
        ("aliases input", "outputs do not alias inputs"),
        ("float64 gradient", "the gradient has its input's dtype, shape and device"),
        ("unreduced gradient", "the gradient has its input's dtype, shape and device"),
        ("integer gradient", "integer and boolean inputs get no gradient"),
        ("zero cotangent", "a zero upstream gradient gives zero gradients"),
        ("keeps state", "a second backward gives the same gradient"),
    ],
)
def test_each_broken_contract_is_named_with_its_tensor(broken, contract, monkeypatch):
    report, found = contracts(broken, monkeypatch)
    assert not report.passed
    assert any(f"contract '{contract}' broken for inputs[" in f.message for f in found), [
        f.message for f in found
    ]


def test_vmap_of_the_backward_is_compared_with_a_loop():
    class Counting(torch.autograd.Function):
        """A backward whose result depends on how often it ran: one vmapped call ≠ three calls."""

        generate_vmap_rule = True
        calls = 0

        @staticmethod
        def forward(x):
            return x * 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, g):
            Counting.calls += 1
            return g * 3 * Counting.calls

    report = gt.check_function(Counting.apply, torch.randn(3, dtype=torch.float64), modes="rev")
    assert any("vmap of the backward equals a loop" in f.message for f in report.findings)


def test_contracts_can_be_turned_off(monkeypatch):
    monkeypatch.setattr(Scale, "broken", "zero cotangent")
    report = gt.check_function(Scale.apply, *inputs(), modes="rev", contracts=False)
    assert not any(f.kind == "contract" for f in report.findings)


def test_a_function_checked_through_a_part_of_its_outputs_keeps_its_contracts():
    class WithStatistic(torch.autograd.Function):
        """y = 2x and a saved statistic; fn returns y only (as a fused op's wrapper does)."""

        @staticmethod
        def forward(ctx, x):
            return x * 2, x.sum()

        @staticmethod
        def backward(ctx, g, g_statistic):
            return g * 2 + g_statistic

    x = torch.randn(4, dtype=torch.float64)
    report = gt.check_function(lambda x: WithStatistic.apply(x)[0], x, modes="rev")
    assert report.passed and report.findings == (), report.summary()


def test_zero_tensor_gradients_and_exact_zeros_keep_the_contracts():
    # sgn's backward returns a ZeroTensor; layer_norm over one entry has an input gradient that is
    # round-off in one path and exactly 0 under vmap (the other input's gradient sets the scale).
    assert gt.check_function(torch.sgn, torch.randn(5, dtype=torch.float64)).passed
    layer_norm = lambda x, w, b: torch.nn.functional.layer_norm(x, (1,), w, b)  # noqa: E731
    inputs = [torch.randn(1, dtype=torch.float64) for _ in range(3)]
    report = gt.check_function(layer_norm, *inputs, modes="rev")
    assert report.passed and report.findings == (), report.summary()


def test_a_batching_rule_that_mixes_the_rows_is_named_and_does_not_spoil_the_differences():
    # torch.func's roll of a 0-d tensor rolls along the batch dimension (PyTorch 2.13): vmap of the
    # backward differs from a loop, and the check's own evaluations must not go through vmap.
    report = gt.check_function(
        lambda x: torch.roll(x, 10), torch.tensor(0.7, dtype=torch.float64), modes="rev"
    )
    assert [f.kind for f in report.findings] == ["contract"], report.summary()
    assert "vmap of the backward equals a loop" in report.findings[0].message
    assert report.settings.noise < 1e-15
