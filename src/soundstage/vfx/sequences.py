"""Image sequences: shot_####.exr patterns, gap detection, PNG (Pillow), EXR (OpenEXR) and DPX
(OpenImageIO) frames.

Files are recognised by their magic bytes, not their suffix (stored assets have no suffix). Every
reader checks the frame size from the header before it decodes pixels (8K UHD at most), so a
hostile header cannot make us allocate gigabytes.

The operations work on 8-bit display-referred RGB: EXR (scene-linear) is converted with the sRGB
curve; DPX code values (10/12/16-bit, usually log-encoded) are scaled to 8 bits as they are, without
a LUT, which is how a plate looks in a viewer without a show LUT. Colour management beyond that is
out of scope here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from soundstage.errors import InputError, NotFoundError, ParseError
from soundstage.files import sha256_file

__all__ = ["Sequence", "find_sequence", "read_frame_rgb8", "read_exr", "read_dpx", "frame_format", "frame_size",
           "frame_metadata", "SEQUENCE_MEDIA_TYPE", "SequenceFrame", "SequenceIndex", "scan_sequence",
           "write_exr", "write_png"]

EXR_MAGIC = b"\x76\x2f\x31\x01"
DPX_MAGICS = (b"SDPX", b"XPDS")
_PATTERN = re.compile(r"^(?P<prefix>.*?)(?P<hashes>#+)(?P<suffix>\.[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class Sequence:
    pattern: str
    frames: tuple[int, ...]  # frame numbers found, ascending
    paths: tuple[Path, ...]
    gaps: tuple[int, ...]  # frame numbers missing between first and last

    @property
    def complete(self) -> bool:
        return not self.gaps


def find_sequence(pattern: str | Path) -> Sequence:
    """``/shots/shot_####.exr`` -> the frames present and the gaps between first and last."""
    pattern = Path(pattern)
    match = _PATTERN.match(pattern.name)
    if not match:
        raise InputError(f"{pattern.name}: not a sequence pattern", hint="e.g. shot_####.exr")
    width = len(match["hashes"])
    regex = re.compile(re.escape(match["prefix"]) + rf"(\d{{{width},}})" + re.escape(match["suffix"]) + "$")
    found: dict[int, Path] = {}
    for candidate in pattern.parent.glob(match["prefix"] + "*" + match["suffix"]):
        number = regex.match(candidate.name)
        if number:
            found[int(number.group(1))] = candidate
    if not found:
        raise NotFoundError(f"no frames match {pattern}")
    numbers = sorted(found)
    gaps = tuple(sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers)))
    return Sequence(str(pattern), tuple(numbers), tuple(found[n] for n in numbers), gaps)


