"""Shared frames for the watermark tests (built once per session: they cost ~0.1 s each)."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.safeguards.watermark import SpreadSpectrumWatermark
from soundstage.safeguards.watermark import samples

PAYLOAD = 0xD1CE_5EED_0BAD_F00D
#: natural frames the per-attack tests use: astronaut on coffee, a motorcycle garage filling the
#: frame, a cat on a dark launch pad (busy, flat and dark parts in each)
TEST_VARIANTS = (0, 4, 9)


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


@pytest.fixture(scope="session")
def marked_frames(engine: SpreadSpectrumWatermark) -> list[tuple[int, np.ndarray]]:
    """(payload, marked 1080p frame) for each of TEST_VARIANTS, each with its own payload."""
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    rng = np.random.default_rng(13)
    out = []
    for variant in TEST_VARIANTS:
        payload = int(rng.integers(0, 2**63)) * 2 + 1
        out.append((payload, engine.embed(samples.natural_frame(1920, 1080, variant=variant), payload)))
    return out
