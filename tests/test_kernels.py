"""PyTorch kernels in the precision they really run in: float32-only, bfloat16, float16, and a
kernel against its reference. The planted bugs are the issue's targets (``tests/kernels.py``);
``benchmarks/precision.py`` runs the same suite over 20 seeds side by side with the peers."""

import pytest

torch = pytest.importorskip("torch")

import gradcheck as gc  # noqa: E402
import gradcheck.torch as gt  # noqa: E402
import kernels as K  # noqa: E402

torch.set_num_threads(1)  # small kernels: threads only contend on a shared machine
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def run(name, dtype, seed=0, device="cpu", **bug):
    case = K.CASES[name]
    kind = {"only": dtype} if dtype == torch.float32 else {"cast": dtype}
    inputs = K.inputs(case, dtype, seed, device)
    return case, inputs, gt.check_function(K.kernel(case.fn, **kind, **bug), *inputs)


def test_a_float32_only_function_is_checked_in_float32_without_any_option():
    # It raises for float64 copies (as a Triton or CUDA kernel does): checked natively instead.
    case, inputs, report = run("dense", torch.float32)
    assert report.passed, report.summary()
    assert report.settings.precision == "native float32"
    assert report.settings.precision_reason.startswith("the function raised TypeError for float64 inputs")
    assert all(x.dtype == torch.float32 and x.grad is None for x in inputs)


@pytest.mark.parametrize("name", sorted(K.CASES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
def test_correct_low_precision_kernels_pass(name, dtype):
    _, _, report = run(name, dtype, seed=1)
    assert report.passed, report.summary()
    expected = "native " + str(dtype).removeprefix("torch.")
    assert report.settings.precision == expected


@pytest.mark.parametrize(
    "name, dtype, factor",
    [
        ("conv", torch.float32, 1.0003),  # the float32 target, through the torch adapter
        ("attention", torch.float32, 1.0003),
        ("dense", torch.bfloat16, 1.05),
        ("layer_norm", torch.bfloat16, 1.05),
        ("softmax_cross_entropy", torch.float16, 1.03),
        ("conv", torch.float16, 1.03),
    ],
)
def test_a_factor_on_a_weight_gradient_is_caught_and_named(name, dtype, factor):
    case, _, report = run(name, dtype, scale=(K.CASES[name].weight, factor))
    weight = f"inputs[{case.weight}]"
    assert not report.passed and report.wrong_tensors == [weight], report.summary()
    (finding,) = [f for f in report.findings if f.kind == "scale"]
    assert finding.tensor == weight and finding.value == pytest.approx(factor, rel=(factor - 1) / 3)


@pytest.mark.parametrize("name", ["dense", "attention"])
def test_a_zeroed_row_in_bfloat16_is_located(name):
    case, inputs, report = run(name, torch.bfloat16, zero_row=(K.CASES[name].rows, 0))
    target = f"inputs[{case.rows}]"
    assert not report.passed and report.wrong_tensors == [target], report.summary()
    (finding,) = [f for f in report.findings if f.kind == "zero_gradient"]
    row_size = inputs[case.rows][0].numel()
    assert f"{target}[0, :" in finding.message and f"{row_size} of its {row_size} entries" in finding.message


@pytest.mark.parametrize("name", ["dense", "attention"])
def test_a_kernel_against_its_reference(name):
    case = K.CASES[name]
    inputs = K.inputs(case, torch.bfloat16, 0)
    right = gt.check_function(K.kernel(case.fn, cast=torch.bfloat16), *inputs, reference=case.fn)
    assert right.passed and right.settings.strategy == "reference", right.summary()
    wrong = gt.check_function(
        K.kernel(case.fn, cast=torch.bfloat16, scale=(case.weight, 1.04)), *inputs, reference=case.fn
    )
    assert not wrong.passed and wrong.wrong_tensors == [f"inputs[{case.weight}]"], wrong.summary()
    assert {f.kind for f in wrong.findings} >= {"scale"}
    assert wrong.settings.evaluations < 100  # no finite differences: the loss is only probed (noise)


def test_precision_options_and_the_report_say_what_ran():
    case = K.CASES["layer_norm"]
    inputs = K.inputs(case, torch.float32, 0)
    report = gt.check_function(case.fn, *inputs)  # plain PyTorch: computes in float64 when given it
    assert report.settings.precision == "float64"
    assert "computes in float64 when given float64 inputs" in report.settings.precision_reason
    native = gt.check_function(case.fn, *inputs, precision="native")
    assert native.passed and native.settings.precision == "native float32"
    assert "precision: native float32 (precision='native' asked for)" in str(native)
    with pytest.raises(gc.OptionError, match="precision=.half."):
        gt.check_function(case.fn, *inputs, precision="half")


@pytest.mark.parametrize("device", DEVICES)
def test_a_bfloat16_module_is_evaluated_natively_on_its_device_and_left_untouched(device):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).to(
        device=device, dtype=torch.bfloat16
    )
    x = torch.randn(16, 6, device=device, dtype=torch.bfloat16)
    y = torch.randn(16, 3, device=device, dtype=torch.bfloat16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert gt.check_module(model, torch.nn.MSELoss(), x, y).settings.precision == "float64"  # plain layers
    report = gt.check_module(model, torch.nn.MSELoss(), x, y, precision="native")
    assert report.passed, report.summary()
    assert report.settings.precision == "native bfloat16"
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert all(
        p.dtype == torch.bfloat16 and p.device.type == device and p.grad is None for p in model.parameters()
    )
