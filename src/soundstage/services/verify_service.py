"""`soundstage verify`: what is this file, who made it, and can the answer be trusted?

Three independent witnesses, combined into one plain verdict:
1. the C2PA manifest (Trusted / Valid / Invalid / Absent, with the spec's status codes);
2. the invisible watermark, which survives when the manifest is stripped;
3. the ledger, when a workspace is open: job, approvals, consents, quarantine, and the
   original manifest of a file whose credentials were removed.

The ledger is searched by the watermark's asset id, and by the asset id in our own manifest
assertion only when that manifest is trusted: the contents of an untrusted or invalid manifest are
never believed, only compared with the watermark so that a disagreement is reported (``identity``).
A record found is credited with the file only on evidence nobody else can make: a mark read with the
production's secret key, or a trusted manifest naming that production (`_add_identity_and_ledger`).

What can be verified (`verify_target` tells them apart):
- a file: its embedded manifest, else its sidecar beside it (``X.png.c2pa``, then ``X.c2pa``), or the
  sidecar named with ``--sidecar``;
- a sidecar alone (``X.c2pa``): signature and assertions checked, the binding to the file not;
- a frame sequence (``plate.%04d.exr``, ``plate.####.exr`` or a glob ``plate.*.exr``) with its sidecar
  (``plate.c2pa`` beside the frames, or ``--sidecar``): the verdict names the frames that changed,
  went missing or appeared. A sequence signed in parts (``plate.part0001.c2pa``, ...) is read from
  every part found by that name; the verdict also names a part that is missing or not of the same
  signing, and the frames no part covers.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select

from soundstage.errors import InputError, NotFoundError, ParseError, SoundstageError, UnsafeInputError
from soundstage.media.audio import audio_length, read_audio, read_audio_spans
from soundstage.media.images import read_image
from soundstage.media.video import StreamedSpan, consecutive_spans, stream_spans, video_length
from soundstage.safeguards import keys
from soundstage.safeguards.guard import format_asset_id, parse_asset_id
from soundstage.safeguards.provenance import (
    MAX_SEQUENCE_FRAMES,
    Credentials,
    CredentialState,
    read_credentials,
    read_sidecar,
    read_with_sidecar,
    sequence_parts,
    sidecar_candidates,
    sniff_mime,
    verify_sequence,
)
from soundstage.safeguards.provenance.media import SIDECAR_MAX_BYTES
from soundstage.safeguards.provenance.reading import ExplanationKind, explain_codes, timestamp_codes
from soundstage.safeguards.watermark import MIN_SIDE as WATERMARK_MIN_SIDE
from soundstage.safeguards.watermark import detect_frames_with_keys, detect_with_keys
from soundstage.safeguards.watermark.audio import MAX_DETECT_SECONDS, Sound, default_audio_engine
from soundstage.store.models import Approval, Asset, Job, Person, Production

__all__ = ["SIDECAR_MAX_BYTES", "verify_target", "verify_file", "verify_sidecar", "verify_sequence_pattern",
           "verify_frames", "expand_sequence", "failed", "verdict", "identify", "trust_anchors", "detect_watermark",
           "c2pa_summary", "manifest_validates", "format_window", "watermark_line"]

IPTC_LABELS = {
    "trainedAlgorithmicMedia": "AI-generated",
    "compositeWithTrainedAlgorithmicMedia": "AI-edited",
    "algorithmicMedia": "procedurally generated (no generative AI)",
    # non-generative networks may have located or segmented (docs/decisions/DR009): no pixel is AI-made
    "algorithmicallyEnhanced": "algorithmically altered (no generative AI)",
    "composite": "composite of elements (none declared AI-made)",
    "digitalCapture": "camera original",
}


def trust_anchors(ws) -> list[bytes]:
    """The certificates a reader in this workspace trusts (``keys.trust_anchors``, the one list the
    guard's read-back uses too); none without a workspace."""
    return [] if ws is None else keys.trust_anchors(ws.settings)


#: a clip is read in spans of this many frames (2 s at 24 fps): the head first, as one read
VIDEO_SPAN_FRAMES = 48
#: at most this many spans of a clip are read, the head included: a clip of up to 16 spans (32 s at
#: 24 fps) is read whole, span after span; a longer one at 16 evenly spaced starts, the last ending
#: with the clip. Unmarked, each span costs ~1.9 s to read at 1080p (a 2-hour 1080p film: ~30 s,
#: docs/design/watermark.md "Verification reads")
MAX_VIDEO_SPANS = 16


def detect_watermark(path: Path, key: bytes | None = None, *,
                     progress: Callable[[int, int], None] | None = None, whole: bool = False) -> dict | None:
    """Look for a mark on a still, in spans over a clip's whole duration, or in windows over a sound
    file's: with the production's secret ``key`` first, then with the public default key
    (workspaces made before production keys). Every read (a still, a span of a clip, a sound file's
    head and each of its windows) is made with both keys, their key-independent work done once.
    ``progress``
    hears (reads done, reads planned) while the rest is read. The result says where the mark was
    found (``window``, seconds), how many reads were made, and the false-positive rate over all of
    them (the union bound: the found read's rate times the number of reads; confidence is one
    minus it). ``whole``: every span of a clip and every window of a sound file, however long, decoded
    on from start to end (`soundstage verify --whole`; its time has no bound, so the command line
    only: the API and the web page keep the bounds). A clip or sound file's result also says how far
    it was read (``scan``: the parts read of the parts the whole file has, and whether the parts
    read were spread over it)."""
    kind = media_kind(path)
    if kind == "audio":
        return _detect_audio_watermark(path, key, progress, whole=whole)
    if kind == "video":
        return _detect_video_watermark(path, key, progress, whole=whole)
    if kind in ("document", "unmarked"):
        return None     # a PDF (storyboards, reports), a plate, a scene: Content Credentials only
    if kind is None:
        raise ParseError("not an image, video or sound file this reader knows (unrecognised leading bytes), so no "
                         "watermark was looked for", source=path.name)
    frame = read_image(path)
    if min(frame.shape[:2]) < WATERMARK_MIN_SIDE:
        # a thumbnail or icon: nothing was marked this small, so there is nothing to look for (not a failure)
        return {"found": False, "looked": False, "key": None, "reads": 0,
                "reason": f"at {frame.shape[1]}x{frame.shape[0]} the picture is too small to carry a watermark "
                          f"(under {WATERMARK_MIN_SIDE} px a side), so none was looked for"}
    candidates = _key_candidates(key)
    reads = 0
    for (name, _), detection in zip(candidates, detect_with_keys(frame, [k for _, k in candidates])):
        reads += 1
        if detection.found:
            break
    return _watermark_result(detection, name, reads, None)


#: leading bytes of the still, video and sound formats the watermark is read from (after
#: `sniff_mime`'s JPEG / PNG / MP4 / MOV / WAV / MP3 / M4A / PDF)
_MORE_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"II*\x00", "image"), (0, b"MM\x00*", "image"), (0, b"BM", "image"),        # TIFF, BMP
    (0, b"\x1aE\xdf\xa3", "video"),                                               # Matroska / WebM
    (0, b"fLaC", "audio"), (0, b"OggS", "audio"),
    # what a production makes that carries its credentials in a sidecar and no watermark by design
    (0, b"\x76\x2f\x31\x01", "unmarked"), (0, b"SDPX", "unmarked"), (0, b"XPDS", "unmarked"),   # EXR, DPX
    (0, b"BLENDER", "unmarked"), (0, b"glTF", "unmarked"),                                    # .blend, glb
)


