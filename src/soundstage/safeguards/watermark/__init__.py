"""Invisible watermarks: the soft binding between a frame and its ledger entry.

`SpreadSpectrumWatermark` (fast, 64-bit, every frame) is the default engine;
`RivaGanWatermark` (slow, 32-bit, stills/keyframes) is a second opinion.
"""

from typing import TYPE_CHECKING

from .protocol import Detection, WatermarkEngine, soft_binding_assertion
from .spread import ALG as SPREAD_ALG
from .spread import SpreadSpectrumWatermark

if TYPE_CHECKING:
    from .rivagan import RivaGanWatermark

__all__ = ["Detection", "WatermarkEngine", "SpreadSpectrumWatermark", "SPREAD_ALG", "soft_binding_assertion",
           "default_engine", "rivagan_engine"]


def default_engine() -> SpreadSpectrumWatermark:
    """The engine the guarded path uses for every generated or altered frame."""
    return SpreadSpectrumWatermark()


def rivagan_engine() -> "RivaGanWatermark":
    """The slow 32-bit RivaGAN engine (needs the invisible-watermark wheel's ONNX files)."""
    from .rivagan import RivaGanWatermark

    return RivaGanWatermark()