def write_png(path: Path, rgb: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(rgb).save(path)


def write_exr(path: Path, rgb: np.ndarray, *, half: bool = True) -> None:
    """Linear float RGB (HxWx3) to an EXR with half (default) or float channels."""
    import OpenEXR

    data = np.ascontiguousarray(rgb, dtype=np.float16 if half else np.float32)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    channels = {name: np.ascontiguousarray(data[:, :, i]) for i, name in enumerate("RGB")}
    with OpenEXR.File(header, channels) as exr:
        exr.write(str(path))


def _check_size(width: int, height: int, path: Path) -> None:
    from soundstage.vfx.media import check_frame_size

    check_frame_size(width, height, source=Path(path).name)


def _exr_size(path: Path) -> tuple[int, int]:
    import OpenEXR

    try:
        with OpenEXR.File(str(path), header_only=True) as exr:
            (x0, y0), (x1, y1) = exr.header()["dataWindow"]
    except Exception as exc:  # noqa: BLE001 - OpenEXR raises plain exceptions for corrupt files
        raise ParseError(f"not a readable EXR ({str(exc).splitlines()[0]})", source=Path(path).name) from None
    return int(x1 - x0 + 1), int(y1 - y0 + 1)


def read_exr(path: Path) -> np.ndarray:
    """HxWx3 float32 (R, G, B)."""
    import OpenEXR

    _check_size(*_exr_size(path), path)
    try:
        with OpenEXR.File(str(path), separate_channels=True) as exr:
            channels = exr.channels()
            if not all(c in channels for c in "RGB"):
                raise ParseError(f"EXR has channels {sorted(channels)}; R, G and B are needed", source=Path(path).name)
            return np.stack([channels[c].pixels.astype(np.float32) for c in "RGB"], axis=-1)
    except ParseError:
        raise
    except Exception as exc:  # noqa: BLE001 - OpenEXR raises plain exceptions for corrupt files
        raise ParseError(f"not a readable EXR ({exc})", source=Path(path).name) from None


def _open_dpx(path: Path):
    try:
        import OpenImageIO as oiio
    except ImportError as exc:
        raise InputError(f"{Path(path).name}: DPX needs OpenImageIO ({exc})", hint="pip install 'OpenImageIO<3.1'") \
            from None
    image = oiio.ImageInput.open(str(path))
    if image is None:
        raise ParseError(f"not a readable DPX ({oiio.geterror().strip() or 'unknown error'})", source=Path(path).name)
    return oiio, image


def _check_dpx_length(path: Path) -> None:
    """A DPX header records the whole file's length: a shorter file lost its tail in transfer
    (the decoder would fill the missing rows with black rather than fail)."""
    import struct

    with Path(path).open("rb") as fh:
        head = fh.read(20)
    if len(head) < 20:
        raise ParseError("not a readable DPX (header too short)", source=Path(path).name)
    declared = struct.unpack(">I" if head[:4] == b"SDPX" else "<I", head[16:20])[0]
    actual = Path(path).stat().st_size
    if declared and actual < declared:
        raise ParseError(f"DPX is truncated: {actual} of {declared} bytes", source=Path(path).name,
                         hint="re-transfer the frame")


def read_dpx(path: Path) -> tuple[np.ndarray, int]:
    """(HxWx3 uint16 code values scaled to 0..65535, bits per sample) of a DPX frame."""
    _check_dpx_length(path)
    oiio, image = _open_dpx(path)
    try:
        spec = image.spec()
        _check_size(spec.width, spec.height, path)
        if spec.nchannels < 3:
            raise ParseError(f"DPX has {spec.nchannels} channel(s); RGB is needed", source=Path(path).name)
        bits = int(spec.get_int_attribute("oiio:BitsPerSample", 16))
        pixels = image.read_image(0, 0, 0, 3, "uint16")
        if pixels is None or pixels.shape != (spec.height, spec.width, 3):
            raise ParseError(f"DPX pixels cannot be read ({oiio.geterror().strip() or 'truncated?'})",
                             source=Path(path).name)
        return np.ascontiguousarray(pixels), bits
    finally:
        image.close()


def frame_format(path: Path) -> str:
    """"exr", "dpx" or "image" (anything Pillow reads), from the file's magic bytes."""
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(4)
    except FileNotFoundError:
        raise NotFoundError(f"image not found: {Path(path).name}") from None
    if head == EXR_MAGIC:
        return "exr"
    if head in DPX_MAGICS:
        return "dpx"
    return "image"


def frame_size(path: Path) -> tuple[int, int]:
    """(width, height) from the header alone."""
    kind = frame_format(path)
    if kind == "exr":
        return _exr_size(path)
    if kind == "dpx":
        _, image = _open_dpx(path)
        try:
            return int(image.spec().width), int(image.spec().height)
        finally:
            image.close()
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as exc:
        raise ParseError(f"not a readable image ({exc})", source=Path(path).name) from None


def read_frame_rgb8(path: Path) -> np.ndarray:
    """Any supported still as HxWx3 uint8 RGB (EXR: linear -> sRGB, clipped) for the operations."""
    path = Path(path)
    kind = frame_format(path)
    if kind == "exr":
        linear = np.clip(read_exr(path), 0.0, 1.0)
        srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)
        return (srgb * 255 + 0.5).astype(np.uint8)
    if kind == "dpx":
        pixels, _bits = read_dpx(path)
        return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    from soundstage.media.images import read_image

    return read_image(path)


def frame_metadata(path: Path) -> dict[str, object]:
    """Frame rate and timecode a frame's header declares (DPX film/TV header, EXR
    ``framesPerSecond``/``timeCode``); an empty dict when it declares none."""
    kind = frame_format(path)
    found: dict[str, object] = {}
    if kind == "dpx":
        _, image = _open_dpx(path)
        try:
            spec = image.spec()
            rate = spec.get_float_attribute("dpx:FrameRate", 0.0) or spec.get_float_attribute(
                "dpx:TemporalFrameRate", 0.0)
            timecode = spec.get_string_attribute("dpx:TimeCode", "")
        finally:
            image.close()
        if 0 < rate < 1000:
            found["fps"] = _nominal_rate(rate)
        if re.fullmatch(r"\d\d:\d\d:\d\d[:;]\d\d", timecode or "") and timecode != "00:00:00:00":
            found["timecode"] = timecode
    elif kind == "exr":
        import OpenEXR

        try:
            with OpenEXR.File(str(path), header_only=True) as exr:  # read inside: the header is a live view
                header = exr.header()
                rate = header.get("framesPerSecond", header.get("FramesPerSecond"))
                if isinstance(rate, Fraction) and rate > 0:
                    found["fps"] = rate
                elif rate is not None and getattr(rate, "denom", 0):  # older bindings: a Rational
                    found["fps"] = Fraction(int(rate.num), int(rate.denom))
                tc = header.get("timeCode")
                if tc is not None:
                    found["timecode"] = f"{tc.hours:02d}:{tc.minutes:02d}:{tc.seconds:02d}:{tc.frame:02d}"
        except Exception:  # noqa: BLE001 - read_exr reports unreadable files; metadata is optional
            return {}
    return found