def media_kind(path: Path) -> str | None:
    """"image", "video", "audio", "document" (PDF) or "unmarked" (EXR, DPX, .blend, glb: no watermark by
    design) from the file's leading bytes, never from its name (a renamed or extension-less copy is
    read all the same); None for anything else."""
    with open(path, "rb") as handle:
        head = handle.read(64)
    try:
        mime = sniff_mime(head, path.name)
    except ParseError:
        mime = None
    if mime is not None:
        return {"image": "image", "video": "video", "audio": "audio"}.get(mime.split("/")[0], "document")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:    # ADTS AAC (layer bits 00)
        return "audio"
    return next((kind for at, magic, kind in _MORE_MAGIC if head[at:at + len(magic)] == magic), None)


def _key_candidates(key: bytes | None) -> list[tuple[str, bytes | None]]:
    """The keys a read is made with, named as the result names them: the production's, then the
    public default one (workspaces made before production keys, other installs)."""
    return ([("production", key)] if key else []) + [("public default", None)]


def format_window(start: float, end: float) -> str:
    """Where in a file, as a person reads it: 6.00-8.00 s, 3:07.50-3:09.50, 1:02:03.00-1:02:05.00."""
    if end < 60:
        return f"{start:.2f}-{end:.2f} s"

    def clock(seconds: float) -> str:
        minutes, rest = divmod(float(seconds), 60.0)
        hours, minutes = divmod(int(minutes), 60)
        return f"{hours}:{minutes:02d}:{rest:05.2f}" if hours else f"{minutes}:{rest:05.2f}"

    return f"{clock(start)}-{clock(end)}"


def watermark_line(watermark: dict) -> str:
    """A mark found, in one line as the CLI and the web page show it: where in the file, with which
    key (the production's, or the public default one of workspaces made before production keys and
    of other soundstage installs), the payload, the reads made and the false-positive rate."""
    where = f" at {format_window(*watermark['window'])}" if watermark.get("window") else ""
    reads = watermark.get("reads", 1)
    payload = watermark.get("payload") or "unreadable"
    return (f"watermark found{where} with the {watermark.get('key')} key (payload {payload}, {reads} "
            f"read{'s' if reads != 1 else ''}, false-positive rate {watermark.get('false_positive_rate', 1.0):.1e})")


def not_found_line(watermark: dict) -> str:
    """No mark, in one line as the CLI and the web page show it: how many reads were made and, for a
    long clip or sound file read in parts spread over it, how many of its parts that was."""
    reads = watermark.get("reads", 1)
    scan = watermark.get("scan") or {}
    if scan.get("spread"):
        return (f"not found ({reads} read{'s' if reads != 1 else ''}: {scan['planned']:,} of the file's "
                f"{scan['whole']:,} {scan['unit']}, spread over it; soundstage verify --whole reads them all)")
    return f"not found ({reads} read{'s' if reads != 1 else ''})"


def _scan(unit: str, planned: int, whole: int | None) -> dict:
    """How far a clip or sound file is read: ``planned`` parts (the head counted as one) of the
    ``whole`` it has (None: its header does not say); ``spread`` when the bound left parts out
    between them (a read that finds the mark stops there)."""
    return {"unit": unit, "planned": planned, "whole": whole, "spread": whole is not None and planned < whole}


def _watermark_result(detection, key_name: str, reads: int, window: tuple[float, float] | None,
                      scan: dict | None = None) -> dict:
    """The ``watermark`` part of a result: a mark found carries the union bound over ``reads``."""
    fpr = min(1.0, detection.false_positive_rate * reads) if detection.found else detection.false_positive_rate
    return {"engine": detection.engine, "found": detection.found, "key": key_name if detection.found else None,
            "payload": format_asset_id(detection.payload) if detection.payload is not None else None,
            "confidence": 1.0 - fpr if detection.found else detection.confidence,
            "false_positive_rate": fpr, "reads": reads,
            **({"window": [window[0], window[1]]} if window is not None and detection.found else {}),
            **({"scan": scan} if scan is not None else {})}


def _video_span_starts(duration: float | None, span_seconds: float) -> list[float]:
    """Where the spans of a clip of ``duration`` seconds start: every span_seconds (the last ending
    with the clip) when MAX_VIDEO_SPANS cover it, else MAX_VIDEO_SPANS evenly spaced, the first at 0
    and the last ending with the clip. A duration the header does not give: the head alone."""
    if duration is None or not math.isfinite(duration) or duration <= span_seconds or span_seconds <= 0:
        return [0.0]
    count = math.ceil(duration / span_seconds - 1e-9)
    if count <= MAX_VIDEO_SPANS:
        return [round(min(k * span_seconds, duration - span_seconds), 3) for k in range(count)]
    step = (duration - span_seconds) / (MAX_VIDEO_SPANS - 1)
    return [round(k * step, 3) for k in range(MAX_VIDEO_SPANS)]


def _video_span_count(duration: float | None, span_seconds: float) -> int | None:
    """How many spans a clip of ``duration`` seconds has (None: the header does not say)."""
    if duration is None or not math.isfinite(duration) or span_seconds <= 0:
        return None
    return max(1, math.ceil(duration / span_seconds - 1e-9))


