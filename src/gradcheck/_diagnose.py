"""Turn a comparison into findings a person can act on."""

from __future__ import annotations

import numpy as np

from ._report import Finding
from ._tree import Layout

# float32 arithmetic leaves a loss noisy at ≥ 1e-8 of its value (ε₃₂ ≈ 1.2e-7, averaged by
# sums); float64 at ~1e-16 (ε₆₄), 1e-12 at worst after heavy cancellation. 1e-10 sits between
# them with two orders of margin each way, so only precision that really limits the check is told.
NOISY_LOSS = 1e-10
EXAMPLES = 3


def kink_findings(layout: Layout, components: np.ndarray, kink: np.ndarray) -> list[Finding]:
    """One finding per tensor with components on a kink (ReLU, max, abs) within the step."""
    findings = []
    ids = layout.tensor_ids()[components]
    for position, tensor in enumerate(layout.tensors):
        hits = components[kink & (ids == position)]
        if hits.size == 0:
            continue
        names = tuple(tensor.component_name(int(i) - tensor.offset) for i in hits[:EXAMPLES])
        findings.append(
            Finding(
                "kink",
                tensor.name,
                f"{hits.size} component(s) of {tensor.name} sit on a kink (ReLU, max, abs or "
                f"max-pool tie) within the finite-difference step, e.g. {', '.join(names)}; "
                f"their one-sided derivatives differ, so they are left out of the verdict",
                names,
                float(hits.size),
            )
        )
    return findings


def precision_finding(noise: float, loss_value: float, detection_limit: float) -> list[Finding]:
    """A finding when the loss's round-off noise limits what the check can see."""
    relative = noise / abs(loss_value) if loss_value else 0.0
    if relative <= NOISY_LOSS:
        return []
    return [
        Finding(
            "precision",
            None,
            f"the loss carries round-off noise of {relative:.1e} relative to its value (float64 "
            f"carries 1e-16, float32 1e-7), so this check can only detect gradient errors above "
            f"{detection_limit:.1e} relative; run the check in float64 if your code allows it",
            (),
            detection_limit,
        )
    ]
