"""The animatic backend on its own: frame counts follow the timing, every frame carries the id."""

from __future__ import annotations

import av
import numpy as np
from PIL import Image

from soundstage.domain.safeguards import JobSpec
from soundstage.generate.protocol import GenerationInput, GenerationRequest
from soundstage.media.video import iter_frames
from soundstage.previz.animatic import AnimaticBackend, frame_counts
from soundstage.safeguards.watermark import default_engine


def test_frame_counts_do_not_drift():
    assert frame_counts([1.0, 1.03, 0.99], 24) == [24, 25, 23]
    assert sum(frame_counts([0.37] * 100, 24)) == round(37 * 24)


def test_animatic_is_timed_and_every_sampled_frame_is_marked(tmp_path):
    engine = default_engine()
    inputs = []
    for i, colour in enumerate([(200, 60, 60), (60, 60, 200)], start=1):
        p = tmp_path / f"p{i}"
        pixels = engine.embed(np.full((270, 480, 3), colour, np.uint8), 1000 + i)  # panels carry their own ids
        Image.fromarray(pixels).save(p, format="PNG")
        inputs.append(GenerationInput(1000 + i, p, "image/png", "image", p.name))
    payload = 0x5EED5EED
    job = JobSpec(id="j", production_id="p", operation="storyboard", requested_by="t", model_id="soundstage.animatic")
    timing = [{"asset": f"{1001:016x}", "title": "1-A", "seconds": 1.0},
              {"asset": f"{1002:016x}", "title": "1-B", "seconds": 0.5}]
    clip, = AnimaticBackend().generate(GenerationRequest(
        job=job, inputs=tuple(inputs), params={"timing": timing, "width": 320, "height": 180, "crossfade_seconds": 0.2},
        scratch_dir=tmp_path, reserved_asset_ids=(payload,)))
    with av.open(str(clip.path)) as c:
        assert c.streams.video[0].frames == 36
    frames = list(iter_frames(clip.path))
    for f in frames[::7]:
        assert engine.detect(f).payload == payload
    assert frames[0][:, :, 0].mean() > frames[-1][:, :, 0].mean()  # the cut happened