def _detect_video_watermark(path: Path, key: bytes | None, progress: Callable[[int, int], None] | None,
                            *, whole: bool = False) -> dict:
    candidates = _key_candidates(key)
    keys = [k for _, k in candidates]
    duration, rate = video_length(path)   # from its packets: a header may understate the length to hide a tail
    count = _video_span_count(duration, VIDEO_SPAN_FRAMES / rate)
    if whole:
        spans: Iterable[StreamedSpan] = consecutive_spans(path, rate, frames_per_span=VIDEO_SPAN_FRAMES)
        planned = count or 0
    else:
        starts = _video_span_starts(duration, VIDEO_SPAN_FRAMES / rate)
        spans, planned = stream_spans(path, starts, max_frames=VIDEO_SPAN_FRAMES), len(starts)
    scan = _scan("spans", planned, count)
    reads, detection, name = 0, None, candidates[0][0]
    for index, span in enumerate(spans):
        # every span with every key, in one pass over its frames (a second key adds ~20% to a span's
        # reading, not 100%: watermark.detect_frames_with_keys), decoded as they are read: one RGB frame
        # in memory at a time, however large (an 8K span held whole is 4.8 GB)
        frames = iter(span.frames)
        head = list(itertools.islice(frames, 2))
        detections = detect_frames_with_keys(itertools.chain(head, frames), keys) if len(head) > 1 \
            else list(detect_with_keys(head[0], keys))
        for (name, _), detection in zip(candidates, detections):
            reads += 1
            if detection.found:
                return _watermark_result(detection, name, reads, (span.start, span.end), scan)
        if progress is not None and (planned > 1 or whole):
            progress(index + 1, max(planned, index + 1))   # a header's length is an estimate
    if whole:   # read to the last frame: what was read is the whole clip, whatever its header said
        scan = _scan("spans", index + 1, index + 1)
    return _watermark_result(detection, name, reads, None, scan)


#: a voice line's mark may cover only its altered window, MIN_MARK_SECONDS (1.25 s) and up, of a
#: longer plate; read whole, the head dilutes it (DR017 amendment). So the head is also read in
#: windows of 2 s, each 0.75 s after the last: any marked span of at least MIN_MARK_SECONDS lies
#: whole inside one (hop <= window - 1.25 s) and is at least 62.5% of it (24/24 read; 2.5 s
#: windows, where it can be half, read 19/24)
AUDIO_SCAN_WINDOW_SECONDS = 2.0
AUDIO_SCAN_HOP_SECONDS = 0.75
#: at most this many 2 s windows are read after the head (MAX_DETECT_SECONDS) of a longer sound
#: file: on the head's grid (every 0.75 s) up to 2 min 20 s, evenly spaced over the rest of a
#: longer one. Unmarked, a window costs ~0.1 s (a 2-hour file: 14-22 s more than its head,
#: docs/design/watermark.md "Verification reads")
MAX_AUDIO_SCAN_WINDOWS = 160


def _audio_windows(n: int, rate: int) -> list[tuple[int, int]]:
    """The windows ``[a, b)`` the head of ``n`` samples is read in after the whole (none when the
    head is not longer than one window: the whole read was that window)."""
    width, hop = int(round(AUDIO_SCAN_WINDOW_SECONDS * rate)), int(round(AUDIO_SCAN_HOP_SECONDS * rate))
    if n <= width:
        return []
    starts = list(range(0, n - width + 1, hop))
    if starts[-1] + width < n:
        starts.append(n - width)  # the last window ends with the head
    return [(a, a + width) for a in starts]


def _audio_scan_windows(duration: float | None, head_seconds: float) -> list[tuple[float, float]]:
    """The 2 s windows ``(start, end)`` (seconds) read after a head of ``head_seconds`` in a sound
    file of ``duration`` seconds: on the head's grid (every AUDIO_SCAN_HOP_SECONDS, the first after
    the head's last window, the last ending with the file) when MAX_AUDIO_SCAN_WINDOWS cover the
    rest, else that many evenly spaced over it. A duration the header does not give: the grid,
    as far as the bound reaches (the reader stops at the end of the file)."""
    first = _audio_grid_first(head_seconds)
    if duration is None or not math.isfinite(duration):
        return list(itertools.islice(_audio_grid(first, None), MAX_AUDIO_SCAN_WINDOWS))
    count = _audio_grid_count(duration, head_seconds)
    if count <= MAX_AUDIO_SCAN_WINDOWS:
        return list(_audio_grid(first, duration)) if count else []
    width, last = AUDIO_SCAN_WINDOW_SECONDS, duration - AUDIO_SCAN_WINDOW_SECONDS
    step = (last - first) / (MAX_AUDIO_SCAN_WINDOWS - 1)
    return [(round(first + k * step, 3), round(first + k * step + width, 3)) for k in range(MAX_AUDIO_SCAN_WINDOWS)]


def _audio_grid(first: float, duration: float | None) -> Iterator[tuple[float, float]]:
    """``--whole``: 2 s windows every AUDIO_SCAN_HOP_SECONDS from ``first`` on, the last ending with
    the file; without a duration, on until the reader finds the end. Lazy: a header's duration is not
    trusted to be small."""
    width, hop = AUDIO_SCAN_WINDOW_SECONDS, AUDIO_SCAN_HOP_SECONDS
    for k in itertools.count():
        start = first + k * hop
        if duration is not None and start + width > duration + 1e-6:
            last = duration - width
            if k == 0 or last > first + (k - 1) * hop + 1e-6:  # the window before did not end with the file
                yield round(max(last, 0.0), 3), round(duration, 3)
            return
        yield round(start, 3), round(start + width, 3)


def _audio_grid_first(head_seconds: float) -> float:
    """Where the grid of windows after a head of ``head_seconds`` starts: the head's next window."""
    width, hop = AUDIO_SCAN_WINDOW_SECONDS, AUDIO_SCAN_HOP_SECONDS
    return (math.floor((head_seconds - width) / hop + 1e-9) + 1) * hop


def _audio_grid_count(duration: float | None, head_seconds: float) -> int | None:
    """How many windows the whole grid after the head has (``_audio_grid``), by arithmetic."""
    if duration is None or not math.isfinite(duration):
        return None
    if duration <= head_seconds + 1e-3:
        return 0
    first, width, hop = _audio_grid_first(head_seconds), AUDIO_SCAN_WINDOW_SECONDS, AUDIO_SCAN_HOP_SECONDS
    last = duration - width
    count = max(math.floor((last - first) / hop + 1e-9) + 1, 0)
    return count + (1 if count == 0 or first + (count - 1) * hop + width < duration - 1e-6 else 0)


