"""The video example of docs/guides/write-a-generator.md, installed as a plug-in and run through the guard."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
import guide_tools as gt  # noqa: E402


@pytest.fixture
def tide(tmp_path, monkeypatch):
    from soundstage.generate import registry

    text = gt.GENERATOR_GUIDE.read_text()
    site = tmp_path / "site"
    gt.install_plugin(site, {"tide_video.py": gt.example(text, "tide_video.py")}, gt.example(text, "tide_pyproject.toml"))
    monkeypatch.syspath_prepend(str(site))
    registry.available.cache_clear()
    yield
    sys.modules.pop("tide_video", None)
    registry.available.cache_clear()


def test_the_guide_video_example_streams_a_marked_clip_through_the_guard(sqlite_workspace, tide):
    from tide_video import TideVideoGenerator

    from soundstage.domain.safeguards import JobSpec, OperationKind
    from soundstage.errors import SpecError
    from soundstage.media.video import iter_frames
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.safeguards.watermark import default_engine
    from soundstage.services import jobs_service as jobs
    from soundstage.services import models, people_service
    from soundstage.services.ledger import list_assets

    ws = sqlite_workspace
    people_service.add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    models.register_model(ws, TideVideoGenerator("studio.tide").model_card(), backend="tide", config={}, actor="setup")

    def spec(params):
        return JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                       requested_by="Priya Shah", model_id="studio.tide", prompt="rising tide", params=params)

    result = jobs.submit_job(ws, spec({"frames": 12, "fps": 12, "width": 192, "height": 128}), actor="Priya Shah")
    assert result["status"] == "done", result
    (asset,) = result["assets"]
    assert asset["media_type"] == "video/mp4" and asset["details"]["frames"] == 12
    frames = list(iter_frames(ws.store.path_for(asset["sha256"])))
    assert len(frames) == 12 and frames[0].shape == (128, 192, 3)
    assert frames[-1][100, 50, 2] < frames[0][100, 50, 2] or frames[-1][100, 50, 0] < frames[0][100, 50, 0]  # sea rose
    for index in (0, 6, 11):
        found = ws.watermark_engine().detect(frames[index])
        assert found.found and found.payload == parse_asset_id(asset["id"]), index
    assert default_engine().detect(frames[0]).payload != parse_asset_id(asset["id"])
    with pytest.raises(SpecError) as err:
        jobs.submit_job(ws, spec({"frames": 5000}), actor="Priya Shah")
    assert err.value.field == "params.frames"
    assert len(list_assets(ws)) == 1
