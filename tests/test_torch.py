"""The PyTorch adapter: autograd gradients (custom Functions too) against numerical ones."""

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402

import gradcheck as gc  # noqa: E402
import gradcheck.torch as gt  # noqa: E402

torch.set_num_threads(1)  # tiny models: threads only contend with each other on a shared machine


class Cube(torch.autograd.Function):
    """x³ with a hand-written backward; ``scale`` != 1 plants a bug."""

    scale = 1.0

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g * Cube.scale


class CubeLayer(torch.nn.Module):
    def forward(self, x):
        return Cube.apply(x)


def model_and_batch(*extra):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.Tanh(), *extra, torch.nn.Linear(6, 3)
    )
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    return model, x, y


def state(model):
    return {
        "params": {k: v.detach().clone() for k, v in model.named_parameters()},
        "grads": {k: None if v.grad is None else v.grad.clone() for k, v in model.named_parameters()},
        "buffers": {k: v.clone() for k, v in model.named_buffers()},
        "training": model.training,
        "dtype": next(model.parameters()).dtype,
        "rng": torch.get_rng_state(),
    }


def assert_same_state(before, after):
    for part in ("params", "buffers"):
        for key, value in before[part].items():
            assert torch.equal(value, after[part][key]), (part, key)
    for key, grad in before["grads"].items():
        assert (grad is None and after["grads"][key] is None) or torch.equal(grad, after["grads"][key]), key
    assert before["training"] == after["training"] and before["dtype"] == after["dtype"]
    assert torch.equal(before["rng"], after["rng"])


def test_a_correct_module_passes_and_components_are_named_by_named_parameters():
    model, x, y = model_and_batch()
    report = gt.check_module(model, torch.nn.CrossEntropyLoss(), x, y)
    assert report.passed, report.summary()
    names = [name for name, _ in model.named_parameters()]
    assert [row.name for row in report.tensors] == names + [f"fwd:{name}" for name in names]  # both modes
    assert report.component(list(report.components).index(3 * 4 + 2)).name == "0.weight[3, 2]"


def test_the_users_model_grads_buffers_and_rng_are_untouched():
    model, x, y = model_and_batch(torch.nn.Dropout(0.5))
    model[0].weight.grad = torch.ones_like(model[0].weight)  # a .grad the user already has
    before = state(model)
    gt.check_module(model, torch.nn.CrossEntropyLoss(), x, y)
    assert_same_state(before, state(model))


def test_dropout_in_train_mode_gets_a_fixed_mask_per_evaluation():
    model, x, y = model_and_batch(torch.nn.Dropout(0.5))
    assert gt.check_module(model, torch.nn.CrossEntropyLoss(), x, y).passed


def test_eval_mode_on_request_uses_running_statistics():
    model, x, y = model_and_batch(torch.nn.Dropout(0.5))
    model[1].running_mean.fill_(0.3)
    report = gt.check_module(model, torch.nn.CrossEntropyLoss(), x, y, eval_mode=True)
    assert report.passed and model.training


def test_a_wrong_custom_function_inside_a_module_is_found(monkeypatch):
    model, x, y = model_and_batch(CubeLayer())
    assert gt.check_module(model, torch.nn.CrossEntropyLoss(), x, y).passed
    monkeypatch.setattr(Cube, "scale", 1.01)
    report = gt.check_module(model, torch.nn.CrossEntropyLoss(), x, y)
    # 0.bias has no effect through BatchNorm (its gradient is 0 either way), so it stays right
    assert not report.passed and set(report.wrong_tensors) == {"0.weight", "1.weight", "1.bias"}


def test_vmapped_and_one_at_a_time_evaluations_agree():
    model, x, y = model_and_batch(torch.nn.Dropout(0.2))
    batched = gt.check_module(model, torch.nn.CrossEntropyLoss(), x, y)
    serial = gt.check_module(model, torch.nn.CrossEntropyLoss(), x, y, batched_loss=None)
    np.testing.assert_allclose(batched.numerical, serial.numerical, rtol=1e-7, atol=1e-9)


