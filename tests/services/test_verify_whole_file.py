"""`soundstage verify` reads the watermark over a file's whole length, not only its head: a marked
shot cut into a longer film at 6 s, a marked voice line at 41 s of a minute of sound, are found with
their credentials stripped (there are none: bare H.264 and WAV/MP3), and say where. The reads are
bounded by our constants whatever the file's length, and the false-positive rate reported is the
union bound over all of them (docs/design/watermark.md, "Verification reads")."""

from __future__ import annotations

import math

import pytest

from soundstage.media.audio import write_audio
from soundstage.media.video import iter_frames
from soundstage.safeguards.watermark import default_engine
from soundstage.safeguards.watermark.audio import default_audio_engine, false_positive_bound
from soundstage.services import verify_service
from soundstage.services.verify_service import (
    AUDIO_SCAN_HOP_SECONDS, AUDIO_SCAN_WINDOW_SECONDS, MAX_AUDIO_SCAN_WINDOWS, MAX_VIDEO_SPANS, VIDEO_SPAN_FRAMES,
    _audio_grid, _audio_grid_count, _audio_grid_first, _audio_scan_windows, _audio_windows, _video_span_starts,
    not_found_line, verify_file,
)
from soundstage.testing.sample_media import spliced_line, write_spliced_clip

PAYLOAD = 0x5EC0DE0F1A7E
RATE = 16_000


@pytest.fixture(scope="module")
def spliced_clip(tmp_path_factory):
    """10 s of unmarked H.264 (24 fps, 320x180) with a marked 2 s shot at 6 s."""
    return write_spliced_clip(tmp_path_factory.mktemp("clip") / "film.mp4", PAYLOAD, seconds=10.0, at=6.0)


@pytest.mark.slow
def test_a_marked_shot_cut_into_a_longer_film_is_found_with_where_it_is(spliced_clip):
    ticks: list[tuple[int, int]] = []
    result = verify_file(spliced_clip, progress=lambda done, total: ticks.append((done, total)))
    wm = result["watermark"]
    assert wm["found"] and int(wm["payload"], 16) == PAYLOAD and wm["key"] == "public default"
    assert wm["window"] == [6.0, 8.0]  # the fourth 48-frame span: the shot itself
    assert wm["reads"] == 4 and ticks == [(1, 5), (2, 5), (3, 5)]  # spans 1-3 read, the 4th found it
    # the union bound: the found read's own rate (the same frames, read alone) times the reads made
    frames = list(iter_frames(spliced_clip))[144:192]
    alone = default_engine(None).detect_frames(frames)
    assert alone.found and alone.false_positive_rate > 0
    assert wm["false_positive_rate"] == pytest.approx(alone.false_positive_rate * 4)
    assert wm["confidence"] == 1.0 - wm["false_positive_rate"]
    assert "Content Credentials" in result["verdict"] and "watermark is present" in result["verdict"]


@pytest.mark.slow
def test_a_shot_marked_with_the_public_key_past_the_head_is_found_in_a_production_workspace(spliced_clip):
    """Every span is read with both keys (the production's, then the public default one, in one pass
    over its frames): a shot marked before the production had its key, cut in at 6 s, is found where
    it is. Until the twelfth pass (DR015) the spans after the head were read with the first key only."""
    wm = verify_service.detect_watermark(spliced_clip, b"this production's own key, not the mark's")
    assert wm["found"] and int(wm["payload"], 16) == PAYLOAD and wm["key"] == "public default"
    assert wm["window"] == [6.0, 8.0]
    assert wm["reads"] == 8    # spans 1-3 with both keys, then the 4th: the production key, the public one found it


@pytest.mark.slow
def test_a_shot_marked_with_the_production_key_is_found_with_it(tmp_path):
    key = b"this production's own key, and the mark's"
    clip = write_spliced_clip(tmp_path / "film.mp4", PAYLOAD, key=key, seconds=6.0, at=2.0)
    wm = verify_service.detect_watermark(clip, key)
    assert wm["found"] and int(wm["payload"], 16) == PAYLOAD and wm["key"] == "production"
    assert wm["window"] == [2.0, 4.0] and wm["reads"] == 3    # the head with both keys, then span 2's first


