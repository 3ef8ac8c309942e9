"""VFX benchmark: a de-aged 1080p clip end to end through the guarded path, against the codec alone.

Everything runs in one process tree, in one run, on the same clip, so the ratios are fair:

* **end to end**: a workspace in a temp dir, a performer with a covering consent (signed document)
  and an enrolled reference (a crop of the same face), the de-age job submitted through
  ``vfx_service`` / ``jobs_service``, escalated, approved by the role holders; the last approval runs
  it: probe -> decode -> track -> de-age -> watermark -> H.264 encode per chunk (in the workers) ->
  segments joined (audio passed through) -> watermark check -> C2PA sign -> register. fps = frames / wall time of that run.
* **codec only**: a plain decode + encode of the same plate with the same writer and settings
  (``soundstage.vfx.media.VideoWriter``, codec "h264"). Ratio = e2e fps / codec fps (goal >= 0.5).
* **Dask**: the same chunked de-age FrameJob on a LocalCluster of 1 and of 2 worker processes
  (workers warmed first: model loading is not what is measured).
* **jitter**: raw FaceMesh landmarks vs the windowed One Euro landmarks the operations use, on a
  static shot with sensor noise (px RMS around each landmark's mean position).

    .venv/bin/python bench/vfx.py               # 1080p: a 2 s (48 frames) and a 10 s (240 frames) clip
    .venv/bin/python bench/vfx.py --frames 96   # one clip of 96 frames
    .venv/bin/python bench/vfx.py --quick       # 720p, 24 frames

A short clip pays fixed costs the codec does not (two workers start and load their models; the
guard decodes 8 frames to check the mark); a long one shows the per-frame cost. Both are printed,
each cold (a one-shot CLI command: the job starts its workers) and warm (the next job in the same
process, as in the server: the pool kept its workers and their models).

The clip is scikit-image's astronaut photograph with a slow push-in and pan, sensor noise and a
440 Hz tone on an AAC track: no downloads.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from soundstage.testing.identity import signer_for

FPS = Fraction(24)
AMOUNT = 0.3
HOLDERS = {"producer": "Priya Shah", "vfx_supervisor": "Ken Ito", "rights_clearance": "Tom Reed",
           "legal": "Tom Reed", "performer_rep": "Lena Ortiz"}


# --------------------------------------------------------------------------------------- material
def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()


def camera_move_frames(width: int, height: int, count: int, *, noise: float = 2.0, move: bool = True,
                       seed: int = 0) -> list[np.ndarray]:
    """The astronaut framed as a close-up, with a push-in (zoom 1.0 -> 1.08) and a diagonal pan."""
    photo = astronaut()
    rng = np.random.default_rng(seed)
    base_scale = width * 1.05 / photo.shape[1]  # the photo covers the frame's width with a little margin
    centre = np.array([250.0, 190.0])  # a point of the photo between the face and the shoulders
    frames = []
    for i in range(count):
        t = i / max(1, count - 1) if move else 0.0
        s = base_scale * (1.0 + 0.08 * t)
        cx, cy = centre + (np.array([18.0, 10.0]) * t)  # the camera drifts right and down
        m = np.array([[s, 0, width / 2 - s * cx], [0, s, height / 2 - s * cy]], np.float32)
        f = cv2.warpAffine(photo, m, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        f = f.astype(np.float32) + rng.normal(0, noise, f.shape).astype(np.float32)
        frames.append(np.clip(f + 0.5, 0, 255).astype(np.uint8))
    return frames


def reference_crop(path: Path) -> Path:
    """The enrolled reference: a crop of the same face (the photo's own pixels, not a frame of the clip)."""
    from PIL import Image

    Image.fromarray(astronaut()[20:300, 110:360]).save(path)
    return path


def write_plate(path: Path, frames: list[np.ndarray]) -> Path:
    """A camera-like plate: H.264 (crf 12), BT.709 tags, timecode, 48 kHz AAC tone."""
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "12"}
        video.codec_context.gop_size = 12
        cc = video.codec_context
        cc.color_range, cc.color_primaries, cc.color_trc, cc.colorspace = 1, 1, 1, 1
        video.metadata["timecode"] = "01:00:00:00"
        audio = out.add_stream("aac", rate=48000, layout="mono")
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            out.mux(video.encode(vf))
        out.mux(video.encode())
        samples = int(48000 * len(frames) / FPS)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
        for offset in range(0, samples, 1024):
            block = np.pad(tone[offset:offset + 1024], (0, max(0, offset + 1024 - samples)))
            af = av.AudioFrame.from_ndarray(block[None, :], format="fltp", layout="mono")
            af.sample_rate, af.pts = 48000, offset
            out.mux(audio.encode(af))
        out.mux(audio.encode())
    return path


