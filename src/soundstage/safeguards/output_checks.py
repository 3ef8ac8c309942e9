"""Trust but verify: the guard's checks that a backend's output carries its mark before anything
is signed or registered (``safeguards.guard`` calls them at step 7).

A backend marks clips frame by frame and voice outputs segment by segment itself (the guard marks
stills); these decode the output again and refuse it unless the watermark carries the asset id the
guard reserved for it: across the clip (``check_clip_marked``, docs/decisions/DR020) or in every
synthetic or altered audio segment (``check_audio_marked``, DR017). They read files only.
"""

from __future__ import annotations

from pathlib import Path

from soundstage.errors import RefusedError
from soundstage.media.video import iter_frames, sample_frame_groups
from soundstage.safeguards.watermark.audio import default_audio_engine
from soundstage.vfx.media import probe
from soundstage.voice.pcm import read_track


#: runs of frames decoded from across a backend's clip to check its mark: four evenly spaced runs
#: reach the later chunks of a clip that workers encoded chunk by chunk. Three frames a run: since
#: the mark is capped on skin (DR015), a small face close-up carries less of it per frame - a
#: 512x288 pan across a face at CRF 16 failed a two-frame run in 33 of 60 ids, a three-frame run
#: in 0 of 60 (and 0 of 60 before the cap with two)
CLIP_CHECK_RUNS, CLIP_CHECK_RUN_FRAMES = 4, 3
#: where a run of three does not read, the check is made again with runs of up to this many frames
#: (each within its chunk: they stop at the next keyframe) before the clip is refused. A
#: face composited over a flat background (the demo's background replacement over a mood board,
#: 640x360) carries the mark on the background's 0.3 grey levels and the face's skin cap only, and
#: a three-frame run missed it for some ids (a fresh-clone CI run refused the demo's output); twelve
#: frames read it where three did not (DR020 amendment)
CLIP_CHECK_RETRY_FRAMES = 12


def check_clip_marked(path: Path, asset_id: int, engine) -> None:
    """Trust but verify: a backend's clip must carry its id in the watermark, across the clip:
    every run of frames sampled across it reads the id, with runs of CLIP_CHECK_RUN_FRAMES or,
    failing that, of CLIP_CHECK_RETRY_FRAMES."""
    for per_run in (CLIP_CHECK_RUN_FRAMES, CLIP_CHECK_RETRY_FRAMES):
        if all(_reads_id(engine, run, asset_id) for run in _check_runs(path, per_run)):
            return
    raise RefusedError(f"the backend's output {path.name} is not watermarked with its asset id "
                       "throughout; refusing to register unmarked media")


def _reads_id(engine, run: list, asset_id: int) -> bool:
    detection = engine.detect_frames(run)
    return detection.found and detection.payload == asset_id


def _check_runs(path: Path, per_run: int) -> list[list]:
    """CLIP_CHECK_RUNS runs of ``per_run`` frames from across the clip."""
    runs = sample_frame_groups(path, groups=CLIP_CHECK_RUNS, per_group=per_run,
                               within_gop=per_run > CLIP_CHECK_RUN_FRAMES)
    if len(runs) < CLIP_CHECK_RUNS:
        # too few keyframes to seek to (a backend's own single-GOP encode): every seek lands on the
        # first frames, so a clip marked only at its start would pass; decode through it instead
        runs = _spaced_runs(path, CLIP_CHECK_RUNS, per_run) or runs
    return runs


def _spaced_runs(path: Path, groups: int, per_group: int) -> list[list]:
    """Runs of ``per_group`` frames starting at ``groups`` evenly spaced frames, first to last,
    decoded in one forward pass (only the runs are kept in memory)."""
    count = probe(path).frame_count
    if count <= per_group:
        return []
    starts = sorted({round(k * (count - per_group) / max(1, groups - 1)) for k in range(groups)})
    runs: dict[int, list] = {start: [] for start in starts}
    for index, frame in enumerate(iter_frames(path, max_frames=count)):
        for start in starts:
            if start <= index < start + per_group:
                runs[start].append(frame)
    return [run for run in runs.values() if run]


def check_audio_marked(frame, asset_id: int, key: bytes | None):
    """Trust but verify: every synthetic or altered segment of a voice output carries its asset id in
    the audio mark. Returns the audio engine (what the manifest and the ledger name)."""
    engine = default_audio_engine(key)
    if frame.payload != asset_id:
        raise RefusedError(f"audio {frame.name} carries payload {frame.payload:x}, not its reserved id")
    if not frame.segments:
        raise RefusedError(f"audio {frame.name} declares no synthetic segment; nothing says where its mark is")
    samples, rate = read_track(frame.path)
    samples = samples.astype("float32", copy=False)
    for start, end in frame.segments:
        a, b = max(0, int(round(start * rate))), min(samples.shape[0], int(round(end * rate)))
        detection = engine.detect(samples[a:b], rate) if b > a else None
        if detection is None or not detection.found or detection.payload != asset_id:
            raise RefusedError(f"the backend's output {frame.name} is not watermarked with its asset id in the "
                               f"altered segment {start:.2f}-{end:.2f} s; refusing to register unmarked audio")
    return engine