def test_the_head_alone_does_not_hold_the_spliced_mark(spliced_clip):
    """What `verify` read before (the first 48 frames): nothing, so the test above needs the spans."""
    head = list(iter_frames(spliced_clip, max_frames=48))
    assert not default_engine(None).detect_frames(head).found


@pytest.mark.slow
def test_an_unmarked_long_clip_is_read_in_at_most_max_video_spans(tmp_path):
    clip = write_spliced_clip(tmp_path / "long.mp4", PAYLOAD, seconds=40.0, marked_seconds=0.0, width=96,
                              height=64, crf=30)
    ticks: list[tuple[int, int]] = []
    wm = verify_file(clip, progress=lambda done, total: ticks.append((done, total)))["watermark"]
    assert not wm["found"] and wm["payload"] is None and "window" not in wm
    # 40 s is 20 spans of 2 s: more than the bound, so MAX_VIDEO_SPANS evenly spaced ones are read
    assert wm["reads"] == MAX_VIDEO_SPANS
    assert ticks[-1] == (MAX_VIDEO_SPANS, MAX_VIDEO_SPANS)


@pytest.mark.parametrize("duration", [10.0, 31.9, 32.0, 33.0, 600.0, 7200.0, 1e9])
def test_video_spans_cover_a_short_clip_and_stay_bounded_on_a_long_one(duration):
    span = VIDEO_SPAN_FRAMES / 24
    starts = _video_span_starts(duration, span)
    assert starts[0] == 0.0 and len(starts) <= MAX_VIDEO_SPANS  # the head first; never more than the bound
    assert starts == sorted(starts) and starts[-1] + span == pytest.approx(duration, abs=1e-3)  # the last ends it
    if math.ceil(duration / span) <= MAX_VIDEO_SPANS:  # short enough: every frame is in a span
        assert all(b - a <= span + 1e-9 for a, b in zip(starts, starts[1:]))
    else:
        assert len(starts) == MAX_VIDEO_SPANS


def test_a_clip_whose_header_gives_no_duration_is_read_at_its_head():
    assert _video_span_starts(None, 2.0) == [0.0] and _video_span_starts(float("nan"), 2.0) == [0.0]


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_a_marked_line_at_41_s_of_a_minute_of_sound_is_found(tmp_path, suffix):
    track = spliced_line(PAYLOAD, seconds=60.0, at=41.0, rate=RATE)
    path = write_audio(tmp_path / f"mix{suffix}", track, RATE)
    assert not default_audio_engine(None).detect(track[: 20 * RATE], RATE).found  # the head has no mark
    wm = verify_file(path)["watermark"]
    assert wm["found"] and int(wm["payload"], 16) == PAYLOAD
    start, end = wm["window"]
    assert end - start == pytest.approx(AUDIO_SCAN_WINDOW_SECONDS) and start < 43.0 and 41.0 < end
    # read after the head: its whole read and its 25 windows (0, 0.75 ... 18 s), then 2 s windows from 18.75 s on
    assert len(_audio_windows(20 * RATE, RATE)) == 25
    assert wm["reads"] == 1 + 25 + round((start - 18.75) / AUDIO_SCAN_HOP_SECONDS) + 1
    assert wm["false_positive_rate"] == pytest.approx(false_positive_bound() * wm["reads"])  # each read's bound
    assert wm["confidence"] == 1.0 - wm["false_positive_rate"] < 1.0