# ------------------------------------------------------------------------------------ measurements
def codec_only(plate: Path, out_dir: Path) -> tuple[float, int]:
    """Plain decode + encode with the writer and settings the VFX output uses. Returns (seconds, frames)."""
    from soundstage.vfx.media import VideoWriter, decode_range, probe

    began = time.perf_counter()
    info = probe(plate)
    frames = 0
    with VideoWriter(out_dir / "codec_only.mp4", codec="h264", fps=info.fps, width=info.width, height=info.height,
                     colour=info.colour, timecode=info.timecode, audio_from=plate) as writer:
        for frame in decode_range(plate, 0, info.frame_count, info=info):
            writer.write(frame)
            frames += 1
    return time.perf_counter() - began, frames


def end_to_end(plate: Path, reference: Path, root: Path, *, chunk_frames: int | None) -> dict:
    """The guarded de-age job, from a fresh workspace to a signed, registered asset."""
    from soundstage.safeguards.provenance import read_credentials
    from soundstage.services import jobs_service as jobs
    from soundstage.services import consent_service, people_service, talent_service
    from soundstage.services import vfx_service
    from soundstage.services.ledger import ingest_media
    from soundstage.services.workspace import init_workspace

    ws = init_workspace(root / "production", "The Last Take")
    try:
        for name, roles in [("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                            ("Tom Reed", ["rights_clearance", "legal"]), ("Lena Ortiz", ["performer_rep"]),
                            ("Rae Requester", ["vfx_supervisor"])]:
            people_service.add_crew(ws, name, roles, actor="setup")
        maya = talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                                actor="setup")
        document = root / "signed_consent.pdf"
        document.write_bytes(b"%PDF-1.4 signed digital alteration consent, Maya Castell, scene 5")
        consent_service.grant_consent(ws, maya["id"], document=document, kind="digital_alteration",
                         operations=["likeness_deage"], scenes=["5"], max_alteration=0.5,
                         description="De-ageing of Maya Castell by about 30 years in the 1994 flashback, scene 5 "
                                     "only, for the final cut of The Last Take",
                         signed_separately=True, representation="union", signer=signer_for(ws, "Lena Ortiz"))
        talent_service.enroll_reference(ws, maya["id"], reference, actor="Lena Ortiz")
        plate_asset = ingest_media(ws, plate, kind="plate", actor="setup", scene="5", shot="5A")
        extra = {"chunk_frames": chunk_frames} if chunk_frames else {}
        spec = vfx_service.build_vfx_job(ws, "deage", plate_asset["id"], requested_by="Rae Requester",
                                         performers=[maya["id"]], amount=AMOUNT, scene="5", shot="5A",
                                         deliverable="final", medium="final", params=extra)
        result = vfx_service.submit_vfx_job(ws, spec, actor="Rae Requester")
        roles = list(result["decision"]["approver_roles"]) if result["status"] == "escalated" else []
        seconds = 0.0
        for role in roles:
            began = time.perf_counter()  # only the approval that clears the job runs it; the others are ms
            result = jobs.decide_on_job(ws, result["job"], signer=signer_for(ws, HOLDERS[role]),
                                        role=role, verdict="approve",
                                        actor=HOLDERS[role])
            seconds += time.perf_counter() - began
        if result["status"] != "done":
            raise SystemExit(f"the de-age job did not finish: {result['status']} {result.get('error') or ''}")
        asset = result["assets"][0]
        stored = ws.store.path_for(asset["sha256"])
        creds = read_credentials(stored, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
        details = asset.get("details") or {}
        return {"seconds": seconds, "frames": int(details.get("frames") or 0), "roles": roles,
                "credentials": creds.state.value, "asset": asset["id"], "bytes": stored.stat().st_size}
    finally:
        ws.close()


def _warm_worker(factory: str, context) -> str:
    """Build (and cache) the operation inside a Dask worker: model loading is not what we measure."""
    from soundstage.compute.chunks import _operation_for
    from soundstage.vfx.contract import resolve_factory

    return type(_operation_for(factory, context, resolve_factory)).__name__


def dask_speedup(plate: Path, reference: Path, root: Path, chunk_frames: int) -> dict[int, float]:
    """Seconds for the same chunked de-age FrameJob on LocalClusters of 1 and 2 worker processes."""
    from distributed import Client, LocalCluster

    from soundstage.compute import FrameJob, FrameSource, run_frame_job
    from soundstage.compute.chunks import DEFAULT_FACTORY
    from soundstage.compute.executors import DaskChunkExecutor
    from soundstage.files import sha256_file
    from soundstage.vfx.contract import OpContext
    from soundstage.vfx.media import probe

    info = probe(plate)
    context = OpContext(operation="deage", params={"amount": AMOUNT, "seed": 0},
                        performers={"maya": str(reference)}, fps=float(info.fps), width=info.width,
                        height=info.height)
    source = FrameSource("video", path=str(plate), frame_count=info.frame_count, fps=info.fps, width=info.width,
                         height=info.height, video_info=info)
    sha = sha256_file(plate)
    times: dict[int, float] = {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            client.run(_warm_worker, DEFAULT_FACTORY, context)
            job = FrameJob(job_id=f"dask-{workers}", work_root=root / f"dask-{workers}", source=source,
                           source_sha256=sha, context=context, payload=12345, output=root / f"dask-{workers}.mp4",
                           chunk_frames=chunk_frames)
            executor = DaskChunkExecutor(cluster.scheduler_address)
            try:
                began = time.perf_counter()
                run_frame_job(job, executor)
                times[workers] = time.perf_counter() - began
            finally:
                executor.close()
    return times


def landmark_jitter(width: int, height: int, count: int) -> tuple[float, float, int]:
    """(raw px RMS, smoothed px RMS, frames) on a static shot with sensor noise (sigma 3)."""
    from soundstage.vfx.ops.tracking import SMOOTHING_WINDOW, FaceAnalyzer, track_faces

    frames = camera_move_frames(width, height, count, noise=3.0, move=False, seed=7)
    tracked = track_faces(frames, 0, 0, float(FPS), FaceAnalyzer())
    raw, smooth = [], []
    for faces in tracked[SMOOTHING_WINDOW // 2:]:  # skip the filter's start-up
        face = next((f for f in faces if f.observation.landmarks is not None and f.smoothed is not None), None)
        if face is not None:
            raw.append(face.observation.landmarks)
            smooth.append(face.smoothed)
    if len(raw) < 4:
        raise SystemExit("the face was not tracked on the static clip")

    def rms(series: list[np.ndarray]) -> float:
        stack = np.stack(series)  # (frames, 478, 2)
        return float(np.sqrt(((stack - stack.mean(axis=0)) ** 2).sum(axis=2).mean()))

    return rms(raw), rms(smooth), len(raw)


# ------------------------------------------------------------------------------------------- main
def measure_clip(tmp: Path, width: int, height: int, count: int) -> tuple[dict, dict, float, int, Path, Path]:
    """(cold and warm end-to-end results, codec seconds, codec frames, plate, reference) for one clip.

    Cold: the job starts its worker processes, as a one-shot CLI command does. Warm: the same job
    again in the same process, whose pool kept its workers and their models (a server, a session)."""
    from soundstage.compute.executors import shutdown_shared_pools

    frames = camera_move_frames(width, height, count)
    plate = write_plate(tmp / f"A001_C005_{count}.mp4", frames)
    reference = reference_crop(tmp / "maya_reference.png")
    del frames
    codec_s, codec_frames = codec_only(plate, tmp)
    shutdown_shared_pools()
    cold = end_to_end(plate, reference, tmp / f"e2e-{count}", chunk_frames=count // 2)  # two chunks, two workers
    warm = end_to_end(plate, reference, tmp / f"e2e-{count}-warm", chunk_frames=count // 2)
    codec_s2, _ = codec_only(plate, tmp)  # again after: load on a shared machine drifts
    return cold, warm, min(codec_s, codec_s2), codec_frames, plate, reference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="720p, 24 frames")
    parser.add_argument("--frames", type=int, default=None,
                        help="one clip of this many frames (default: a 2 s and a 10 s clip)")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (prints its path)")
    args = parser.parse_args(argv)
    width, height = (1280, 720) if args.quick else (1920, 1080)
    counts = [args.frames] if args.frames else ([24] if args.quick else [48, 240])
    tmp = Path(tempfile.mkdtemp(prefix="soundstage-bench-vfx-"))
    try:
        rows = []
        for count in counts:
            cold, warm, codec_s, codec_frames, plate, reference = measure_clip(tmp, width, height, count)
            codec_fps = codec_frames / codec_s
            rows += [(f"clip of {count} frames", f"{width}x{height} at {float(FPS):g} fps "
                                                 f"({count / float(FPS):g} s), astronaut push-in + pan, AAC audio"),
                     ("plain decode + encode (same H.264 settings, audio copied)",
                      f"{codec_fps:.1f} fps ({codec_s:.2f} s)")]
            for label, e2e in (("cold: workers start", cold), ("warm: next job, same process", warm)):
                e2e_fps = e2e["frames"] / e2e["seconds"]
                rows += [
                    (f"end to end de-age, {label} (guarded: decode, track, de-age, watermark, encode, sign)",
                     f"{e2e_fps:.2f} fps ({e2e['seconds']:.1f} s, {e2e['frames']} frames, chunks of {count // 2}, "
                     f"2 local workers; credentials {e2e['credentials']})"),
                    (f"**ratio e2e / codec**, {label} (goal >= 0.5)", f"**{e2e_fps / codec_fps:.3f}**"),
                ]
        if not args.no_dask:  # on the longest clip: the speed-up is about the per-frame work
            dask = dask_speedup(plate, reference, tmp / "dask", counts[-1] // 2)
            rows += [(f"Dask LocalCluster, 1 worker (same chunked job, {counts[-1]} frames)", f"{dask[1]:.1f} s"),
                     ("Dask LocalCluster, 2 workers", f"{dask[2]:.1f} s"),
                     ("Dask speed-up 2 vs 1 worker", f"{dask[1] / dask[2]:.2f}x")]
        raw, smooth, jitter_frames = landmark_jitter(1280, 720, 40)
        rows += [("landmark jitter, raw FaceMesh (static 720p shot, noise sigma 3)",
                  f"{raw:.3f} px RMS ({jitter_frames} frames)"),
                 ("landmark jitter, One Euro windowed (what the ops use)", f"{smooth:.3f} px RMS"),
                 ("jitter reduction", f"{raw / smooth:.1f}x")]
        print(f"\n### VFX benchmark ({'quick' if args.quick else 'full'}; {os.cpu_count()} CPUs)\n")
        print("| measure | result |\n|---|---|")
        for name, value in rows:
            print(f"| {name} | {value} |")
        return 0
    finally:
        if args.keep:
            print(f"kept: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