def _detect_audio_watermark(path: Path, key: bytes | None,
                            progress: Callable[[int, int], None] | None = None, *, whole: bool = False) -> dict:
    """The audio mark (io.soundstage.audio.1) in a sound file, with the production's key and the
    public default key, each read of the file's sound made with both (their key-independent work
    done once: ``audio.Sound``): the first MAX_DETECT_SECONDS (the head) read whole; then the head
    in windows (``_audio_windows``: a short line's mark in a longer plate) and a longer file in
    windows after the head (``_audio_scan_windows``, sought, at most MAX_AUDIO_SCAN_WINDOWS). The
    false-positive rate reported with a mark found is the union bound over every read made (each
    read's bound times their number)."""
    samples, rate = read_audio(path, max_seconds=MAX_DETECT_SECONDS, head_only=True)
    head = samples.shape[0] / rate
    candidates = _key_candidates(key)
    engines = [(name, default_audio_engine(candidate)) for name, candidate in candidates]
    inside = _audio_windows(samples.shape[0], rate)
    after: Iterable[tuple[float, float]] = []
    planned, every = len(inside), len(inside)
    if samples.shape[0] >= int(MAX_DETECT_SECONDS * rate):  # the head was cut: the file may go on
        duration = audio_length(path)   # from its packets: a header may understate the length
        if duration is not None and duration < head:
            duration = None   # says less than was just decoded: not a length to believe
        bounded = _audio_scan_windows(duration, head)
        grid = _audio_grid_count(duration, head)
        # --whole: the grid on until the decoder finds the end (a header may understate the length)
        after = _audio_grid(_audio_grid_first(head), None) if whole else bounded
        planned += grid if whole and grid is not None else len(bounded)
        every = None if grid is None else len(inside) + grid
    scan = _scan("windows", 1 + planned, None if every is None else 1 + every)
    reads, done = 0, 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, max(planned, done))   # a header's length is an estimate: never past the total

    def read(part: Any, part_rate: int) -> tuple[str, Any]:
        """Each key's reading of one excerpt in turn, up to the first that finds the mark: (key
        name, detection) of that one, else of the last."""
        nonlocal reads
        sound = Sound(part, part_rate)
        for engine_name, engine in engines:
            reads += 1
            seen = engine.read(sound)
            if seen.found:
                break
        return engine_name, seen

    name, detection = read(samples, rate)
    if detection.found:
        return _watermark_result(detection, name, reads, (0.0, round(head, 3)), scan)
    for a, b in inside:
        name, detection = read(samples[a:b], rate)
        tick()
        if detection.found:
            return _watermark_result(detection, name, reads, (round(a / rate, 3), round(b / rate, 3)), scan)
    del samples
    for start, part, part_rate in read_audio_spans(path, after) if after else ():
        name, detection = read(part, part_rate)
        tick()
        if detection.found:
            return _watermark_result(detection, name, reads, (start, round(start + part.shape[0] / part_rate, 3)),
                                     scan)
    if whole:   # read to the end: what was read is the whole file, whatever its header said
        scan.update(planned=1 + done, whole=1 + done, spread=False)
    return _watermark_result(detection, name, reads, None, scan)


def c2pa_summary(creds) -> dict:
    """The ``c2pa`` part of a verification result, from a reading (embedded, sidecar or sequence)."""
    return {
        "state": creds.state.value if hasattr(creds.state, "value") else str(creds.state),
        "status_codes": list(creds.status_codes), "failure_codes": list(creds.failure_codes),
        "active_manifest": creds.active_manifest, "generator": creds.generator,
        "actions": list(creds.actions), "digital_source_types": list(creds.digital_source_types),
        "signer": creds.signer_common_name, "issuer": creds.signer_issuer,
        "soundstage": creds.soundstage,
        "timestamp_codes": list(timestamp_codes(creds)), "signing_time": creds.signing_time,
    }


def _trust(ws) -> tuple[list[bytes], Path | None]:
    anchors = trust_anchors(ws)
    trust_list = ws.settings.trust_list if ws is not None else None
    if trust_list is not None and not trust_list.is_file():
        raise InputError(f"configured trust list not found: {trust_list}")
    return anchors, trust_list


def verify_target(target: str | Path, ws=None, *, sidecar: Path | None = None,
                  progress: Callable[[int, int], None] | None = None, whole: bool = False) -> dict:
    """`soundstage verify TARGET`: a file (with its sidecar, if it has one), a sidecar alone, or a
    frame-sequence pattern, told apart by what exists on disk. ``progress`` hears how far the
    watermark scan of a long clip or sound file is (`detect_watermark`)."""
    path = Path(target)
    if path.is_file():
        if path.suffix.lower() == ".c2pa" and sidecar is None:
            return verify_sidecar(path, ws)
        return verify_file(path, ws, sidecar=sidecar, progress=progress, whole=whole)
    if SEQUENCE_TOKEN.search(path.name):
        return verify_sequence_pattern(str(target), ws, sidecar=sidecar)
    raise NotFoundError(f"file not found: {path.name}",
                        hint="a frame sequence is named with %04d, #### or a glob such as 'plate.*.exr' (quoted)")


def verify_file(path: Path, ws=None, *, sidecar: Path | None = None,
                progress: Callable[[int, int], None] | None = None, whole: bool = False) -> dict:
    """One file: its embedded manifest, else its sidecar beside it (or `sidecar`). A `.c2pa` given
    alone is read as a sidecar (`verify_sidecar`)."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"file not found: {path.name}")
    if sidecar is None and path.suffix.lower() == ".c2pa":
        return verify_sidecar(path, ws)
    anchors, trust_list = _trust(ws)
    try:
        creds, used = _file_credentials(path, sidecar, anchors, trust_list)
        unreadable = None
    except DamagedCredentials as exc:
        creds, used, unreadable = Credentials(state=CredentialState.INVALID, failure_codes=("general.error",)), \
            exc.sidecar, exc.reason
    result: dict = {"file": str(path), "c2pa": c2pa_summary(creds), "sidecar": str(used) if used else None}
    if used is None and sidecar is None and creds.state is not CredentialState.ABSENT:
        beside = next((c for c in sidecar_candidates(path) if c.is_file()), None)
        if beside is not None:
            result["sidecar_not_read"] = str(beside)
    if unreadable is not None:
        # damaged or forged credentials are a finding about the file, not bad input: the watermark is
        # still read and the ledger still searched (c2pa's "general.error": no specific code applies)
        result["c2pa"]["error"] = f"the Content Credentials cannot be read ({unreadable}): damaged or forged"
    try:
        result["watermark"] = detect_watermark(path, ws.watermark_key if ws is not None else None,
                                               progress=progress, whole=whole)
    except SoundstageError as exc:
        result["watermark"] = {"found": False, "error": exc.one_line()}
    _add_identity_and_ledger(result, ws, anchors)
    result["verdict"] = verdict(result)
    if result.get("sidecar_not_read"):
        result["verdict"] += (f"; the sidecar beside it ({Path(result['sidecar_not_read']).name}) was not read: "
                              "credentials embedded in a file come first (check it with --sidecar)")
    return result


class DamagedCredentials(Exception):
    """A file's embedded manifest, or the sidecar read for it, is there but cannot be parsed."""

    def __init__(self, reason: str, sidecar: Path | None) -> None:
        super().__init__(reason)
        self.reason, self.sidecar = reason, sidecar


