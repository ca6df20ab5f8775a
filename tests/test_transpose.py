"""A swap of any two axes of equal length is named ``transpose``, by the full check and certify."""

import numpy as np
import pytest

import gradcheck as gc


def conv(channels=2, size=6, seed=7):
    """loss = Σ c·tanh(conv(x, K)) for a 3×3 kernel K of shape (3, 3, channels, channels)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, size, size, channels))
    out = size - 2
    c = rng.standard_normal((2, out, out, channels))
    kernel = rng.standard_normal((3, 3, channels, channels)) / 3

    def patches(x):  # (n, out, out, 3, 3, cin)
        return np.stack(
            [np.stack([x[:, i : i + out, j : j + out] for j in range(3)], 3) for i in range(3)], 3
        )

    def loss(p):
        return float(np.sum(c * np.tanh(np.einsum("nhwijc,ijcd->nhwd", patches(x), p["K"]))))

    def grad(p):
        z = np.einsum("nhwijc,ijcd->nhwd", patches(x), p["K"])
        return {"K": np.einsum("nhwijc,nhwd->ijcd", patches(x), c * (1 - np.tanh(z) ** 2))}

    return loss, {"K": kernel}, grad


def swapped(grad, first, second):
    return lambda p: {"K": np.swapaxes(grad(p)["K"], first, second).copy()}


@pytest.mark.parametrize("strategy", ["full", "certify"])
def test_a_conv_kernel_with_its_spatial_axes_swapped_is_a_transpose(strategy):
    loss, params, grad = conv()  # 36 entries: the "36 wrong entries"
    report = gc.check(loss, params, swapped(grad, 0, 1), strategy=strategy)
    (finding,) = report.findings
    assert (finding.kind, finding.tensor) == ("transpose", "K")
    assert "with axes 0 and 1 swapped" in finding.message and "np.swapaxes(grad, 0, 1)" in finding.message


def test_the_channel_axes_are_found_too():
    loss, params, grad = conv(channels=3)
    (finding,) = gc.check(loss, params, swapped(grad, 2, 3)).findings
    assert finding.kind == "transpose" and "axes 2 and 3" in finding.message


def test_certify_recognises_a_large_transposed_kernel_along_directions():
    loss, params, grad = conv(channels=12, size=8)  # 1,296 entries: too many to check one by one
    report = gc.check(loss, params, swapped(grad, 0, 1), strategy="certify")
    (finding,) = report.findings
    assert finding.kind == "transpose" and "axes 0 and 1" in finding.message
    assert report.components.size == 0  # no entry was checked one by one
    assert report.settings.evaluations < 300


def test_a_correct_kernel_passes_under_both_strategies():
    loss, params, grad = conv()
    assert gc.check(loss, params, grad).passed
    assert gc.check(loss, params, grad, strategy="certify").passed
