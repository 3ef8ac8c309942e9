"""The animatic backend on its own: frame counts follow the timing, every frame carries the id,
camera moves move, captions fit, and the scratch track speaks at each shot's timing."""

from __future__ import annotations

import shutil

import av
import numpy as np
import pytest
from PIL import Image

from soundstage.domain.safeguards import JobSpec
from soundstage.errors import SpecError
from soundstage.generate.protocol import GenerationInput, GenerationRequest
from soundstage.media.video import iter_frames
from soundstage.previz.animatic import (
    SCRATCH_LABEL, AnimaticBackend, apply_move, burn_title, frame_counts, scratch_lines, speak,
)
from soundstage.previz.panel_art import font_for, wrap_pixels
from soundstage.safeguards.watermark import default_engine

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def _inputs(tmp_path, colours, engine):
    inputs = []
    for i, colour in enumerate(colours, start=1):
        p = tmp_path / f"p{i}"
        pixels = engine.embed(np.full((270, 480, 3), colour, np.uint8), 1000 + i)  # panels carry their own ids
        Image.fromarray(pixels).save(p, format="PNG")
        inputs.append(GenerationInput(1000 + i, p, "image/png", "image", p.name))
    return tuple(inputs)


def _job():
    return JobSpec(id="j", production_id="p", operation="storyboard", requested_by="t", model_id="soundstage.animatic")


def test_frame_counts_do_not_drift():
    assert frame_counts([1.0, 1.03, 0.99], 24) == [24, 25, 23]
    assert sum(frame_counts([0.37] * 100, 24)) == round(37 * 24)


def test_animatic_is_timed_and_every_sampled_frame_is_marked(tmp_path):
    engine = default_engine()
    inputs = _inputs(tmp_path, [(200, 60, 60), (60, 60, 200)], engine)
    payload = 0x5EED5EED
    timing = [{"asset": f"{1001:016x}", "title": "1-A", "seconds": 1.0, "movement": "push in"},
              {"asset": f"{1002:016x}", "title": "1-B", "seconds": 0.5}]
    clip, = AnimaticBackend().generate(GenerationRequest(
        job=_job(), inputs=inputs, params={"timing": timing, "width": 320, "height": 180, "crossfade_seconds": 0.2},
        scratch_dir=tmp_path, reserved_asset_ids=(payload,)))
    with av.open(str(clip.path)) as c:
        assert c.streams.video[0].frames == 36
        assert not c.streams.audio  # no dialogue, no scratch track
    frames = list(iter_frames(clip.path))
    for f in frames[::7]:
        assert engine.detect(f).payload == payload
    assert frames[0][:, :, 0].mean() > frames[-1][:, :, 0].mean()  # the cut happened
    assert clip.details["camera_moves"] == 1


def test_a_push_in_closes_in_and_a_static_shot_holds():
    frame = np.zeros((90, 160, 3), np.uint8)
    frame[35:55, 70:90] = 255  # a white square in the middle
    start, end = apply_move(frame, "push in", 0.0), apply_move(frame, "push in", 1.0)
    assert (start > 128).sum() == (frame > 128).sum()
    assert (end > 128).sum() > 1.3 * (frame > 128).sum()  # the square grew: the camera pushed in
    pan_a, pan_b = apply_move(frame, "pan", 0.0), apply_move(frame, "pan", 1.0)
    col = lambda px: np.nonzero((px[:, :, 0] > 128).any(axis=0))[0].mean()  # noqa: E731
    assert col(pan_b) < col(pan_a) - 5  # the camera panned right: the subject slid left
    assert apply_move(frame, "static", 0.7) is frame


