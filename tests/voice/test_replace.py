"""Line replacement inside a plate's audio: picture and the audio outside the range untouched."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from soundstage.errors import InputError
from soundstage.testing.sample_media import write_plate
from soundstage.voice.pcm import read_track, write_wav16
from soundstage.voice.replace import (
    MIN_MARK_SECONDS, LineRange, marked_window, parse_time, replace_in_clip, replace_in_wav, splice, with_handle,
)

RATE = 48000


def frames(n=36, w=128, h=96):
    ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
    return [np.clip(ramp + 3 * i, 0, 255).astype(np.uint8).repeat(h, 0).repeat(3, 2) for i in range(n)]


def video_packets(path):
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def line(seconds=0.5, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * 210 * t) * np.sin(2 * np.pi * 3 * t)).astype(np.float32)


def marker(calls):
    def mark(segment, rate):
        calls.append((segment.shape, rate))
        return segment * 0.5  # a stand-in the test can see: only the range is touched
    return mark


def test_wav_every_byte_outside_the_range_is_the_sources(tmp_path):
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(2 * RATE) / RATE)).astype(np.float32)
    src = write_wav16(tmp_path / "dialogue.wav", np.stack([tone, -tone], 1), RATE)
    calls = []
    out = replace_in_wav(src, tmp_path / "out.wav", LineRange(0.5, 1.8), line(), 16000, crossfade=0.02,
                         mark=marker(calls))
    a, b = src.read_bytes(), out.path.read_bytes()
    first, last = 44 + int(0.5 * RATE) * 4, 44 + int(1.8 * RATE) * 4
    assert len(a) == len(b) and a[:first] == b[:first] and a[last:] == b[last:]
    assert a[first:last] != b[first:last]
    assert calls == [((int(1.3 * RATE), 2), RATE)]  # the mark saw the altered segment only
    assert out.segment == (0.5, 1.8)


def test_a_range_too_short_for_the_mark_is_marked_with_the_plate_around_it(tmp_path):
    """"No." in 0.4 s: the mark needs MIN_MARK_SECONDS, so it goes into a window widened evenly into
    the plate's own audio; outside that window every byte is the source's, inside it but outside the
    range only the mark changed anything, and the window is the altered segment the guard checks."""
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(3 * RATE) / RATE)).astype(np.float32)
    src = write_wav16(tmp_path / "dialogue.wav", np.stack([tone, -tone], 1), RATE)
    calls = []
    out = replace_in_wav(src, tmp_path / "out.wav", LineRange(1.0, 1.4), line(0.3), 16000, crossfade=0.02,
                         mark=marker(calls))
    lo, hi = out.segment
    assert hi - lo == pytest.approx(MIN_MARK_SECONDS, abs=1 / RATE) and lo < 1.0 and hi > 1.4
    assert (1.0 - lo) == pytest.approx(hi - 1.4, abs=2 / RATE)  # widened evenly
    assert calls == [((int(round(hi * RATE)) - int(round(lo * RATE)), 2), RATE)]
    before, after = read_track(src)[0], read_track(out.path)[0]
    i, j = int(round(lo * RATE)), int(round(hi * RATE))
    assert np.array_equal(before[:i], after[:i]) and np.array_equal(before[j:], after[j:])
    a = int(1.0 * RATE)
    assert np.allclose(after[i:a], np.round(before[i:a] * 0.5 * 32768) / 32768, atol=1 / 32768)  # the mark only


def test_the_window_meets_the_plates_ends_and_a_plate_too_short_is_refused():
    rate = 1000
    need = int(np.ceil(MIN_MARK_SECONDS * rate))
    assert marked_window(0, 100, 5000, rate) == (0, need)  # at the start: it grows forward
    assert marked_window(4900, 5000, 5000, rate) == (5000 - need, 5000)  # at the end: backward
    assert marked_window(1000, 1000 + need + 5, 5000, rate) == (1000, 1000 + need + 5)  # long enough: itself
    with pytest.raises(InputError, match="the audio mark needs"):
        marked_window(100, 300, need - 1, rate)


def test_the_window_always_holds_the_range_inside_the_plate_and_is_exactly_as_long_as_the_mark_needs():
    """Every short range of plates from exactly the mark's length up: the window holds the whole
    range, stays inside the plate and is exactly MIN_MARK_SECONDS long (nothing outside it changes)."""
    rate = 1000
    need = int(np.ceil(MIN_MARK_SECONDS * rate))
    for total in (need, need + 1, need + 7, 3 * need):
        for a in range(0, total, 37):
            for length in (0, 1, 50, need - 1):
                b = min(total, a + length)
                lo, hi = marked_window(a, b, total, rate)
                assert 0 <= lo <= a <= b <= hi <= total and hi - lo == need, (total, a, b, lo, hi)
    assert marked_window(10, 20, need, rate) == (0, need)  # a plate exactly the mark's length: all of it


def test_a_plate_too_short_for_the_mark_writes_nothing(tmp_path):
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(int(RATE * MIN_MARK_SECONDS) - 10) / RATE)).astype(np.float32)
    src = write_wav16(tmp_path / "short.wav", tone[:, None], RATE)
    calls = []
    with pytest.raises(InputError, match="the audio mark needs"):
        replace_in_wav(src, tmp_path / "out.wav", LineRange(0.2, 0.6), line(0.3), 16000, crossfade=0.02,
                       mark=marker(calls))
    assert calls == [] and not (tmp_path / "out.wav").exists()


def test_the_room_tone_handle_is_the_seeds_alone():
    """The handle is a function of the seed (the job's mark payload), nothing a client sends: the
    same seed gives the same samples, another seed other ones."""
    short = line(0.4, RATE)[:, None]
    first, again, other = (with_handle(short, RATE, seed=s) for s in (7, 7, 8))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert np.array_equal(with_handle(short, RATE, seed=2**64 + 7), first)  # a seed is taken mod 2**64


def test_a_line_with_no_plate_gets_a_quiet_room_tone_handle_to_carry_the_mark():
    short = line(0.4, RATE)[:, None]
    padded = with_handle(short, RATE, seed=7)
    assert padded.shape == (int(np.ceil(MIN_MARK_SECONDS * RATE)), 1)
    assert np.array_equal(padded[:short.shape[0]], short)  # the line itself untouched
    tail = padded[short.shape[0] + RATE // 100:]
    assert 20 * np.log10(np.sqrt(np.mean(tail.astype(np.float64) ** 2))) == pytest.approx(-60, abs=1.5)
    assert np.array_equal(with_handle(padded, RATE, seed=7), padded)  # long enough: as it is


def test_clip_video_packets_identical_and_pcm_outside_the_range_exact(tmp_path):
    plate = write_plate(tmp_path / "A001_C005.mp4", frames(), fps=Fraction(24))
    calls = []
    out = replace_in_clip(plate, tmp_path, "A001_C005_adr.mp4", LineRange(0.3, 1.0), line(), 16000,
                          crossfade=0.02, mark=marker(calls))
    assert video_packets(plate) == video_packets(out.path) and len(video_packets(out.path)) == 36
    # AAC plate: the track is rebuilt as float PCM, so the source decoder's samples stay exact
    assert out.audio_codec == "pcm_f32le" and out.path.suffix == ".mov"
    before, rate = read_track(plate)
    after, rate2 = read_track(out.path)
    a, b = int(round(out.segment[0] * rate)), int(round(out.segment[1] * rate))  # widened for the mark
    assert out.segment[0] < 0.3 and out.segment[1] > 1.0
    assert rate == rate2 and before.shape == after.shape
    assert np.array_equal(before[:a], after[:a]) and np.array_equal(before[b:], after[b:])
    assert not np.allclose(before[a:b], after[a:b])
    # a PCM plate keeps its own codec, sample-exact outside the range
    (tmp_path / "second").mkdir()
    again = replace_in_clip(out.path, tmp_path / "second", "second.mov", LineRange(1.1, 1.4), line(0.2), 16000, crossfade=0.01, mark=lambda s, r: s)
    third, _ = read_track(again.path)
    c, d = int(1.1 * rate), int(1.4 * rate)
    assert again.audio_codec == "pcm_f32le" and np.array_equal(third[:c], after[:c])
    assert np.array_equal(third[d:], after[d:])
    assert video_packets(again.path) == video_packets(plate)


def test_splice_crossfades_and_level_matches():
    original = np.full((1000, 1), 0.3, np.float32)
    new = splice(original, np.full((500, 1), 0.9, np.float32), 100)
    assert new[0, 0] == pytest.approx(0.3, abs=1e-3) and new[-1, 0] == pytest.approx(0.3, abs=0.01)
    rms_line = float(np.sqrt(np.mean(new[100:500] ** 2)))
    assert rms_line == pytest.approx(0.3, rel=1e-4)  # the line (0.9) brought to the RMS of what it replaces
    assert np.all(np.abs(new[520:880]) < 1e-6)  # after the line: the old line is gone


def test_timecodes_and_bad_ranges(tmp_path):
    assert parse_time("1.5") == 1.5 and parse_time("00:01:02.5") == 62.5
    assert parse_time("05:00:13:12", fps=Fraction(24), start_timecode="05:00:12:00") == pytest.approx(1.5)
    with pytest.raises(InputError, match="before the plate starts"):
        parse_time("05:00:11:00", fps=Fraction(24), start_timecode="05:00:12:00")
    with pytest.raises(InputError, match="not seconds"):
        parse_time("soon")
    src = write_wav16(tmp_path / "d.wav", np.zeros(RATE, np.float32), RATE)
    for rng, message in ((LineRange(0.5, 0.4), "before it starts"), (LineRange(0.5, 1.5), "lasts 1.000 s"),
                         (LineRange(0.1, 0.3), "longer than the")):
        with pytest.raises(InputError, match=message):
            replace_in_wav(src, tmp_path / "o.wav", rng, line(0.5), 16000, crossfade=0.02, mark=lambda s, r: s)
    assert not (tmp_path / "o.wav").exists()  # nothing half-written
