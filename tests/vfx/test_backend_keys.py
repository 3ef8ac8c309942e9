"""DR016 in the backend: chunk tasks carry no key and no path, and the cleanup guard's check for a
provenance mark under a large mask is still made with the production key (on the submitting side)."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from soundstage.errors import RefusedError
from soundstage.services import vfx_service
from soundstage.services.ledger import ingest_media

sys.path.insert(0, str(Path(__file__).parent))
import vfx_helpers as h  # noqa: E402
import test_backend  # noqa: E402

MODEL = test_backend.MODEL
production = test_backend.production  # the same fixture: a production with a plate and the test model


def _mask(tmp_path: Path, name: str, box: tuple[int, int, int, int]) -> Path:
    pixels = np.zeros((288, 512, 3), np.uint8)
    y0, y1, x0, x1 = box
    pixels[y0:y1, x0:x1] = 255
    Image.fromarray(pixels).save(tmp_path / name)
    return tmp_path / name


def test_a_large_cleanup_mask_over_a_production_marked_plate_is_refused(production, monkeypatch):
    ws, maya, plate, frames, tmp_path = production
    # footage that already carries this production's mark for some other id (a re-ingested export)
    marked = [ws.watermark_engine().embed(f, 0xFEED) for f in h.astronaut_frames(6, 512, 288)]
    smuggled = ingest_media(ws, h.make_clip(tmp_path / "export.mp4", marked), kind="plate", actor="setup")
    big = ingest_media(ws, _mask(tmp_path, "big.png", (0, 200, 0, 400)), kind="plate", actor="setup")
    tasks = []
    from soundstage.compute import executors

    real_run = executors.SerialExecutor.run

    def spy(self, todo, should_stop):
        tasks.extend(todo)
        yield from real_run(self, todo, should_stop)

    monkeypatch.setattr(executors.SerialExecutor, "run", spy)
    spec = vfx_service.build_vfx_job(ws, "cleanup", smuggled["id"], requested_by="Ken Ito",
                                     extra_inputs=[big["id"]], model_id=MODEL)
    with pytest.raises(RefusedError, match="carries a provenance watermark"):
        h.submit_approved(ws, spec)
    # the same mask over the unmarked plate runs; its tasks hold no key and no path
    ws.settings.extra.setdefault("compute", {})["cluster"] = "serial"
    spec = vfx_service.build_vfx_job(ws, "cleanup", plate["id"], requested_by="Ken Ito",
                                     extra_inputs=[big["id"]], model_id=MODEL)
    assert h.submit_approved(ws, spec)["status"] == "done"
    assert tasks
    blob = pickle.dumps(tasks)
    key = ws.watermark_key
    assert key and key not in blob and key.hex().encode() not in blob
    from dataclasses import replace

    assert tasks[0].store.label.startswith("folder ")  # the folder store's address is the one path...
    bare = pickle.dumps([replace(t, store=None) for t in tasks])
    assert str(ws.settings.root).encode() not in bare  # ...everything else names content by hash
