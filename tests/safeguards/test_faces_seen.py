"""Whose enrolled face a job's inputs show (DR019): the real detector and identity network on the
faces the installed packages ship, nothing mocked."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from soundstage.errors import ParseError
from soundstage.safeguards.faces_seen import INVOLVED_THRESHOLD, InputFile, ReferenceFile, _tiles, faces_shown

pytestmark = pytest.mark.slow


def _save(tmp_path, name: str, pixels: np.ndarray):
    path = tmp_path / name
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture(scope="module")
def faces():
    import matplotlib.cbook as cbook
    from skimage import data

    return data.astronaut(), np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))


def _in_wide_shot(face: np.ndarray, scale: float = 0.45) -> np.ndarray:
    import cv2

    frame = np.full((1080, 1920, 3), 70, np.uint8)
    small = cv2.resize(face, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame[500:500 + small.shape[0], 1500:1500 + small.shape[1]] = small
    return frame


def test_a_small_face_in_a_1080p_frame_is_found_and_only_its_owner_matches(tmp_path, faces):
    astronaut, hopper = faces
    refs = [ReferenceFile("t-collins", "a" * 64, _save(tmp_path, "collins.png", astronaut)),
            ReferenceFile("t-hopper", "b" * 64, _save(tmp_path, "hopper.png", hopper))]
    wide = InputFile("00000000000000a1", "element", "image/png", "c" * 64,
                     _save(tmp_path, "wide.png", _in_wide_shot(astronaut[:, ::-1])))
    shown = faces_shown([wide], refs)
    assert list(shown) == ["t-collins"]
    (sighting,) = shown["t-collins"]
    assert sighting.input_ref == "00000000000000a1" and sighting.distance < INVOLVED_THRESHOLD - 0.2


def test_noise_and_a_face_free_picture_show_nobody(tmp_path, faces):
    astronaut, _ = faces
    rng = np.random.default_rng(0)
    refs = [ReferenceFile("t-collins", "d" * 64, _save(tmp_path, "collins.png", astronaut))]
    noise = InputFile("00000000000000a2", "reference", "image/png", "e" * 64,
                      _save(tmp_path, "noise.png", rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)))
    assert faces_shown([noise], refs) == {}


def test_a_dpx_sequence_is_checked_on_sampled_members(tmp_path, faces):
    """A 10-bit DPX scan, as the VFX plates arrive: its frames are read as the operations read them."""
    from soundstage.testing.sample_media import write_dpx_scan

    astronaut, _ = faces
    refs = [ReferenceFile("t-collins", "f" * 64, _save(tmp_path, "collins.png", astronaut))]
    blank = np.full((512, 512, 3), 30, np.uint8)
    write_dpx_scan(tmp_path / "scan", "A005", [astronaut if i == 9 else blank for i in range(10)])
    members = tuple(sorted((tmp_path / "scan").glob("A005_*.dpx")))
    seq = InputFile("00000000000000a3", "plate", "application/vnd.soundstage.image-sequence+json", "1" * 64,
                    tmp_path / "index.json", members)
    assert [s.input_kind for s in faces_shown([seq], refs)["t-collins"]] == ["plate"]  # the last member counts
    blank_seq = InputFile("00000000000000a6", "plate", seq.media_type, "5" * 64, seq.path, members[:9])
    assert faces_shown([blank_seq], refs) == {}


def test_a_file_that_is_not_a_picture_is_refused_not_waved_through(tmp_path, faces):
    astronaut, _ = faces
    refs = [ReferenceFile("t-collins", "2" * 64, _save(tmp_path, "collins.png", astronaut))]
    forged = tmp_path / "forged.png"
    forged.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ParseError):
        faces_shown([InputFile("00000000000000a4", "reference", "image/png", "3" * 64, forged)], refs)
    # audio and documents cannot show a face: not read at all
    assert faces_shown([InputFile("00000000000000a5", "reference", "audio/wav", "4" * 64, forged)], refs) == {}


def test_tiles_cover_the_frame_with_overlap():
    tiles = _tiles(1920, 1080)
    assert tiles[0] == (0, 0, 1920, 1080)
    covered = np.zeros((1080, 1920), bool)
    for x0, y0, x1, y1 in tiles[1:]:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    assert _tiles(640, 480) == [(0, 0, 640, 480)]