def probe_results(monkeypatch):
    """The answers of the probe that decides whether the check evaluates through vmap."""
    seen, probe = [], gt._rows_kept_apart
    monkeypatch.setattr(gt, "_rows_kept_apart", lambda *args: seen.append(probe(*args)) or seen[-1])
    return seen


def test_dropout_in_train_mode_keeps_the_check_vmapped(monkeypatch):
    seen = probe_results(monkeypatch)
    model, x, y = model_and_batch(torch.nn.Dropout(0.5))
    assert gt.check_module(model, torch.nn.CrossEntropyLoss(), x, y, modes="rev").passed
    assert seen == [True]  # batched rows and single calls draw the same mask


class DoubleMixingRows(torch.autograd.Function):
    """2x, with a vmap rule that reverses the batch: under vmap each row gets another's value."""

    @staticmethod
    def forward(x):
        return 2 * x

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, g):
        return 2 * g

    @staticmethod
    def vmap(info, in_dims, x):
        moved = x.movedim(in_dims[0], 0)
        return 2 * moved.flip(0), 0


def test_a_vmap_rule_that_mixes_rows_sends_the_check_one_call_at_a_time(monkeypatch):
    seen = probe_results(monkeypatch)
    x = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    report = gt.check_function(
        lambda x: torch.sin(DoubleMixingRows.apply(x)), x, modes="rev", contracts=False
    )
    assert seen == [False] and report.passed and report.settings.noise < 1e-14, report.summary()


def test_check_function_with_a_non_scalar_output(monkeypatch):
    x = torch.randn(3, 2, dtype=torch.float32, requires_grad=True)
    assert gt.check_function(Cube.apply, x).passed
    monkeypatch.setattr(Cube, "scale", -1.0)
    report = gt.check_function(Cube.apply, x)
    assert not report.passed and report.wrong_tensors == ["inputs[0]"]
    assert x.grad is None and x.dtype == torch.float32


def test_check_function_checks_only_inputs_that_require_grad():
    a, b = torch.randn(3, requires_grad=True), torch.randn(3)
    report = gt.check_function(torch.mul, a, b)
    assert report.passed and [row.name for row in report.tensors] == ["inputs[0]", "fwd:inputs[0]"]


def test_model_must_be_a_module():
    with pytest.raises(gc.OptionError, match="pass a torch.nn.Module"):
        gt.check_module(lambda x: x, torch.nn.MSELoss(), torch.randn(2))


@pytest.mark.parametrize("middle", [torch.nn.Tanh(), torch.nn.LayerNorm(6)], ids=["rank-one", "general"])
def test_layer_by_layer_sequential_evaluation_matches_the_plain_forward(middle):
    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 6), middle, torch.nn.Linear(6, 5), torch.nn.Sigmoid(), torch.nn.Linear(5, 2)
    )
    x, y = torch.randn(16, 4), torch.randn(16, 2)
    assert gt.SequentialPlan.applies(torch, model, (x, y))
    layered = gt.check_module(model, torch.nn.MSELoss(), x, y)
    serial = gt.check_module(model, torch.nn.MSELoss(), x, y, batched_loss=None)
    assert layered.passed
    np.testing.assert_allclose(layered.numerical, serial.numerical, rtol=1e-7, atol=1e-10)


def test_single_entry_changes_are_evaluated_in_several_chunks(monkeypatch):
    """The vmap core splits a leaf's single-entry changes into chunks of bounded memory."""
    import gradcheck.torch as adapter

    monkeypatch.setattr(adapter, "CHUNK_BYTES", 1)  # one change per call
    x = torch.linspace(-1, 1, 7, dtype=torch.float64).requires_grad_()
    report = adapter.check_function(torch.sin, x, modes="rev")
    assert report.passed and report.tensors[0].checked == 7