@pytest.mark.slow
def test_a_line_marked_with_the_public_key_past_the_head_is_found_in_a_production_workspace(tmp_path):
    """Every window is read with both keys (one `audio.Sound` each): a line marked before the production
    had its key, at 24 s of half a minute, is found there. Until the shared reads (DR017 amendment)
    the windows were read with the first key only."""
    track = spliced_line(PAYLOAD, seconds=30.0, at=24.0, rate=RATE)
    path = write_audio(tmp_path / "mix.wav", track, RATE)
    wm = verify_service.detect_watermark(path, b"this production's own key, not the line's")
    assert wm["found"] and int(wm["payload"], 16) == PAYLOAD and wm["key"] == "public default"
    start, end = wm["window"]
    assert start >= 18.75 and start < 26.0 and 24.0 < end
    # every excerpt read with both keys: the head whole, its 25 windows, the windows after it; the
    # last excerpt with the production key, then the public one that found it
    assert wm["reads"] == 2 * (1 + 25 + round((start - 18.75) / AUDIO_SCAN_HOP_SECONDS) + 1)


@pytest.mark.slow
def test_an_unmarked_long_sound_file_is_read_in_a_bounded_number_of_windows(tmp_path, monkeypatch):
    """Ten minutes with the bound lowered to 6 windows (the real one costs half a minute here): the
    reads are the head's 26 and the bound's, whatever the length."""
    monkeypatch.setattr(verify_service, "MAX_AUDIO_SCAN_WINDOWS", 6)
    path = write_audio(tmp_path / "reel.wav", spliced_line(PAYLOAD, seconds=600.0, marked_seconds=0.0, rate=8000),
                       8000)
    ticks: list[tuple[int, int]] = []
    wm = verify_file(path, progress=lambda done, total: ticks.append((done, total)))["watermark"]
    assert not wm["found"] and "window" not in wm
    assert wm["reads"] == 1 + 25 + 6 and ticks[-1] == (31, 31)


@pytest.mark.parametrize("duration", [20.5, 21.0, 60.0, 139.0, 140.5, 600.0, 7200.0, None])
def test_audio_windows_after_the_head_cover_it_or_stay_bounded(duration):
    windows = _audio_scan_windows(duration, 20.0)
    assert 0 < len(windows) <= MAX_AUDIO_SCAN_WINDOWS
    assert all(b - a == pytest.approx(AUDIO_SCAN_WINDOW_SECONDS) for a, b in windows)
    assert windows[0][0] == min(18.75, duration - 2.0) if duration else windows[0][0] == 18.75  # the grid goes on
    if duration is None:
        return  # the header does not say: the grid as far as the bound reaches
    assert windows[-1][1] == pytest.approx(duration, abs=1e-3)
    starts = [a for a, _ in windows]
    if len(windows) < MAX_AUDIO_SCAN_WINDOWS:  # dense: any 1.25 s line after the head lies inside a window
        assert all(b - a <= AUDIO_SCAN_HOP_SECONDS + 1e-9 for a, b in zip(starts, starts[1:]))
        for k in range(int((duration - 1.25 - 18.75) * 20) + 1):  # one starting earlier is in the head's
            line = 18.75 + k / 20
            assert any(a <= line + 1e-9 and line + 1.25 <= b + 1e-9 for a, b in windows), line
    else:
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert max(gaps) == pytest.approx(min(gaps), abs=2e-3)  # evenly spaced over the rest


def test_a_sound_file_no_longer_than_its_head_has_no_windows_after_it():
    assert _audio_scan_windows(20.0, 20.0) == [] and _audio_scan_windows(12.0, 12.0) == []


# ---------------------------------------------------------------- --whole: every span, however long


@pytest.mark.slow
def test_a_shot_between_the_spread_spans_is_missed_unless_the_whole_clip_is_read(tmp_path, monkeypatch):
    """With the bound lowered to 4 spans, a 20 s clip (10 spans) is read at 0, 6, 12 and 18 s: a shot
    at 2-4 s lies between them, and the result says so and how to read it all; --whole reads every
    span, one after the other, and finds it where it is."""
    monkeypatch.setattr(verify_service, "MAX_VIDEO_SPANS", 4)
    clip = write_spliced_clip(tmp_path / "film.mp4", PAYLOAD, seconds=20.0, at=2.0)
    spread = verify_file(clip)["watermark"]
    assert not spread["found"] and spread["reads"] == 4
    assert spread["scan"] == {"unit": "spans", "planned": 4, "whole": 10, "spread": True}
    assert not_found_line(spread) == ("not found (4 reads: 4 of the file's 10 spans, spread over it; "
                                      "soundstage verify --whole reads them all)")
    ticks: list[tuple[int, int]] = []
    wm = verify_file(clip, whole=True, progress=lambda done, total: ticks.append((done, total)))["watermark"]
    assert wm["found"] and int(wm["payload"], 16) == PAYLOAD and wm["window"] == [2.0, 4.0]
    assert wm["reads"] == 2 and ticks == [(1, 10)]   # the head, then the span that holds the shot