def _file_credentials(path: Path, sidecar: Path | None, anchors: list[bytes], trust_list: Path | None):
    """(reading, sidecar used): embedded credentials first, as c2pa-rs reads a file; then a sidecar.
    Credentials that are there but cannot be parsed raise `DamagedCredentials` (the file itself is
    checked first: an empty or missing one stays an input error)."""
    trust = {"trust_anchors": anchors or None, "trust_list": trust_list}
    if path.stat().st_size == 0:
        raise ParseError("the file is empty", source=path.name)
    if sidecar is not None:
        return _read_sidecar_for(path, Path(sidecar), trust), Path(sidecar)
    with open(path, "rb") as handle:
        head = handle.read(16)
    try:
        sniff_mime(head, path.name)
    except ParseError:
        embedded = None  # a type that cannot carry an embedded manifest (EXR, .blend, glTF...)
    else:
        try:
            embedded = read_credentials(path, **trust)
        except ParseError as exc:
            if "asset could not be parsed" in str(exc):
                raise       # the file itself is broken (c2pa could not read the media around a manifest)
            raise DamagedCredentials(_reason(exc), None) from exc
        if embedded.state is not CredentialState.ABSENT:
            return embedded, None
    beside = next((c for c in sidecar_candidates(path) if c.is_file()), None)
    if beside is not None:
        return _read_sidecar_for(path, beside, trust), beside
    return embedded or Credentials(state=CredentialState.ABSENT), None


def _read_sidecar_for(path: Path, sidecar: Path, trust: dict):
    try:
        return read_with_sidecar(path, sidecar, **trust)
    except ParseError as exc:
        if "trust anchors" in str(exc):
            raise   # this workspace's own configuration, not the file's
        raise DamagedCredentials(f"sidecar {sidecar.name}: {_reason(exc)}", sidecar) from exc


def _reason(exc: ParseError) -> str:
    """What c2pa said about credentials it could not parse, without the file name and our own preamble."""
    text = exc.one_line()
    if exc.source and text.startswith(f"{exc.source}: "):
        text = text[len(exc.source) + 2:]
    for preamble in ("Content Credentials unreadable: ", "not a readable C2PA sidecar: "):
        text = text.removeprefix(preamble)
    return text


def verify_sidecar(path: Path, ws=None) -> dict:
    """A `.c2pa` sidecar without its asset: who signed what, and whether the signature and every
    assertion hash hold. Its binding to the asset is not checked, and the verdict says so."""
    path = Path(path)
    anchors, trust_list = _trust(ws)
    reading = read_sidecar(path, trust_anchors=anchors or None, trust_list=trust_list)
    binding: dict = {"checked": False, "assertion": reading.binding, "sha256": reading.bound_sha256,
                     "unchecked_codes": list(reading.unchecked)}
    if reading.frame_index is not None:
        binding["frame_index"] = {"schema": reading.frame_index.schema,
                                  "frames": [{"name": f.name, "sha256": f.sha256} for f in reading.frame_index.frames]}
        if reading.frame_index.part is not None:
            binding["frame_index"]["part"] = reading.frame_index.part.to_dict()
    result: dict = {"file": str(path), "sidecar": str(path), "c2pa": c2pa_summary(reading.credentials),
                    "binding": binding, "watermark": None}
    _add_identity_and_ledger(result, ws, anchors)
    ledger = result["ledger"] or {}
    if ledger.get("found") and reading.bound_sha256 and reading.frame_index is None:
        binding["matches_ledger"] = ledger.get("sha256") == reading.bound_sha256
    result["verdict"] = verdict(result) + "; " + _sidecar_note(result)
    return result


def verify_sequence_pattern(pattern: str, ws=None, *, sidecar: Path | None = None) -> dict:
    """Frames named by a pattern, against their sequence sidecar: which frames changed, went
    missing or appeared."""
    frames, candidates = expand_sequence(pattern)
    if not frames:
        # a typo in a pattern is not a tampered sequence: say that nothing matched (a sequence whose
        # frames were all removed is the same finding, and is told the same way)
        raise NotFoundError(f"no file matches {Path(pattern).name} in {Path(pattern).parent}",
                            hint="check the pattern's name, digits and extension; quote it so the shell does not "
                                 "expand it")
    if sidecar is None:
        found: Path | list[Path] | None = next((c for c in candidates if c.is_file()), None)
        if found is None:  # a sequence signed in parts: plate.part0001.c2pa, ...
            found = next((parts for c in candidates if (parts := sequence_parts(c))), None)
        if found is None:
            looked = ", ".join(f"{c.name} (or {c.stem}.part0001.c2pa, ...)" for c in candidates) \
                or "nothing (the pattern has no name before the frame number)"
            raise NotFoundError(f"no sidecar found for {Path(pattern).name}: looked for {looked}",
                                hint="name it with --sidecar PATH")
        return verify_frames(frames, found, ws, label=str(pattern))
    named = Path(sidecar)
    parts = sequence_parts(named) if named.is_file() and _names_a_part(named) else []
    return verify_frames(frames, parts or named, ws, label=str(pattern))


def _names_a_part(path: Path) -> bool:
    """``X.part0002.c2pa``: one part of a sequence signed in parts (its siblings are read with it)."""
    return re.search(r"\.part\d{4,}\Z", path.stem) is not None


def verify_frames(frames: list[Path], sidecar: Path | list[Path], ws=None, *, label: str) -> dict:
    """Frames (in any order) against their sequence sidecar, or every part of a sequence signed in
    parts; `label` is what the result calls them."""
    anchors, trust_list = _trust(ws)
    sidecars = [Path(s) for s in sidecar] if isinstance(sidecar, (list, tuple)) else [Path(sidecar)]
    checked = verify_sequence(frames, sidecars if len(sidecars) > 1 else sidecars[0],
                              trust_anchors=anchors or None, trust_list=trust_list)
    result: dict = {
        "file": label, "sidecar": str(sidecars[0]), "c2pa": c2pa_summary(checked.credentials),
        "sequence": {"schema": checked.schema, "frames_signed": checked.frames_signed, "frames_found": len(frames),
                     "changed": list(checked.changed), "missing": list(checked.missing),
                     "unexpected": list(checked.unexpected), "index_authentic": checked.index_authentic},
        "watermark": None,
    }
    if checked.parts_expected:
        result["sidecars"] = [str(s) for s in sidecars]
        result["sequence"].update({
            "parts_expected": checked.parts_expected, "parts_missing": list(checked.parts_missing),
            "parts_problem": checked.parts_problem,
            "parts": [{"sidecar": p.sidecar, "part": p.index, "state": p.credentials.state.value,
                       "failure_codes": list(p.credentials.failure_codes), "frames_signed": p.frames_signed,
                       "first": p.first, "last": p.last, "changed": list(p.changed), "missing": list(p.missing)}
                      for p in checked.parts]})
    _add_identity_and_ledger(result, ws, anchors)
    result["verdict"] = verdict(result) + "; " + _sequence_note(result["sequence"])
    return result


