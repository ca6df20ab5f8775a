"""Check a PyTorch model, and a custom autograd.Function, with `gradcheck.torch`.

Install the extra first: pip install "gradcheck[torch]" (PyTorch pinned to torch==2.13.0).
The check runs on a float64 copy: the model, its .grad, BatchNorm statistics and the RNG
state are untouched.
"""

import torch

import gradcheck.torch

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
report = gradcheck.torch.check_module(model, torch.nn.CrossEntropyLoss(), x, y)
print(report.summary())
assert report.passed


class LeakyClamp(torch.autograd.Function):
    """A custom op: clamp to [-1, 1] with slope 0.1 outside."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x.abs() <= 1, x, torch.sign(x) + 0.1 * (x - torch.sign(x)))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # Not torch.where(..., 1.0, 0.1): Python scalars there make a float32 tensor, and 0.1
        # rounded to float32 is off by 1.5e-8 relative, which gradcheck reports as wrong.
        return grad * torch.where(x.abs() <= 1, torch.ones_like(x), torch.full_like(x, 0.1))


class WrongLeakyClamp(LeakyClamp):
    @staticmethod
    def backward(ctx, grad):  # forgets the 0.1 outside [-1, 1]
        (x,) = ctx.saved_tensors
        return grad * torch.ones_like(x)


inputs = 3 * torch.randn(20, dtype=torch.float64, requires_grad=True)
right = gradcheck.torch.check_function(LeakyClamp.apply, inputs)
wrong = gradcheck.torch.check_function(WrongLeakyClamp.apply, inputs)
print(wrong.summary())
assert right.passed and not wrong.passed
