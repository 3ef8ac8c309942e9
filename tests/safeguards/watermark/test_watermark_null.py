"""No false positives: at least 300 unmarked pictures (photos cut, flipped, turned, rescaled and
compressed; whole frames at delivery sizes; generated textures, periodic ones included) give
no detection, and the validation statistic stays inside its tail bound."""

from __future__ import annotations

import math

import numpy as np
import pytest

from soundstage.safeguards.watermark import SpreadSpectrumWatermark, ecc, samples
from soundstage.safeguards.watermark.spread import MAX_VALIDATIONS, SYNC_ALONE_P, _validation_p


@pytest.mark.slow
def test_no_false_positive_on_300_unmarked_pictures() -> None:
    pytest.importorskip("skimage.data")
    engine = SpreadSpectrumWatermark(b"a production key for the null study")
    pictures = list(samples.unmarked_pictures(300, seed=29))
    assert len(pictures) == 300 and len({name for name, _ in pictures}) > 250
    zs = []
    for name, picture in pictures:
        result = engine.detect(picture)
        assert not result.found and result.payload is None, (name, result.details)
        zs.append(result.details.get("validation_z", 0.0))
    zs = np.array(zs)
    # the best of up to MAX_VALIDATIONS validated points per picture: its tail is bounded by
    # MAX_VALIDATIONS * exp(-z^2 / 2); the empirical tail must sit under it
    for t in (2.5, 3.0, 3.5, 4.0):
        assert float(np.mean(zs >= t)) <= min(1.0, MAX_VALIDATIONS * math.exp(-t * t / 2)) + 0.02, t


@pytest.mark.slow
def test_no_false_positive_on_unmarked_clips() -> None:
    """A clip gets three readings (the static fold, the per-frame combination, and since DR015's
    fifteenth pass its mean frame read with every search a still gets): 40 unmarked 6-frame pans
    across unmarked pictures give none (300 in bench/watermark.py --null-clips: 0 found)."""
    pytest.importorskip("skimage.data")
    engine = SpreadSpectrumWatermark(b"a production key for the null study")
    means = 0
    for name, clip in samples.unmarked_clips(40, seed=31, frames=6):
        result = engine.detect_frames(clip)
        assert not result.found and result.payload is None, (name, result.details)
        means += result.details.get("mode") == "mean"
    assert means >= 20      # the mean frame's read is what most of them reported: it ran


def test_the_tail_bound_is_conservative_for_gaussian_sums() -> None:
    """exp(-z^2/2) bounds the Gaussian tail (and the sub-Gaussian sum of cosines it is used for)."""
    for z in (1.0, 2.0, 3.0, 5.0, 8.0):
        gaussian_tail = 0.5 * math.erfc(z / math.sqrt(2))
        assert gaussian_tail <= _validation_p(z)
    assert _validation_p(-1.0) == 1.0
    # Monte Carlo: sums of |g| cos(uniform phase) with uneven sizes, standardised as the detector does
    rng = np.random.default_rng(0)
    g = rng.uniform(0.2, 2.0, 129)
    phases = rng.uniform(0, 2 * np.pi, (200_000, 129))
    z = (g * np.cos(phases)).sum(axis=1) / math.sqrt(float((g * g).sum()) / 2)
    for t in (2.0, 3.0, 3.5):
        assert float(np.mean(z >= t)) <= _validation_p(t)


def test_the_whole_rule_stays_under_one_in_a_million() -> None:
    """Decoding: every tier at its gate, all validated points together. "Marked, unreadable":
    the validation alone at SYNC_ALONE_P after the union factor."""
    assert ecc.soft_false_positive_bound() < 1e-6
    assert SYNC_ALONE_P <= 1e-6
