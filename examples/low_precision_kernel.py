"""A bfloat16 RMSNorm kernel with a hand-written backward, checked in bfloat16.

The forward and backward run in bfloat16 with float32 statistics, as fused kernels do. A float64
check cannot run it as it runs (it casts down inside), and torch.autograd.gradcheck with its
float64 tolerances flags even the correct kernel. gradcheck sees that the kernel returns
bfloat16, checks it in bfloat16, and says how small an error it could have seen.

Run:  python examples/low_precision_kernel.py
"""

import torch

import gradcheck.torch


class RMSNorm(torch.autograd.Function):
    """y = x / rms(x) · weight in bfloat16; ``stale`` plants a leftover factor in d(weight)."""

    stale = 1.0

    @staticmethod
    def forward(ctx, x, weight):
        x, weight = x.to(torch.bfloat16), weight.to(torch.bfloat16)
        rstd = torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6)  # float32 statistics
        ctx.save_for_backward(x, weight, rstd)
        return (x.float() * rstd).to(torch.bfloat16) * weight

    @staticmethod
    def backward(ctx, dy):
        x, weight, rstd = ctx.saved_tensors
        xhat = x.float() * rstd
        dyw = dy.float() * weight.float()
        dx = rstd * (dyw - xhat * (dyw * xhat).mean(-1, keepdim=True))
        dweight = (dy.float() * xhat).sum(0) * RMSNorm.stale
        return dx.to(torch.bfloat16), dweight.to(torch.bfloat16)


def main() -> None:
    torch.manual_seed(0)
    x = torch.randn(32, 256, dtype=torch.bfloat16, requires_grad=True)
    weight = (1 + 0.1 * torch.randn(256)).to(torch.bfloat16).requires_grad_()

    report = gradcheck.torch.check_function(RMSNorm.apply, x, weight)
    print(report)
    assert report.passed and report.settings.precision == "native bfloat16"

    RMSNorm.stale = 1.05  # a forgotten factor of 1.05 in d(weight): 5 %, in bfloat16
    report = gradcheck.torch.check_function(RMSNorm.apply, x, weight)
    print(report.summary())
    assert not report.passed and report.wrong_tensors == ["inputs[1]"]


if __name__ == "__main__":
    main()
