"""The smallest gradient error a full check is sure to flag, per component.

A right gradient shows a discrepancy e = |g − D(h)| (truncation plus noise). A wrong one,
g(1 + δ), becomes suspicious and is refined at h/2, where three things change: the numerical
value (D(h/2) with auto steps; D(h) kept with a fixed eps), its round-off (doubled), and a new
truncation estimate |D(h) − D(h/2)|/(2^p − 1) joins the tolerance. Bounding each by what the
right-gradient run saw gives an error size that is flagged whatever the refinement finds, so
"detects relative errors above X" holds (tests/test_properties.py draws random problems to
try to break it).
"""

from __future__ import annotations

import numpy as np

from ._compare import SAFETY
from ._finite_differences import Estimates
from ._stencils import STENCILS

# Bound on the noise of the refined estimate D(h/2), in units of its round-off estimate 2r.
# r = σ·Σ|w|/h is at least √2 standard deviations of D(h) for these stencils, so 3·2r is more
# than four standard deviations of D(h/2): exceeded about once in 30 000 components.
NOISE_MARGIN = 3.0


def sure_error(
    method: str, nominal: bool, found: Estimates, tolerance: np.ndarray, seen: np.ndarray
) -> np.ndarray:
    """Per component, the absolute gradient error the check flags for sure.

    Args:
        method: the finite-difference method.
        nominal: the step was fixed by the user (the value at h is kept when refining).
        found: the estimates of the run with the right gradient.
        tolerance: that run's per-component tolerance (before SAFETY).
        seen: that run's discrepancy |g − D| (0 where it flagged).
    """
    unchanged = SAFETY * tolerance + seen  # the value and its tolerance stay as they are
    if method in ("richardson", "complex"):  # refinement adds kink tests only
        return unchanged
    r = found.roundoff
    gain = 2.0 ** STENCILS[method].order - 1
    noise = NOISE_MARGIN * 2 * r
    truncation = (2 * seen + noise) / gain  # bound on |D(h) − D(h/2)| / (2^p − 1)
    if nominal:
        refined = SAFETY * (tolerance + truncation * (gain + 1)) + seen
    else:
        refined = SAFETY * (tolerance + r + truncation) + seen + noise
    return np.where(found.refined, unchanged, refined)
