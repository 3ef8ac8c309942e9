"""The procedural collapse element: a seeded RGBA clip (falling masonry, a dust plume), every frame's
RGB marked with the clip's id, the alpha kept exactly, signed as procedural (algorithmicMedia)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import BackendError, SpecError
from soundstage.generate.backends.procedural import ProceduralCardGenerator, collapse_frames
from soundstage.generate.protocol import GeneratedClip, GenerationRequest
from soundstage.safeguards.watermark import default_engine

KEY = b"a-production-secret-watermark-k"
SMALL = {"element": "collapse", "width": 256, "height": 256, "frames": 6, "fps": 12}


def request(tmp_path: Path, params: dict, seed: int = 3, **kw) -> GenerationRequest:
    spec = JobSpec(id="J-collapse", production_id="p", operation=OperationKind.SET_EXTENSION, requested_by="t",
                   model_id="soundstage.procedural-card", prompt="a tower block collapsing", params=params)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return GenerationRequest(job=spec, params=params, seed=seed, scratch_dir=scratch,
                             reserved_asset_ids=(0xC0FFEE,), watermark_key=KEY, **kw)


def decoded_rgba(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "png" and stream.codec_context.pix_fmt == "rgba"
        return np.stack([f.to_ndarray(format="rgba") for f in container.decode(stream)])


def test_collapse_is_a_marked_rgba_clip_whose_alpha_survives(tmp_path):
    ticks: list[tuple[int, int]] = []
    (clip,) = ProceduralCardGenerator().generate(request(tmp_path, SMALL, progress=lambda d, t: ticks.append((d, t))))
    assert isinstance(clip, GeneratedClip) and clip.operation == "procedural" and clip.payload == 0xC0FFEE
    assert clip.media_type == "video/quicktime" and clip.path.suffix == ".mov"
    assert clip.details["alpha"] and clip.details["asset_kind"] == "element" and clip.details["frames"] == 6
    assert ticks == [(i, 6) for i in range(1, 7)]
    frames = decoded_rgba(clip.path)
    assert frames.shape == (6, 256, 256, 4)
    rendered = np.stack(list(collapse_frames(256, 256, 6, _seed_of(clip))))
    # the alpha is written bit for bit; the RGB differs from the render only by the mark
    assert np.array_equal(frames[..., 3], rendered[..., 3])
    diff = np.abs(frames[..., :3].astype(int) - rendered[..., :3].astype(int))
    assert 0 < diff.mean() < 4
    engine = default_engine(KEY)
    for index in range(6):  # every frame carries the id, in its RGB
        found = engine.detect(np.ascontiguousarray(frames[index, ..., :3]))
        assert found.found and found.payload == 0xC0FFEE, index
    assert not default_engine(b"some-other-production-key-xxxxx").detect(
        np.ascontiguousarray(frames[2, ..., :3])).payload == 0xC0FFEE


def _seed_of(clip: GeneratedClip) -> int:
    from soundstage.generate.backends.procedural import _seed

    return _seed(clip.details["prompt"], clip.details["seed"])


def test_collapse_looks_like_a_collapse_and_is_deterministic():
    a = np.stack(list(collapse_frames(256, 256, 12, 11)))
    b = np.stack(list(collapse_frames(256, 256, 12, 11)))
    c = np.stack(list(collapse_frames(256, 256, 12, 12)))
    assert np.array_equal(a, b) and not np.array_equal(a, c)  # seeded: same seed, same clip
    alpha = a[..., 3].astype(float) / 255
    cover = alpha.mean(axis=(1, 2))
    assert cover[0] < 0.15 and cover[-1] > 0.3 and np.all(np.diff(cover[2:]) > -0.02)  # the plume grows
    # the plume rises: the highest row where dust covers most of the centre moves up the frame
    tops = [int(np.argmax((f[:, 96:160] > 0.8).mean(axis=1) > 0.6)) for f in alpha]
    assert tops[-1] < tops[1] - 40
    # transparent sky, soft edges (partial alpha) and solid parts all present: a matte, not a card
    last = alpha[-1]
    assert (last < 0.02).mean() > 0.2 and ((last > 0.1) & (last < 0.9)).mean() > 0.03 and (last > 0.98).mean() > 0.1
    # debris falls: above the plume, the opaque chunks' centroid moves down between frames 2 and 5
    sky = [(f[:96] > 0.9) for f in alpha[2:6]]
    ys = [np.nonzero(s)[0].mean() for s in sky if s.any()]
    assert len(ys) >= 2 and ys[-1] > ys[0]
    # the colour extends under the transparent parts: the mark has texture to live in everywhere
    assert a[-1, ..., :3][last < 0.02].std() > 3


@pytest.mark.parametrize("params, field", [
    ({"frames": 1000}, "params.frames"),
    ({"frames": 1}, "params.frames"),
    ({"width": 4096, "height": 4096}, "params.width"),  # over the per-frame pixel bound
    ({"width": 128, "height": 256}, "params.width"),  # too small for the mark to carry the id
    ({"element": "explosion"}, "params.element"),
])
def test_bounds_are_refused_before_a_frame_is_written(tmp_path, params, field):
    with pytest.raises(SpecError) as err:
        ProceduralCardGenerator().generate(request(tmp_path, {**SMALL, **params}))
    assert err.value.field == field
    assert list((tmp_path / "scratch").iterdir()) == []


def test_cancelling_leaves_no_file(tmp_path):
    calls = iter(range(100))
    with pytest.raises(BackendError, match="cancelled at frame 2"):
        ProceduralCardGenerator().generate(request(tmp_path, SMALL, cancelled=lambda: next(calls) >= 2))
    assert list((tmp_path / "scratch").iterdir()) == []


def test_the_card_is_still_the_default(tmp_path):
    (card,) = ProceduralCardGenerator().generate(request(tmp_path, {"width": 200, "height": 100}))
    assert card.pixels.shape == (100, 200, 3) and card.operation == "procedural"


@pytest.mark.slow
def test_through_the_guard_signed_as_procedural_and_placed_as_a_composite(sqlite_workspace, tmp_path):
    """The element is registered as a signed element (algorithmicMedia, no model ingredient: it is
    not a trained model), and `vfx place` records it as componentOf in a plain `composite`."""
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.safeguards.provenance import IPTC, CredentialState, read_credentials
    from soundstage.services import jobs_service as jobs
    from soundstage.services import people_service
    from soundstage.services import vfx_service
    from soundstage.services.ledger import ingest_media
    from soundstage.testing import sample_media
    from soundstage.vfx.ops.place import Element

    ws = sqlite_workspace
    people_service.add_crew(ws, "Ken Ito", ["vfx_supervisor"], actor="setup")
    made = jobs.submit_job(ws, JobSpec(id="", production_id=ws.production_id, operation=OperationKind.SET_EXTENSION,
                                       requested_by="Ken Ito", model_id="soundstage.procedural-card",
                                       prompt="a tower block collapsing", params={**SMALL, "seed": 2}),
                           actor="Ken Ito")
    assert made["status"] == "done", made
    (element,) = made["assets"]
    assert element["media_type"] == "video/quicktime" and element["details"]["asset_kind"] == "element"
    path = ws.store.path_for(element["sha256"])
    anchors = [(ws.settings.keys_dir / "ca.pem").read_bytes()]
    reading = read_credentials(path, trust_anchors=anchors)
    assert reading.state is CredentialState.TRUSTED, reading.status_codes
    assert "c2pa.created" in reading.actions
    assert reading.digital_source_types == (IPTC + "algorithmicMedia",)  # procedural, never "trained"
    manifest = reading.store["manifests"][reading.active_manifest]
    assert not [i for i in manifest.get("ingredients", []) if i.get("relationship") == "inputTo"]
    opened = Element.open(path, None)  # what vfx place reads: the signed file still has its alpha
    alphas = [a for _, a in opened.frames(0, 6)]
    assert opened.frame_count == 6 and alphas[-1].min() == 0.0 and alphas[-1].max() == 1.0
    # the adversary: one byte of the signed element changed (an edited alpha, say) breaks its credentials
    forged = tmp_path / "forged.mov"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    forged.write_bytes(bytes(data))
    assert read_credentials(forged, trust_anchors=anchors).state is CredentialState.INVALID
    frames = decoded_rgba(path)
    engine = ws.watermark_engine()
    assert engine.detect(np.ascontiguousarray(frames[-1, ..., :3])).payload == parse_asset_id(element["id"])

    plate = sample_media.write_plate(tmp_path / "plate.mp4", sample_media.astronaut_push_in(6, 640, 360))
    plate_asset = ingest_media(ws, plate, kind="plate", actor="setup", scene="5", shot="5A")
    spec = vfx_service.build_vfx_job(ws, "place", plate_asset["id"], requested_by="Ken Ito",
                                     extra_inputs=[element["id"]], scene="5", shot="5A",
                                     params={"corners": ["0:380,20,620,20,620,260,380,260"], "track": False})
    result = vfx_service.submit_vfx_job(ws, spec, actor="Ken Ito")
    assert result["status"] == "done", result
    placed_path = ws.store.path_for(result["assets"][0]["sha256"])
    # the alpha was honoured through the mark lift (compute/chunks.py): where the element is
    # transparent the plate shows (the quad's top corners, sky above the plume), where it is dense
    # the dust covers it
    from soundstage.media.video import iter_frames

    before, after = list(iter_frames(plate))[-1].astype(int), list(iter_frames(placed_path))[-1].astype(int)
    sky_alpha = alphas[-1][:40, :40]  # the element's own top-left corner: transparent
    assert sky_alpha.mean() < 0.1
    assert np.abs(after[24:50, 384:410] - before[24:50, 384:410]).mean() < 6
    assert np.abs(after[230:255, 470:530] - before[230:255, 470:530]).mean() > 15
    placed = read_credentials(placed_path, trust_anchors=anchors)
    assert placed.state is CredentialState.TRUSTED and "c2pa.placed" in placed.actions
    assert IPTC + "compositeWithTrainedAlgorithmicMedia" not in placed.digital_source_types
    ingredients = placed.store["manifests"][placed.active_manifest]["ingredients"]
    assert {i["relationship"] for i in ingredients} >= {"parentOf", "componentOf"}
