"""Shared frames for the watermark tests (built once per session: they cost ~0.1 s each)."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.safeguards.watermark import SpreadSpectrumWatermark
from soundstage.safeguards.watermark import samples

PAYLOAD = 0xD1CE_5EED_0BAD_F00D


@pytest.fixture(scope="session")
def engine() -> SpreadSpectrumWatermark:
    return SpreadSpectrumWatermark()


@pytest.fixture(scope="session")
def natural_1080p() -> np.ndarray:
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    return samples.natural_frame(1920, 1080, variant=0)


@pytest.fixture(scope="session")
def marked_1080p(engine: SpreadSpectrumWatermark, natural_1080p: np.ndarray) -> np.ndarray:
    return engine.embed(natural_1080p, PAYLOAD)
