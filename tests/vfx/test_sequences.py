"""Image sequences: patterns, gaps, EXR half/float round trip, PNG, magic-byte detection."""

from __future__ import annotations

import struct
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from soundstage.errors import InputError, NotFoundError, ParseError
from soundstage.vfx import sequences as seq

sys.path.insert(0, str(Path(__file__).parent))
import vfx_helpers as h  # noqa: E402


def test_pattern_finds_frames_and_gaps(tmp_path):
    frame = np.zeros((8, 8, 3), np.uint8)
    for n in (1001, 1002, 1004):
        seq.write_png(tmp_path / f"shot_{n:04d}.png", frame)
    found = seq.find_sequence(tmp_path / "shot_####.png")
    assert found.frames == (1001, 1002, 1004) and found.gaps == (1003,) and not found.complete
    with pytest.raises(NotFoundError):
        seq.find_sequence(tmp_path / "other_####.png")
    with pytest.raises(InputError):
        seq.find_sequence(tmp_path / "shot.png")


@pytest.mark.parametrize("half,tolerance", [(True, 1e-3), (False, 0.0)])
def test_exr_round_trip(tmp_path, half, tolerance):
    linear = np.random.default_rng(1).random((16, 24, 3)).astype(np.float32) * 4  # HDR values above 1
    path = tmp_path / "plate_0001.exr"
    seq.write_exr(path, linear, half=half)
    back = seq.read_exr(path)
    assert back.shape == (16, 24, 3) and np.abs(back - linear).max() <= tolerance * 4
    stored = tmp_path / "0123abcd"  # a stored asset has no suffix: found by magic bytes
    stored.write_bytes(path.read_bytes())
    rgb8 = seq.read_frame_rgb8(stored)
    assert rgb8.dtype == np.uint8 and rgb8.shape == (16, 24, 3)


@pytest.mark.parametrize("big_endian", [True, False])
def test_dpx_written_to_the_standard_reads_exactly(tmp_path, big_endian):
    codes = np.random.default_rng(2).integers(0, 1024, (18, 30, 3))
    path = h.write_dpx(tmp_path / "A001_1001.dpx", codes, timecode="01:00:10:05", fps=23.976,
                       big_endian=big_endian)
    pixels, bits = seq.read_dpx(path)
    assert bits == 10 and pixels.shape == (18, 30, 3)
    assert np.array_equal(pixels.astype(int) * 1023 // 65535 + (pixels.astype(int) * 1023 % 65535 > 32767), codes)
    stored = tmp_path / "0123abcd"  # no suffix: recognised by its magic bytes
    stored.write_bytes(path.read_bytes())
    rgb8 = seq.read_frame_rgb8(stored)
    assert np.abs(rgb8.astype(int) - np.round(codes * 255 / 1023)).max() <= 1
    assert seq.frame_size(stored) == (30, 18)
    assert seq.frame_metadata(stored) == {"fps": Fraction(24000, 1001), "timecode": "01:00:10:05"}


def test_truncated_and_oversized_dpx_are_refused_before_pixels_are_read(tmp_path):
    path = h.write_dpx(tmp_path / "f.dpx", np.zeros((64, 64, 3), int))
    cut = tmp_path / "cut.dpx"
    cut.write_bytes(path.read_bytes()[: 2048 + 1000])
    with pytest.raises(ParseError):
        seq.read_frame_rgb8(cut)
    huge = bytearray(path.read_bytes())
    struct.pack_into(">II", huge, 772, 10000, 10000)  # pixels per line, lines per element
    (tmp_path / "huge.dpx").write_bytes(bytes(huge))
    with pytest.raises(InputError, match="8K"):
        seq.read_frame_rgb8(tmp_path / "huge.dpx")
    junk = tmp_path / "junk.dpx"
    junk.write_bytes(b"SDPX" + bytes(100))
    with pytest.raises(ParseError):
        seq.read_frame_rgb8(junk)


def test_exr_rate_and_timecode_written_by_openimageio_are_read(tmp_path):
    oiio = pytest.importorskip("OpenImageIO")
    path = tmp_path / "plate_1001.exr"
    spec = oiio.ImageSpec(16, 8, 3, "half")
    spec.attribute("FramesPerSecond", oiio.TypeDesc("rational"), (25, 1))
    spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), (0x10203000, 0))  # BCD hh mm ss ff
    out = oiio.ImageOutput.create(str(path))
    out.open(str(path), spec)
    out.write_image(np.full((8, 16, 3), 0.18, np.float16))
    out.close()
    meta = seq.frame_metadata(path)
    assert meta["fps"] == Fraction(25) and meta["timecode"] == "10:20:30:00"
    assert seq.frame_size(path) == (16, 8)


def test_exr_header_claiming_a_huge_frame_is_refused(tmp_path):
    path = tmp_path / "plate.exr"
    seq.write_exr(path, np.zeros((8, 8, 3), np.float32))
    data = bytearray(path.read_bytes())
    at = data.index(b"dataWindow\x00box2i\x00") + len(b"dataWindow\x00box2i\x00") + 4  # after the size field
    struct.pack_into("<iiii", data, at, 0, 0, 9999, 9999)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="8K"):
        seq.read_frame_rgb8(path)