def failed(result: dict) -> bool:
    """Whether a verification is a failure (exit 1): invalid credentials, a quarantined asset, a
    watermark naming another asset than the manifest, a public-key mark naming an asset its
    production marks with its secret key (forged), credentials from an untrusted signer naming one
    of the production's assets (impersonation) or that
    contradict the production's record of how the asset was made, a trusted manifest naming an asset
    of this ledger as another production's, a sequence whose frames differ, or a file with no valid
    credentials that could not even be decoded to look for the watermark (nothing about it was
    verified)."""
    sequence = result.get("sequence") or {}
    unread = bool((result.get("watermark") or {}).get("error")) and result["c2pa"]["state"] not in ("Trusted", "Valid")
    identity = result.get("identity") or {}
    ledger = result.get("ledger") or {}
    return (result["c2pa"]["state"] == "Invalid" or (ledger.get("status") == "quarantined" and not identity.get("forged"))
            or unread
            or identity.get("agree") is False or bool(identity.get("forged")) or bool(identity.get("disputed_kind"))
            or bool(identity.get("impersonates"))
            or bool(ledger.get("found") and identity.get("source") == "manifest" and not identity.get("attributed"))
            or bool(sequence.get("changed") or sequence.get("missing") or sequence.get("unexpected"))
            or bool(sequence.get("parts_missing") or sequence.get("parts_problem"))
            or any(p.get("state") not in ("Trusted", "Valid") for p in sequence.get("parts") or []))


def _add_identity_and_ledger(result: dict, ws, anchors: list[bytes]) -> None:
    """The asset the believable witnesses name (`identify`), its ledger record, and whether that
    record may be credited with the file (`identity["attributed"]`):
    - a mark read with the production's secret key: only the production can make it;
    - a trusted manifest whose record names this ledger's production for that asset;
    - a mark read with the public default key names an asset, but anyone can embed that key's
      mark with any id (ids are in every manifest): a pointer, never proof of origin; and where
      the asset's own signed record says it was marked with the production's key, a public-key
      mark naming it is a forgery (``identity["forged"]``)."""
    identity = result["identity"] = identify(result)
    asset_ref = identity["asset"]
    ledger = result["ledger"] = _ledger_record(ws, asset_ref, anchors) if (ws is not None and asset_ref) else None
    identity["attributed"] = False
    claim = _normalised_ref(identity["manifest"])
    if ledger is None and ws is not None and claim is not None and result["c2pa"].get("state") == "Valid":
        # credentials intact but signed by someone this production does not trust, naming one of its
        # assets: looked up only to say so, never to credit the file
        named = _ledger_record(ws, claim, anchors)
        if named.get("found"):
            identity["impersonates"] = {"asset": named["asset"], "production": named["production"]}
    if ledger is None:
        return
    ledger["found_by"] = identity["source"]
    if not ledger.get("found"):
        return
    if identity["source"] == "watermark":
        if identity["watermark_key"] == "production":
            identity["attributed"] = True
        elif ledger.get("marked_with") == "production":
            identity["forged"] = True
    else:
        claimed = (result["c2pa"].get("soundstage") or {}).get("production_id")
        if claimed == ledger.get("production_id"):
            identity["attributed"] = True
        else:
            identity["other_production"] = claimed if isinstance(claimed, str) else None
    # an untrusted signer's word on how the file was made, against the production's own record
    claimed_kind = _kind_label(result["c2pa"].get("digital_source_types") or [])
    original_kind = _kind_label((ledger.get("original_manifest") or {}).get("digital_source_types") or [])
    if identity["attributed"] and not manifest_trusted(result["c2pa"]) and manifest_validates(result["c2pa"]) \
            and claimed_kind and original_kind and claimed_kind != original_kind:
        identity["disputed_kind"] = claimed_kind


def _sidecar_note(result: dict) -> str:
    binding = result["binding"]
    index = binding.get("frame_index")
    if index is not None and index.get("part"):
        part = index["part"]
        note = (f"sidecar read alone: it signs part {part['index']} of {part['count']} of a sequence of "
                f"{part['frames_total']} frames ({len(index['frames'])} frames here), which were not checked; verify "
                "the frames with every part beside them: soundstage verify 'NAME.%04d.EXT'")
    elif index is not None:
        note = (f"sidecar read alone: it signs a sequence of {len(index['frames'])} frames, which were not "
                "checked; verify them with: soundstage verify 'NAME.%04d.EXT' --sidecar " + Path(result["file"]).name)
    elif binding.get("sha256"):
        note = (f"sidecar read alone: its binding to the file was not checked (it binds a file whose SHA-256 is "
                f"{binding['sha256']}); verify the file with this sidecar beside it")
    else:
        note = (f"sidecar read alone: its binding ({binding.get('assertion') or 'none found'}) to the file was not "
                "checked; verify the file with this sidecar beside it")
    if binding.get("matches_ledger") is True:
        note += "; the ledger's stored file has that SHA-256"
    elif binding.get("matches_ledger") is False:
        note += "; the ledger's stored file has ANOTHER SHA-256"
    return note


def _sequence_note(sequence: dict) -> str:
    in_parts = bool(sequence.get("parts_expected"))
    notes = []
    if in_parts:
        expected, missing = sequence["parts_expected"], sequence.get("parts_missing") or []
        notes.append(f"signed in {expected} parts, {expected - len(missing)} read")
        if missing:
            notes.append(f"part{'s' if len(missing) != 1 else ''} {', '.join(str(n) for n in missing[:10])}"
                         f"{f' and {len(missing) - 10} more' if len(missing) > 10 else ''} of {expected} MISSING")
        if sequence.get("parts_problem"):
            notes.append(f"the parts do not make up one signed sequence: {sequence['parts_problem']}")
        for part in sequence.get("parts") or []:
            if part["state"] not in ("Trusted", "Valid"):
                notes.append(f"part {part['part']} ({part['sidecar']}, {part['first']} to {part['last']}) reads "
                             f"{part['state']} ({', '.join(part['failure_codes']) or 'no codes'})")
    if not sequence["index_authentic"]:
        notes.append("the signed frame list itself failed its signature check, so which frames changed cannot be said")
        return "; ".join(notes)
    unexpected = "covered by no part" if in_parts else "not in the signed list"
    for key, word in (("changed", "changed"), ("missing", "missing"), ("unexpected", unexpected)):
        names = sequence[key]
        if names:
            shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
            notes.append(f"{len(names)} frame{'s' if len(names) != 1 else ''} {word}: {shown}")
    if not notes or (in_parts and len(notes) == 1):
        notes.append(f"all {sequence['frames_signed']} signed frames present and unchanged")
    return "; ".join(notes)