@pytest.mark.slow
def test_whole_reads_an_unmarked_clip_to_its_last_frame(tmp_path, monkeypatch):
    monkeypatch.setattr(verify_service, "MAX_VIDEO_SPANS", 2)
    clip = write_spliced_clip(tmp_path / "long.mp4", PAYLOAD, seconds=9.0, marked_seconds=0.0, width=96, height=64,
                              crf=30)
    ticks: list[tuple[int, int]] = []
    wm = verify_file(clip, whole=True, progress=lambda done, total: ticks.append((done, total)))["watermark"]
    # 216 frames: four whole spans and a last one of 24 frames
    assert not wm["found"] and wm["reads"] == 5 and ticks[-1] == (5, 5)
    assert wm["scan"] == {"unit": "spans", "planned": 5, "whole": 5, "spread": False}
    assert not_found_line(wm) == "not found (5 reads)"


@pytest.mark.slow
def test_whole_reads_every_window_of_a_long_sound_file(tmp_path, monkeypatch):
    """The bound lowered to 6 windows: a 1-minute file is read at 6 spread windows after its head,
    which miss a line at 41 s; --whole reads the head's grid on to the end and finds it."""
    monkeypatch.setattr(verify_service, "MAX_AUDIO_SCAN_WINDOWS", 6)
    path = write_audio(tmp_path / "mix.wav", spliced_line(PAYLOAD, seconds=60.0, at=41.0, rate=RATE), RATE)
    spread = verify_file(path)["watermark"]
    assert not spread["found"] and spread["scan"]["spread"] and spread["scan"]["whole"] == 1 + 25 + 54
    wm = verify_file(path, whole=True)["watermark"]
    assert wm["found"] and int(wm["payload"], 16) == PAYLOAD and wm["window"] == [41.25, 43.25]


@pytest.mark.parametrize("duration", [20.5, 21.0, 25.3, 60.0, 139.9, 140.0, 600.0, 7200.0])
def test_the_whole_grid_continues_the_heads_and_ends_with_the_file(duration):
    grid = list(_audio_grid(_audio_grid_first(20.0), duration))
    assert len(grid) == _audio_grid_count(duration, 20.0)
    assert grid[-1][1] == pytest.approx(duration) and all(b - a == pytest.approx(2.0) for a, b in grid)
    if len(grid) <= MAX_AUDIO_SCAN_WINDOWS:
        assert grid == _audio_scan_windows(duration, 20.0)   # what the bounded scan reads when it covers it
    starts = [a for a, _ in grid]
    assert all(0 < b - a <= AUDIO_SCAN_HOP_SECONDS + 1e-9 for a, b in zip(starts, starts[1:]))


def test_a_header_claiming_a_huge_duration_costs_nothing_until_read():
    """The windows are made as they are read (a header may claim 30 years)."""
    windows = _audio_grid(18.75, 1e9)
    assert next(windows) == (18.75, 20.75) and _audio_grid_count(1e9, 20.0) > 10 ** 9


