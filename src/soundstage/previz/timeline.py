"""The edit timeline: one clip per shot, each carrying its asset id and Content Credentials id.

OTIO keeps arbitrary metadata, so every clip records where its frame came from. A CMX 3600 EDL
cannot hold metadata, so the clip name itself carries the shot and the asset id (the EDL's
"FROM CLIP NAME" comment) - an editor's NLE still shows which ledger asset each cut is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundstage.errors import BackendError, ParseError
from soundstage.files import atomic_path

LABEL = "temporary previz media"


@dataclass(frozen=True)
class TimelineClip:
    shot: str
    scene: str
    seconds: float
    media_path: Path
    asset_id: str
    c2pa_manifest: str
    watermark_payload: str
    title: str = ""

    @property
    def clip_name(self) -> str:
        return f"{self.shot} {self.asset_id}"


def _otio():
    try:
        import opentimelineio as otio
    except ImportError as exc:  # pragma: no cover - a packaging problem
        raise BackendError("OpenTimelineIO is not installed (pip install opentimelineio otio-cmx3600-adapter)") from exc
    return otio


def build_timeline(name: str, clips: list[TimelineClip], *, fps: int = 24) -> Any:
    """A timeline with one video track; durations are whole frames at ``fps``."""
    otio = _otio()
    timeline = otio.schema.Timeline(name=name)
    timeline.metadata["soundstage"] = {"label": LABEL, "shots": len(clips)}
    track = otio.schema.Track(name="previz", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for clip in clips:
        frames = max(1, round(clip.seconds * fps))
        rng = otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps), otio.opentime.RationalTime(frames, fps))
        ref = otio.schema.ExternalReference(target_url=Path(clip.media_path).resolve().as_uri(),
                                            available_range=rng)
        item = otio.schema.Clip(name=clip.clip_name, media_reference=ref, source_range=rng)
        item.metadata["soundstage"] = {
            "asset_id": clip.asset_id, "c2pa_manifest": clip.c2pa_manifest, "shot": clip.shot, "scene": clip.scene,
            "watermark_payload": clip.watermark_payload, "label": LABEL, "title": clip.title,
        }
        item.metadata["cmx_3600"] = {"reel": clip.asset_id[:8].upper() or "AX"}  # reel = the asset, not a hash path
        track.append(item)
    return timeline


def _atomic(path: Path, write) -> Path:
    with atomic_path(path) as tmp:
        write(str(tmp))
    return Path(path)


def write_otio(timeline: Any, path: Path) -> Path:
    otio = _otio()
    return _atomic(path, lambda tmp: otio.adapters.write_to_file(timeline, tmp, adapter_name="otio_json"))


def write_edl(timeline: Any, path: Path) -> Path:
    otio = _otio()
    try:
        text = otio.adapters.write_to_string(timeline, adapter_name="cmx_3600")
    except Exception as exc:  # the adapter raises plain exceptions; one line for the user
        raise BackendError(f"cannot write the EDL (is otio-cmx3600-adapter installed?): {exc}") from None
    return _atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def read_timeline(path: Path) -> Any:
    otio = _otio()
    adapter = "cmx_3600" if Path(path).suffix.lower() == ".edl" else "otio_json"
    try:
        return otio.adapters.read_from_file(str(path), adapter_name=adapter)
    except Exception as exc:
        raise ParseError(f"not a readable timeline ({exc})".splitlines()[0], source=Path(path).name) from None


def clip_records(timeline: Any) -> list[dict[str, Any]]:
    """What each clip of a timeline says about itself: name, duration, soundstage metadata."""
    records = []
    for clip in timeline.find_clips():
        rate = clip.source_range.duration.rate
        records.append({"name": clip.name, "seconds": clip.source_range.duration.value / rate,
                        "soundstage": dict(clip.metadata.get("soundstage", {}))})
    return records