# --------------------------------------------------------------------------- sequence patterns

#: what makes a name a sequence pattern: printf (%04d, %d), hashes (####) or a glob (*, ?, [...])
SEQUENCE_TOKEN = re.compile(r"%0?(\d*)d|#+|[*?]|\[[^\]/]*\]")
#: most frames a pattern may expand to (a stray '*' in a big folder is refused, not hashed): the most a
#: sequence is signed with (provenance.MAX_SEQUENCE_FRAMES)


def expand_sequence(pattern: str | Path) -> tuple[list[Path], tuple[Path, ...]]:
    """The frames a pattern names, in frame order, and where its sidecar is looked for
    (``<name before the frame number>.c2pa`` in the same folder). No frame is not an error here
    (`verify_sequence_pattern` refuses a pattern that matches nothing)."""
    path = Path(pattern)
    folder, name = path.parent, path.name
    tokens = list(SEQUENCE_TOKEN.finditer(name))
    if not tokens:
        raise InputError(f"{name} is not a sequence pattern", hint="e.g. 'plate.%04d.exr', 'plate.####.exr' or "
                                                                   "'plate.*.exr'")
    if not folder.is_dir():
        raise NotFoundError(f"folder {folder.name or folder} does not exist")
    regex, pos = "", 0
    for token in tokens:
        regex += re.escape(name[pos:token.start()])
        text = token.group(0)
        if text.startswith("%"):
            width = int(token.group(1) or 1)
            if width > 12:
                raise InputError(f"{name}: a frame number of {width} digits is not a frame number",
                                 hint="e.g. 'plate.%04d.exr'")
            regex += rf"(\d{{{width},}})"
        elif text.startswith("#"):
            regex += rf"(\d{{{len(text)},}})"
        elif text == "*":
            regex += "(.*)"
        elif text == "?":
            regex += "(.)"
        else:
            body = text[1:-1]  # a glob class: [0-9], [!a]
            negate, body = body.startswith("!"), body[1:] if body.startswith("!") else body
            body = body.replace("\\", "\\\\").replace("[", "\\[")
            regex += "([" + ("^" if negate else "\\" if body.startswith("^") else "") + body + "])"
        pos = token.end()
    try:
        matcher = re.compile(regex + re.escape(name[pos:]) + r"\Z", re.S)
    except (re.error, OverflowError, ValueError) as exc:
        raise InputError(f"{name} is not a valid sequence pattern ({exc})",
                         hint="e.g. 'plate.%04d.exr', 'plate.####.exr', 'plate.*.exr' or 'plate.[0-9]*.exr'") from None
    found: list[tuple[tuple, Path]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            match = matcher.match(entry.name)
            if not match or entry.name.endswith((".c2pa", ".sha256")) or not entry.is_file():
                continue
            if len(found) >= MAX_SEQUENCE_FRAMES:
                raise UnsafeInputError(f"{name} matches more than {MAX_SEQUENCE_FRAMES} files",
                                       hint="narrow the pattern")
            key = tuple((0, int(g), "") if g.isdigit() else (1, 0, g) for g in match.groups())
            found.append(((key, entry.name), folder / entry.name))
    # the name before the frame number; a glob may start inside the number ('plate.10[0-9][0-9].exr')
    before = name[:tokens[0].start()]
    stems = dict.fromkeys(s for s in (before.rstrip("._- "), before.rstrip("0123456789").rstrip("._- ")) if s)
    return [p for _, p in sorted(found)], tuple(folder / f"{stem}.c2pa" for stem in stems)


def manifest_validates(c2pa: dict) -> bool:
    """A manifest whose signature and hashes verify: intact, whoever signed it."""
    return c2pa.get("state") in ("Trusted", "Valid")


def manifest_trusted(c2pa: dict) -> bool:
    """A manifest signed by a signer this workspace trusts: the only kind whose record may name a
    ledger row or say how the file was made. Anyone can sign a Valid manifest with a certificate
    of their own making, naming any asset id and any source type."""
    return c2pa.get("state") == "Trusted"


def identify(result: dict) -> dict:
    """Which asset the file is, from the witnesses that can be believed.

    The watermark payload comes first: it is not in the file's metadata, so editing the manifest
    cannot change it (which key read it decides whether it is credited: `_add_identity_and_ledger`).
    The manifest's own record (our assertion's ``asset_id``) is used only when the manifest is
    trusted; an untrusted or invalid manifest's contents are never looked up, only compared with
    the watermark so that a disagreement is reported.
    """
    wm = result.get("watermark") or {}
    c2pa = result["c2pa"]
    watermark_ref = _normalised_ref(wm.get("payload")) if wm.get("found") else None
    record = c2pa.get("soundstage")
    claim = record.get("asset_id") if isinstance(record, dict) else None
    claim = claim if isinstance(claim, str) else None
    manifest_ref = _normalised_ref(claim)
    valid = manifest_validates(c2pa)
    if watermark_ref is not None:
        asset, source = watermark_ref, "watermark"
    elif manifest_ref is not None and manifest_trusted(c2pa):
        asset, source = manifest_ref, "manifest"
    else:
        asset, source = None, None
    agree = None if watermark_ref is None or claim is None else watermark_ref == manifest_ref
    return {"asset": asset, "source": source, "watermark": watermark_ref, "manifest": claim,
            "manifest_valid": valid, "agree": agree,
            "watermark_key": wm.get("key") if watermark_ref is not None else None}


def _normalised_ref(value: str | None) -> str | None:
    """An asset id as the ledger spells it, or None for anything that is not one."""
    if value is None:
        return None
    try:
        return format_asset_id(parse_asset_id(value))
    except InputError:
        return None


def _ledger_record(ws, asset_ref: str, anchors: list[bytes]) -> dict | None:

    with ws.reading() as s:
        asset = s.get(Asset, parse_asset_id(asset_ref))
        if asset is None:
            return {"found": False, "asset": asset_ref}
        prod = s.get(Production, asset.production_id)
        record = {"found": True, "asset": format_asset_id(asset.id), "name": asset.name, "status": asset.status,
                  "production": prod.title if prod else asset.production_id, "production_id": asset.production_id,
                  "job": asset.job_id, "sha256": asset.sha256, "approved_by": []}
        if asset.job_id:
            job = s.get(Job, asset.job_id)
            record["operation"] = job.kind if job else None
            record["requested_by"] = job.requested_by if job else None
            for a in s.scalars(select(Approval).where(Approval.job_id == asset.job_id, Approval.verdict == "approve")):
                person = s.get(Person, a.person_id)
                record["approved_by"].append({"name": person.name if person else a.person_id,
                                              "role": a.role.split(":")[0]})
        stored = ws.store.path_for(asset.sha256)
        sidecar_sha = (asset.details or {}).get("c2pa_sidecar_sha256")
    if stored.is_file():
        try:
            if sidecar_sha and ws.store.exists(sidecar_sha):
                original = read_with_sidecar(stored, ws.store.path_for(sidecar_sha), trust_anchors=anchors or None)
            else:
                original = read_credentials(stored, trust_anchors=anchors or None)
        except ParseError:  # a stored file of a type that carries no manifest, and no sidecar
            return record
        record["original_manifest"] = {"state": str(getattr(original.state, "value", original.state)),
                                       "label": original.active_manifest,
                                       "digital_source_types": list(original.digital_source_types)}
        if original.state is CredentialState.TRUSTED and isinstance(original.watermark, dict) \
                and isinstance(original.watermark.get("keyed"), bool):
            record["marked_with"] = "production" if original.watermark["keyed"] else "public default"
    return record


def _kind_label(types: list[str]) -> str | None:
    for t in types:
        term = t.strip().rsplit("/", 1)[-1]
        if term in IPTC_LABELS:
            return IPTC_LABELS[term]
    return None


def verdict(result: dict) -> str:
    c2pa = result["c2pa"]
    wm = result.get("watermark") or {}
    ledger = result.get("ledger") or {}
    state = c2pa["state"]
    identity = result.get("identity") or {}
    parts: list[str] = []
    credited = bool(ledger.get("found") and identity.get("attributed"))
    # how the file was made: from a trusted manifest, else from the production's own record of an asset
    # the file is credited to; an untrusted signer's word is reported as its word, an invalid one not at all
    kind = (_kind_label(c2pa["digital_source_types"]) if manifest_trusted(c2pa) else None) or (
        _kind_label(ledger.get("original_manifest", {}).get("digital_source_types", [])) if credited else None)
    claimed = _kind_label(c2pa["digital_source_types"]) if state == "Valid" else None
    if identity.get("impersonates"):
        named = identity["impersonates"]
        parts.append(f"IMPERSONATION: credentials signed by someone this production does not trust name its asset "
                     f"{named['asset']} (production {named['production']}); not credited")
    if identity.get("forged"):
        parts.append(f"FORGED WATERMARK: a mark made with the public default key names asset {ledger['asset']} of "
                     f"production {ledger['production']}, which marks its assets with its own secret key; this "
                     "file was not marked by that production")
    elif credited:
        who = f"by production {ledger['production']}"
        if ledger.get("job"):
            who += f", job {ledger['job']}"
        if ledger.get("approved_by"):
            who += ", approved by " + ", ".join(f"{a['name']} ({a['role']})" for a in ledger["approved_by"])
        parts.append(f"{kind or 'made'} {who}")
        if ledger.get("status") == "quarantined":
            parts.append("QUARANTINED: a consent it relied on was revoked; do not use")
    elif ledger.get("found") and identity.get("source") == "manifest":
        parts.append(f"the manifest names asset {ledger['asset']} of production "
                     f"{identity.get('other_production') or 'unknown'}, but this ledger's asset "
                     f"{ledger['asset']} is production {ledger['production']}'s: not credited to it")
    elif ledger.get("found"):
        parts.append(f"a watermark made with the public default key names asset {ledger['asset']} of production "
                     f"{ledger['production']}: anyone can make such a mark, so it points to that asset but does "
                     "not prove where this file came from")
        if ledger.get("status") == "quarantined":
            parts.append("that asset is QUARANTINED: a consent it relied on was revoked; do not use")
    elif kind:
        parts.append(kind)
    if identity.get("disputed_kind"):
        parts.append(f"its credentials, signed by someone this production does not trust, call it "
                     f"{identity['disputed_kind']}: the production's own record says otherwise")
    elif claimed and not credited:
        parts.append(f"its signer (not in your trust list) declares it {claimed}")
    if identity.get("agree") is False:
        parts.append(f"the watermark carries asset {identity['watermark']} but the manifest names asset "
                     f"{identity['manifest']}" + ("" if identity.get("manifest_valid") else
                                                  " (not believed: the manifest failed validation)"))
    if state in ("Trusted", "Valid"):
        trust = "credentials intact and signed by a trusted production" if state == "Trusted" else \
            "credentials intact (signer not in your trust list)"
        parts.append(trust)
    elif state == "Invalid":
        # why it is invalid, from its codes: an expired certificate without a trusted time-stamp is not
        # a tampered file (c2pa-rs reports time-stamps among its success/informational codes)
        why = explain_codes(state, c2pa["failure_codes"], c2pa["status_codes"], c2pa.get("timestamp_codes"))
        codes = ", ".join(c2pa["failure_codes"] or c2pa["status_codes"])
        label = {ExplanationKind.EXPIRED_NO_TIMESTAMP: "EXPIRED",
                 ExplanationKind.REVOKED: "REVOKED"}.get(why.kind, "INVALID")
        text = c2pa["error"] if c2pa.get("error") else why.text
        parts.append(f"credentials {label} ({codes}): {text}")
    else:
        if wm.get("found") and credited:
            original = ledger.get("original_manifest", {})
            held = original.get("state") in ("Trusted", "Valid", "Invalid")
            parts.append(f"no Content Credentials in the file; its watermark, made with the production's secret key, "
                         f"identifies asset {ledger['asset']}" + (f", whose original credentials the ledger holds "
                                                                  f"({original['state']})" if held else ""))
        elif wm.get("found") and not ledger.get("found"):
            parts.append(f"no Content Credentials, but a soundstage watermark is present (payload "
                         f"{wm.get('payload')}, read with the {wm.get('key')} key, false-positive rate "
                         f"{wm.get('false_positive_rate', 1):.1e})")
        elif wm.get("found"):
            parts.append("no Content Credentials")
        elif wm.get("error"):
            parts.append("no Content Credentials, and the file could not be decoded to look for a watermark")
        elif wm.get("looked") is False:
            parts.append("no Content Credentials; " + str(wm.get("reason")))
        else:
            parts.append("no Content Credentials and no soundstage watermark found")
    text = "; ".join(parts)
    return text[0].upper() + text[1:]