def _flac(track, rate: int, header_samples: int | None = None) -> bytes:
    """``track`` as FLAC; ``header_samples``: what its STREAMINFO claims the length is (0: unknown)."""
    import io

    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="flac") as out:
        stream = out.add_stream("flac", rate=rate, layout="mono")
        pcm = (np.clip(track[:, 0], -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        for i in range(0, pcm.shape[1], 4096):
            frame = av.AudioFrame.from_ndarray(pcm[:, i:i + 4096], format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = bytearray(buffer.getvalue())
    if header_samples is not None:   # STREAMINFO's 36-bit total sample count (bytes 21-25 of the file)
        assert data[:4] == b"fLaC"
        data[21] = (data[21] & 0xF0) | ((header_samples >> 32) & 0x0F)
        data[22:26] = (header_samples & 0xFFFFFFFF).to_bytes(4, "big")
    return bytes(data)


@pytest.mark.slow
@pytest.mark.parametrize("claimed", [30.0, 10.0])
def test_a_sound_file_whose_header_understates_its_length_is_still_read_to_its_end(tmp_path, claimed):
    """A 60 s FLAC with a line at 41 s whose header claims 30 s (or 10 s, less than its 20 s head):
    --whole reads on until the decoder ends and finds the line, and the scan counts what was read
    (red-team run: not found, and the scan said the whole file was read). The bounded scan takes the
    length from the packets, not the header, and finds it too."""
    from soundstage.media.audio import audio_duration

    path = tmp_path / "mix.flac"
    path.write_bytes(_flac(spliced_line(PAYLOAD, seconds=60.0, at=41.0, rate=RATE), RATE, int(claimed * RATE)))
    assert audio_duration(path) == pytest.approx(claimed)
    wm = verify_file(path, whole=True)["watermark"]
    assert wm["found"] and int(wm["payload"], 16) == PAYLOAD and wm["window"] == [41.25, 43.25]
    bounded = verify_file(path)["watermark"]
    assert bounded["window"] == [41.25, 43.25] and bounded["scan"]["whole"] == 1 + 25 + 54


@pytest.mark.slow
def test_whole_progress_never_passes_its_total_on_a_file_of_unknown_length(tmp_path):
    path = tmp_path / "reel.flac"
    path.write_bytes(_flac(spliced_line(PAYLOAD, seconds=60.0, marked_seconds=0.0, rate=8000), 8000, 0))
    ticks: list[tuple[int, int]] = []
    wm = verify_file(path, whole=True, progress=lambda done, total: ticks.append((done, total)))["watermark"]
    assert not wm["found"] and all(done <= total for done, total in ticks)
    # read to the end: the head and its 25 windows, and the grid on to 60 s (the last one cut by the end)
    assert wm["scan"] == {"unit": "windows", "planned": 1 + 25 + 54, "whole": 1 + 25 + 54, "spread": False}


def _understated_mp4(path, factor: int = 4):
    """An MP4 whose header (mvhd, tkhd, mdhd durations) claims 1/factor of its length; its frames
    all still play (what an editor of the header alone can do)."""
    import struct

    data = bytearray(path.read_bytes())
    # the duration field's offset after each box's type, for box versions 0 and 1
    for box, v0, v1 in ((b"mvhd", 16, 28), (b"tkhd", 20, 32), (b"mdhd", 16, 28)):
        at = data.find(box)
        assert at > 0, box
        if data[at + 4] == 0:
            o = at + 4 + v0
            data[o:o + 4] = struct.pack(">I", struct.unpack(">I", data[o:o + 4])[0] // factor)
        else:
            o = at + 4 + v1
            data[o:o + 8] = struct.pack(">Q", struct.unpack(">Q", data[o:o + 8])[0] // factor)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.slow
def test_a_clip_whose_header_understates_its_length_is_read_over_all_of_it(tmp_path, monkeypatch):
    """A 20 s clip with a marked shot at 12 s whose header claims 5 s: the spans are spread over the
    20 s its packets hold, and the shot is found where it is. With the header believed, the spans
    stopped at 5 s and the scan said it had read the whole clip."""
    from soundstage.media.video import video_length, video_timing

    monkeypatch.setattr(verify_service, "MAX_VIDEO_SPANS", 10)
    clip = _understated_mp4(write_spliced_clip(tmp_path / "film.mp4", PAYLOAD, seconds=20.0, at=12.0))
    assert video_timing(clip)[0] == pytest.approx(5.0, abs=0.1) and video_length(clip)[0] == pytest.approx(20.0)
    wm = verify_file(clip)["watermark"]
    assert wm["found"] and wm["window"] == [12.0, 14.0] and wm["scan"]["whole"] == 10
