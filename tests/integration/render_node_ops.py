"""A real frame operation for the render-node tests, loaded by path on the Dask workers.

It grades every frame (``TemporalGrade``: warm-up frames matter) and darkens where the job's mask
is white, so the second input must really be fetched by hash on the node. A worker whose
environment has ``SOUNDSTAGE_TEST_BROKEN_NODE`` set fails every chunk it is given, as a node that
lost its store mid-run does, after leaving a note (a file named by the variable's value) so the
test can tell the node was really tried. A worker with ``SOUNDSTAGE_TEST_HANG_NODE`` set writes
its pid to the file the variable names when it starts a chunk, then sleeps in it (for the test to
kill the node while it holds the chunk).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np

from soundstage.errors import BackendError

FACTORY = f"{Path(__file__).resolve()}:make_op"


def _helpers():
    name = "soundstage_test_vfx_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "vfx" /
                                                      "vfx_helpers.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


class MaskedGrade:
    name = "masked-grade"

    def __init__(self, ctx) -> None:
        from PIL import Image

        self.grade = _helpers().TemporalGrade(window=int(ctx.params.get("window", 3)))
        self.warmup_frames = self.grade.warmup_frames
        with Image.open(ctx.extra_inputs["mask"]) as image:  # a local file the node fetched by hash
            self.mask = np.asarray(image.convert("L")) > 127

    def process_chunk(self, frames, first_index, warmup):
        broken = os.environ.get("SOUNDSTAGE_TEST_BROKEN_NODE")
        if broken:
            Path(broken).write_text(f"chunk at frame {first_index} tried on pid {os.getpid()}\n")
            raise BackendError("this render node lost the object store")
        hang = os.environ.get("SOUNDSTAGE_TEST_HANG_NODE")
        if hang:
            Path(hang).write_text(str(os.getpid()))
            time.sleep(float(os.environ.get("SOUNDSTAGE_TEST_HANG_SECONDS", "120")))
        out = self.grade.process_chunk(frames, first_index, warmup)
        for frame in out:
            frame[self.mask] //= 2
        return out


def make_op(ctx) -> MaskedGrade:
    return MaskedGrade(ctx)