def test_captions_wrap_inside_the_frame_and_nothing_is_cut_off():
    text = ("Over Jonah's shoulder onto Maya as she finally turns from the mirror and looks at the folded "
            "letter on the counter, the rain louder now on the trailer roof, every word of this must stay inside")
    font = font_for(text, 12)
    lines = wrap_pixels(text, font, 300)
    assert len(lines) > 2 and all(font.getlength(line) <= 300 for line in lines)
    assert " ".join(lines) == " ".join(text.split())  # wrapping loses no word
    frame = np.zeros((180, 320, 3), np.uint8)
    out = burn_title(frame, "3-B  OTS 40mm push in", text)
    bar = out[110:, :, :]
    assert (bar[:, -4:] > 200).sum() == 0  # no glyph touches the right edge
    assert (bar[:, 4:200] > 200).any()  # the caption is there
    long = wrap_pixels("Д" * 200, font_for("Д", 12), 100, max_lines=2)  # one long word breaks, then ellipsis
    assert len(long) == 2 and long[-1].endswith("\u2026")


def test_scratch_lines_follow_the_cut():
    timing = [{"dialogue": "MAYA: I'm sixty-eight, Jonah."}, {"dialogue": ""}, {"dialogue": "no speaker here"}]
    lines = scratch_lines(timing, [2.0, 1.0, 1.5])
    assert [(ln.speaker, ln.start) for ln in lines] == [("MAYA", 0.3), ("", 3.3)]
    assert lines[0].text == "I'm sixty-eight, Jonah." and lines[1].shot_end == 4.5


@needs_espeak
def test_the_scratch_track_speaks_at_each_shots_timing_and_says_it_is_synthetic(tmp_path):
    engine = default_engine()
    inputs = _inputs(tmp_path, [(200, 60, 60), (60, 200, 60), (60, 60, 200)], engine)
    timing = [{"asset": f"{1001:016x}", "title": "1-A", "seconds": 2.0, "dialogue": "MAYA: This is what ready looks like."},
              {"asset": f"{1002:016x}", "title": "1-B", "seconds": 2.0},
              {"asset": f"{1003:016x}", "title": "1-C", "seconds": 2.0, "dialogue": "JONAH: Then let's go."}]
    clip, = AnimaticBackend().generate(GenerationRequest(
        job=_job(), inputs=inputs, params={"timing": timing, "width": 320, "height": 180, "fps": 12},
        scratch_dir=tmp_path, reserved_asset_ids=(0x5EED,)))
    with av.open(str(clip.path)) as c:
        stream = c.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert "synthetic voice" in stream.metadata.get("handler_name", "")
        rate = stream.codec_context.sample_rate
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(stream)])
    rms = lambda a, b: float(np.sqrt(np.mean(samples[int(a * rate):int(b * rate)] ** 2)))  # noqa: E731
    assert rms(0.3, 1.6) > 0.02  # MAYA speaks in shot 1
    assert rms(2.2, 3.9) < 0.002  # shot 2 has no dialogue: silence
    assert rms(4.3, 5.3) > 0.02  # JONAH in shot 3
    audio = clip.details["audio"]
    assert audio["synthetic"] and audio["performer_voice"] is False and audio["label"] == SCRATCH_LABEL
    assert [ln["speaker"] for ln in audio["lines"]] == ["MAYA", "JONAH"]
    frames = list(iter_frames(clip.path))
    assert engine.detect(frames[8]).payload == 0x5EED  # frames are marked with the label burned in


@needs_espeak
def test_dialogue_is_spoken_never_read_as_options(tmp_path):
    target = tmp_path / "evil.wav"
    voice = speak(f"-w {target} --version", "MAYA", tmp_path)
    assert not target.exists() and len(voice) > 2000  # the words were spoken, not obeyed


def test_bad_timing_entries_are_refused(tmp_path):
    engine = default_engine()
    inputs = _inputs(tmp_path, [(1, 2, 3)], engine)
    for entry, word in (({"movement": "zoom-spin"}, "movement"), ({"dialogue": "x" * 3000}, "dialogue"),
                        ({"seconds": 0}, "range")):
        timing = [{"asset": f"{1001:016x}", "seconds": 1.0, **entry}]
        with pytest.raises(SpecError, match=word):
            AnimaticBackend().generate(GenerationRequest(job=_job(), inputs=inputs, params={"timing": timing},
                                                         scratch_dir=tmp_path, reserved_asset_ids=(1,)))
