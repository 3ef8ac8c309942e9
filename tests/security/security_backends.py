"""Test backends for the red-team suite (imported by the generator registry as
``security_backends:<Class>``; tests/security is put on sys.path by its conftest).

``CountingBackend`` appends one JSON line per call to the file its model record names
(``config.log``), so a test can count backend runs across threads and across server workers,
and see exactly what each run was handed. ``config.delay`` (seconds) holds the run open to widen
race windows; ``config.fail_first`` makes the first run fail so the job can be re-run."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from soundstage.domain.safeguards import ModelCard
from soundstage.errors import BackendError
from soundstage.generate.protocol import GeneratedImage, GenerationRequest


def read_runs(log: Path, *, previews: bool = False) -> list[dict]:
    """Every run of a job the backend logged, in order; ``previews``: the review previews' runs too
    (approvers of a de-age look at one first: the guard runs the backend on proxies of its inputs)."""
    if not log.exists():
        return []
    runs = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in runs if previews or not r["preview"]]


class CountingBackend:
    OPERATIONS: dict = {"*": ()}  # declares no parameters beyond the seed

    def __init__(self, model_id: str = "test.counting", config: dict | None = None) -> None:
        self.model_id = model_id
        self.config = dict(config or {})

    def model_card(self) -> ModelCard:
        return card(self.model_id)

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        log = Path(self.config["log"])
        entry = {"pid": os.getpid(), "job": request.job.to_dict(), "params": dict(request.params),
                 "seed": request.seed, "inputs": [i.asset_id for i in request.inputs],
                 "references": sorted(request.performer_references or {}),
                 "cluster": request.cluster,
                 # a review preview (previews.preview) is run with no work root; a job's own run always has one
                 "preview": request.work_root is None}
        first = not log.exists()
        # one write() of one line with O_APPEND: concurrent runs cannot interleave their lines
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8"))
        finally:
            os.close(fd)
        time.sleep(float(self.config.get("delay", 0)))
        if self.config.get("fail_first") and first:
            raise BackendError("counting backend: the first run fails on purpose")
        pixels = np.full((256, 256, 3), 96, dtype=np.uint8)
        pixels[:, :128] = 160
        return [GeneratedImage(pixels, name=f"{request.job.id}_count.png", operation="procedural",
                               details={"counting": True})]


def card(model_id: str = "test.counting") -> ModelCard:
    return ModelCard(id=model_id, name="counting test backend", version="1", licence="test",
                     training_data="owned", evidence="test", trained_model=False, runs_in_production_env=True,
                     stores_inputs=False, trains_on_inputs=False)
