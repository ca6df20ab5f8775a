"""A bfloat16 kernel against its reference implementation, without a tolerance to tune.

Kernel tests usually compare a fused kernel's gradients with a plain implementation's under
hand-set bfloat16 atol/rtol, and get tuned each time they flake. Here the reference itself, run
in bfloat16, measures how far a correct bfloat16 implementation lands from the float64 truth;
the kernel is wrong where it misses the truth by more. No finite differences are taken.

Run:  python examples/kernel_reference.py
"""

import torch
from low_precision_kernel import RMSNorm

import gradcheck.torch


def rms_norm(x, weight):
    """The reference: RMSNorm in plain PyTorch, in whatever dtype it is given."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * weight


torch.manual_seed(1)
x = torch.randn(64, 512, dtype=torch.bfloat16, requires_grad=True)
weight = (1 + 0.1 * torch.randn(512)).to(torch.bfloat16).requires_grad_()

RMSNorm.stale = 1.0
report = gradcheck.torch.check_function(RMSNorm.apply, x, weight, reference=rms_norm)
print(report.summary())
assert report.passed and report.settings.strategy == "reference"

# 1 % off in d(weight): within the bfloat16 rtol (1.6e-2) torch.testing.assert_close would use,
# beyond what rounding explains here (the report states the factor it could see)
RMSNorm.stale = 1.01
report = gradcheck.torch.check_function(RMSNorm.apply, x, weight, reference=rms_norm)
print(report.summary())
assert not report.passed and report.wrong_tensors == ["inputs[1]"]
