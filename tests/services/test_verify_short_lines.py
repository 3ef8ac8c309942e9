"""`soundstage verify` on a voice line replaced into a longer plate, its credentials stripped: the
audio mark lives only in the altered window (at least MIN_MARK_SECONDS, DR018), and reading the
whole head at once dilutes it below what the detector finds. ``verify`` also reads the head in
windows a marked window always fits in (DR017, amendment), so a short line is found by its mark."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.media.audio import write_audio
from soundstage.safeguards.watermark.audio import default_audio_engine
from soundstage.services.verify_service import verify_file
from soundstage.testing.fake_voice_server import speak
from soundstage.voice.job import mark_segment
from soundstage.voice.pcm import read_track, write_wav16
from soundstage.voice.replace import LineRange, replace_in_wav

RATE = 48000
PAYLOAD = 0x51A7E0D1


def plate(seconds: float) -> np.ndarray:
    """A production track: broadband room sound with a voice in it, as a location recording has."""
    rng = np.random.default_rng(11)
    spectrum = np.fft.rfft(rng.standard_normal(int(seconds * RATE)))
    room = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.arange(spectrum.shape[0]), 1.0)), n=int(seconds * RATE))
    room *= 0.05 / np.sqrt(np.mean(room ** 2))
    voice = np.tile(speak("We were never here, you understand", "noel-v1", rate=RATE), 8)[:room.shape[0]]
    return (room + 0.5 * np.pad(voice, (0, room.shape[0] - voice.shape[0])))[:, None].astype(np.float32)


@pytest.mark.parametrize("seconds, start", [(10.0, 4.2), (20.0, 15.0)])
def test_a_short_line_in_a_longer_plate_is_found_by_verify_with_its_credentials_stripped(tmp_path, seconds, start):
    """Marked with the public default key (what ``verify`` outside a workspace reads with), so the
    test reads the same samples every run."""
    src = write_wav16(tmp_path / "plate.wav", plate(seconds), RATE)
    no = speak("No.", "maya-v2", rate=16000)
    out = replace_in_wav(src, tmp_path / "adr.wav", LineRange(start, start + 0.5), no, 16000, crossfade=0.02,
                         mark=lambda segment, rate: mark_segment(segment, rate, PAYLOAD, None))
    lo, hi = out.segment
    samples, rate = read_track(out.path)
    engine = default_audio_engine(None)
    assert engine.detect(samples[int(lo * rate):int(hi * rate)], rate).found  # what the guard checks
    assert not engine.detect(samples, rate).found  # the whole head at once: diluted (why windows)
    write_audio(tmp_path / "stripped.wav", samples, rate)  # a bare WAV: no Content Credentials
    result = verify_file(tmp_path / "stripped.wav")
    wm = result["watermark"]
    assert wm["found"] and int(wm["payload"], 16) == PAYLOAD
    assert wm["window"][0] < hi and lo < wm["window"][1]  # it was read in a window over the marked one
    assert wm["false_positive_rate"] < 1e-5  # the union bound over every read


def test_an_unmarked_plate_is_reported_unmarked_after_the_windows_too(tmp_path):
    write_audio(tmp_path / "plate.wav", plate(10.0), RATE)
    wm = verify_file(tmp_path / "plate.wav")["watermark"]
    assert not wm["found"] and wm["payload"] is None and "window" not in wm


def test_every_span_a_short_line_is_marked_in_lies_whole_inside_one_window():
    from soundstage.services.verify_service import _audio_windows
    from soundstage.voice.replace import MIN_MARK_SECONDS

    rate = 1000
    need = int(np.ceil(MIN_MARK_SECONDS * rate))
    assert _audio_windows(2000, rate) == []  # one window's worth: the whole read was it
    for n in (need, 2001, 2749, 2750, 9999, 20000):
        windows = _audio_windows(n, rate)
        assert all(0 <= a < b <= n and b - a == 2000 for a, b in windows)
        for start in range(0, n - need + 1, 7):
            assert n <= 2000 or any(a <= start and start + need <= b for a, b in windows), (n, start)
