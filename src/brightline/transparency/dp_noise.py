"""The noise of private figures, drawn by OpenDP (https://opendp.org).

Counts and histograms of whole numbers get OpenDP's discrete Laplace mechanism
(``make_laplace`` over integers: the geometric mechanism, two-sided), with the smallest
scale whose privacy map OpenDP proves gives at most the ε asked for at the sensitivity
asked (``binary_search_param``). OpenDP samples from a cryptographically secure source
and offers no seed: nobody, the provider included, can replay or steer a draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from brightline.transparency.private_figures import Drawn


class OpenDPNoise:
    """:class:`~brightline.transparency.private_figures.Noise` by OpenDP."""

    def __init__(self) -> None:
        import opendp.prelude as dp

        # The discrete Laplace mechanism is in OpenDP's "contrib" set (proved, and
        # vetted less than its core); enabling it is the library's documented way in.
        dp.enable_features("contrib")
        self._version = _version()

    @property
    def name(self) -> str:
        return f"opendp {self._version}: make_laplace over integers (discrete Laplace)"

    def __call__(self, true: Sequence[int], *, epsilon: float, sensitivity: int) -> Drawn:
        scale, measurement = _calibrated(len(true), float(epsilon), int(sensitivity))
        noisy = measurement(list(true))
        return Drawn(
            noisy=tuple(int(v) for v in noisy),
            scale=scale,
            epsilon=float(measurement.map(sensitivity)),
        )


def _version() -> str:
    from importlib.metadata import version

    return version("opendp")


@cache
def _calibrated(size: int, epsilon: float, sensitivity: int) -> tuple[float, Any]:
    """The scale and OpenDP measurement for vectors of ``size`` whole numbers."""
    import opendp.prelude as dp

    space = (dp.vector_domain(dp.atom_domain(T=int), size=size), dp.l1_distance(T=int))

    def make(scale: float) -> Any:
        return dp.m.make_laplace(*space, scale=scale)

    scale = float(dp.binary_search_param(make, d_in=sensitivity, d_out=epsilon))
    return scale, make(scale)
