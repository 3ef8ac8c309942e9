"""Review proxies: sizes fit (never upscaled, even sides), the PREVIEW band is burned into the pixels
and survives the production's watermark, and the band check tells a preview from a plain frame."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.media.preview import PROXY_MAX_SIDE, burn_label, downscale, fit_size, has_label_band


@pytest.mark.parametrize("size,side,expected", [((1920, 1080), 512, (512, 288)), ((320, 180), 512, (320, 180)),
                                                ((1081, 1921), 480, (270, 480)), ((3, 3), 512, (2, 2))])
def test_fit_size(size, side, expected):
    assert fit_size(*size, side) == expected


def test_fit_size_refuses_nothing():
    with pytest.raises(ValueError):
        fit_size(0, 10, 512)


def test_label_is_in_the_pixels_and_survives_the_mark():
    from soundstage.safeguards.watermark import default_engine

    rng = np.random.default_rng(1)
    frame = (rng.random((720, 1280, 3)) * 255).astype(np.uint8)
    small = downscale(frame, PROXY_MAX_SIDE)
    assert small.shape == (288, 512, 3)
    assert not has_label_band(small)
    labelled = burn_label(small)
    assert labelled.shape == small.shape and has_label_band(labelled)
    assert np.array_equal(labelled[100:], small[100:])  # only the band changed
    engine = default_engine(b"k" * 32)
    marked = engine.embed(labelled, 0x1234)
    assert has_label_band(marked)
    detected = engine.detect(marked)
    assert detected.found and detected.payload == 0x1234
