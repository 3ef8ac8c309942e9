"""Reading one excerpt with several keys shares the work that uses no key (`audio.Sound`: the
resampling and the whitened band log-magnitudes at every speed): each key must get exactly what its
own `detect` gives, whichever key reads first, on unmarked sound, on sound marked with either key,
sped up (other speeds' work shared too), too short, and silent."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.errors import InputError
from soundstage.safeguards.watermark import audio_samples
from soundstage.safeguards.watermark.audio import AudioWatermark, Sound
from soundstage.testing import audio_attacks

RATE = 48_000


def _same(x, y) -> bool:
    return (x.found, x.payload, x.false_positive_rate, x.details) == (y.found, y.payload, y.false_positive_rate,
                                                                     y.details)


def test_a_shared_sound_reads_as_the_samples_themselves_for_every_key_in_either_order() -> None:
    a, b = AudioWatermark(b"a production key for shared audio reads"), AudioWatermark()
    line = audio_samples.speech_like(4.0, RATE, seed=31)
    faster, faster_rate = audio_attacks.speed(a.embed(line, RATE, 0xA5), RATE, 1.05)
    excerpts = {
        "unmarked": (line, RATE),
        "marked with A": (a.embed(line, RATE, 0xA1), RATE),
        "marked with B": (b.embed(line, RATE, 0xB1), RATE),
        "marked with A, 5% faster (read at another speed)": (faster, faster_rate),
        "too short": (line[: RATE // 2], RATE),
        "silence": (audio_samples.silence(3.0, RATE), RATE),
    }
    for name, (samples, rate) in excerpts.items():
        alone = a.detect(samples, rate), b.detect(samples, rate)
        first = Sound(samples, rate)
        ab = a.read(first), b.read(first)
        second = Sound(samples, rate)
        ba = b.read(second), a.read(second)
        assert _same(ab[0], alone[0]) and _same(ab[1], alone[1]), name
        assert _same(ba[1], alone[0]) and _same(ba[0], alone[1]), name
    assert a.read(Sound(*excerpts["marked with A"])).payload == 0xA1
    assert b.read(Sound(*excerpts["marked with B"])).payload == 0xB1
    seen = a.read(Sound(faster, faster_rate))
    assert seen.payload == 0xA5 and seen.details["speed"] != 1.0


def test_a_sound_refuses_bad_input_as_detect_does() -> None:
    with pytest.raises(InputError):
        Sound(np.zeros((10, 2, 2), np.float32), RATE)
    with pytest.raises(InputError):
        Sound(np.zeros(RATE, np.float32), 0)