def _nominal_rate(rate: float):
    """A DPX header stores the rate as a float: 23.976 means 24000/1001."""
    for exact in (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001)):
        if abs(rate - float(exact)) < 0.002:
            return exact
    return Fraction(rate).limit_denominator(1001)


# ------------------------------------------------------------------ image sequences as ledger assets

#: media type of a sequence asset: its stored content is the frame index below; each frame is
#: stored as its own content-addressed blob, named in the index by its sha256
SEQUENCE_MEDIA_TYPE = "application/vnd.soundstage.image-sequence+json"
INDEX_VERSION = 1


@dataclass(frozen=True)
class SequenceFrame:
    number: int
    name: str
    sha256: str


@dataclass(frozen=True)
class SequenceIndex:
    """What a sequence asset is: the pattern, rate, size, timecode and every frame's hash."""

    pattern: str
    fps: Fraction
    width: int
    height: int
    format: str  # exr | dpx | image
    frames: tuple[SequenceFrame, ...]
    timecode: str | None = None

    def to_bytes(self) -> bytes:
        """Canonical JSON: the same sequence always has the same bytes, so the same asset hash."""
        import json

        body = {"soundstage": "image-sequence", "version": INDEX_VERSION, "pattern": self.pattern,
                "fps": f"{self.fps.numerator}/{self.fps.denominator}", "width": self.width, "height": self.height,
                "format": self.format, "timecode": self.timecode,
                "frames": [{"number": f.number, "name": f.name, "sha256": f.sha256} for f in self.frames]}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "sequence index") -> "SequenceIndex":
        import json

        try:
            body = json.loads(data)
            if body.get("soundstage") != "image-sequence" or body.get("version") != INDEX_VERSION:
                raise ValueError("not a soundstage image-sequence index (version 1)")
            frames = tuple(SequenceFrame(int(f["number"]), str(f["name"]), str(f["sha256"])) for f in body["frames"])
            if not frames or any(len(f.sha256) != 64 for f in frames):
                raise ValueError("no frames, or a frame without a sha256")
            return cls(pattern=str(body["pattern"]), fps=Fraction(body["fps"]), width=int(body["width"]),
                       height=int(body["height"]), format=str(body["format"]), frames=frames,
                       timecode=body.get("timecode"))
        except (ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
            raise ParseError(f"not a readable sequence index ({exc})", source=source) from None


def scan_sequence(pattern: str | Path, *, fps=None, progress=None) -> tuple[SequenceIndex, tuple[Path, ...]]:
    """Check every frame of ``shot_####.ext`` and describe the sequence (nothing is stored here).

    Refused with one line: gaps in the numbering, frames of another format or size, frames that do
    not decode (each is read in full: a truncated frame in the middle is found now, not in a job),
    frames over 8K. The rate and timecode come from ``fps`` if given, else from the first frame's
    header, else 24 fps."""

    found = find_sequence(pattern)
    if found.gaps:
        shown = ", ".join(str(n) for n in found.gaps[:5]) + (" ..." if len(found.gaps) > 5 else "")
        raise InputError(f"{Path(found.pattern).name}: {len(found.gaps)} frame(s) missing from the sequence "
                         f"({shown})", hint="re-export the missing frames; a plate with holes is not processed")
    first = found.paths[0]
    kind = frame_format(first)
    width, height = frame_size(first)
    meta = frame_metadata(first)
    frames = []
    for count, (number, path) in enumerate(zip(found.frames, found.paths), start=1):
        if frame_format(path) != kind:
            raise InputError(f"{path.name} is not a {kind.upper()} like the first frame of the sequence")
        # a full decode (a truncated frame raises ParseError naming it); the header's size is checked
        # against 8K before any pixel is read
        h, w = read_frame_rgb8(path).shape[:2]
        if (w, h) != (width, height):
            raise InputError(f"{path.name} is {w}x{h}; the sequence starts at {width}x{height}")
        frames.append(SequenceFrame(number, path.name, sha256_file(path)))
        if progress:
            progress(count, len(found.paths))
    rate = Fraction(fps) if fps is not None else meta.get("fps") or Fraction(24)
    if rate <= 0 or rate > 1000:
        raise InputError(f"frame rate {rate} is not plausible")
    return (SequenceIndex(pattern=Path(found.pattern).name, fps=Fraction(rate), width=width, height=height,
                          format=kind, frames=tuple(frames), timecode=meta.get("timecode")),
            found.paths)
