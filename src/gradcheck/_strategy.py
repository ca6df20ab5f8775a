"""Which check runs: every component ("full"), certify, or K random directions, and why.

``strategy="auto"`` runs the full check where it is cheap and certify above. Cheap means few
components or a full check of a few seconds, timed on the loss evaluations gradcheck made
before choosing (the determinism probe and the noise measurement).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ._diagnose import NOISY_LOSS
from ._options import Options

# Up to this many components the full check always runs: 2,000 evaluations, and the choice
# never depends on how busy the machine is.
AUTO_FULL_SIZE = 1000
# "A few seconds": above this estimated duration the full check gives way to certify.
AUTO_SECONDS = 3.0
# Up to this relative noise (float32's ε is 1.2e-7; 1e-6 leaves room for the cancellation of a
# sum) a central difference per component still resolves each entry to ~1e-4 (ε^(2/3)), so a
# noisy loss that is cheap to check gets the full check, with regression screens per tensor on
# top for the tensor-wide errors no entry shows. Above it (float16 ~1e-4, bfloat16 ~1e-3), or
# with bfloat16 or float16 params at all (a step of 8 of their ulps moves an entry by 3 % or
# 0.4 %, and their rounded intermediates make the loss a staircase that mimics kinks), single
# entries say little: the regression check runs instead.
PER_ENTRY_NOISE = 1e-6


@dataclass(frozen=True)
class Choice:
    """The check to run (``full``, ``certify``, ``directions`` or ``regression``), why, and K for
    directions."""

    name: str
    reason: str
    directions: int = 0
    screens: bool = False  # add per-tensor regression screens to the full check (noisy losses)


def choose(
    options: Options,
    size: int,
    seconds_per_evaluation: float,
    relative_noise: float = 0.0,
    coarse: bool = False,
) -> Choice:
    """The check to run for ``size`` components, with the reason the report shows.

    A loss whose measured noise is above float64's (``relative_noise`` > NOISY_LOSS: it is
    computed in float32, bfloat16 or float16) gets the regression check, which reaches that
    precision's limit; where the full check is cheap and single entries still tell (float32
    params, ``coarse`` False: no bfloat16 or float16 tensor), the full check with regression
    screens per tensor.
    """
    strategy, directions, method, eps = options.strategy, options.directions, options.method, options.eps
    noisy = (relative_noise > NOISY_LOSS or coarse) and strategy == "auto"
    if directions is not None:
        name = "regression" if noisy else "directions"
        return Choice(name, f"directions={directions} asked for", directions)
    if strategy != "auto":
        return Choice(strategy, f"strategy={strategy!r} asked for")
    if method != "central" or eps != "auto":
        return Choice("full", f"auto: method={method!r}, eps={eps!r} are per-component settings")
    if size <= AUTO_FULL_SIZE:
        full = Choice("full", f"auto: {size} components (≤ {AUTO_FULL_SIZE}) are checked one by one")
    elif 2 * size * seconds_per_evaluation <= AUTO_SECONDS:
        full = Choice(
            "full",
            f"auto: the full check of {size} components takes about {2 * size * seconds_per_evaluation:.1f} s",
        )
    else:
        full = None
    if noisy:
        return _low_precision(None if coarse else full, relative_noise, options.components is not None)
    if full is not None:
        return full
    estimate = 2 * size * seconds_per_evaluation
    return Choice(
        "certify",
        f"auto: a full check of {size} components would take about {estimate:.0f} s "
        f"({2 * size} evaluations); certify needs about a hundred",
    )


def _low_precision(full: Optional[Choice], relative_noise: float, sampled: bool) -> Choice:
    """The check of a noisy loss: full with screens where single entries still tell, else regression."""
    noise = f"the loss carries round-off noise of {relative_noise:.1e} relative"
    if sampled or (full is not None and relative_noise <= PER_ENTRY_NOISE):
        reason = full.reason if full is not None else "components asked for"
        return Choice(
            "full",
            f"{reason}; {noise}, so every tensor also gets regression screens for tensor-wide errors",
            screens=True,
        )
    return Choice(
        "regression",
        f"auto: {noise} (low precision): directional regressions over many steps reach its limit",
    )
