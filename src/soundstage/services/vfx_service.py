"""VFX use cases: build the JobSpec for an operation on a plate and submit it down the guarded path."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from soundstage.domain.safeguards import JobSpec
from soundstage.errors import InputError, NotFoundError, QuarantinedError
from soundstage.safeguards.guard import parse_asset_id, store_path
from soundstage.services import jobs_service
from soundstage.services.people_service import find_person
from soundstage.services.policy_service import check_job
from soundstage.services.workspace import Workspace
from soundstage.store.models import Asset, Person
from soundstage.vfx.media import check_frame_size, decode_range, probe
from soundstage.vfx.ops.planar_track import (
    MAX_PLACE_FRAMES,
    PlanarTracker,
    check_quad_in_frame,
    corner_path,
    parse_corner_keyframes,
    parse_quad,
    tracking_report,
)
from soundstage.vfx.registry import BUILTIN_OPERATIONS

__all__ = ["VFX_OPERATIONS", "DEFAULT_VFX_MODEL", "build_vfx_job", "submit_vfx_job", "probe_file",
           "performer_reference_paths", "track_plane"]

DEFAULT_VFX_MODEL = "soundstage.vfx-classical"
#: CLI/API name -> the job operation it submits (from the one VFX operation registry)
VFX_OPERATIONS = {name: d.kinds[0] for name, d in BUILTIN_OPERATIONS.items()}


def performer_reference_paths(ws: Workspace, performer_ids: list[str]) -> dict[str, str]:
    """performer id -> stored path of their enrolled reference image (missing ones are left out;
    the backend refuses a job naming a performer without one)."""
    refs: dict[str, str] = {}
    with ws.reading() as s:
        for pid in performer_ids:
            person = s.get(Person, pid)
            ref = ((person.details or {}).get("reference_asset") if person is not None else None)
            if not ref:
                continue
            asset = s.get(Asset, parse_asset_id(ref))
            if asset is not None and asset.status == "active":
                refs[pid] = str(ws.store.path_for(asset.sha256))
    return refs


FACE_OPERATIONS = tuple(k for d in BUILTIN_OPERATIONS.values() if d.faces for k in d.kinds)


def build_vfx_job(ws: Workspace, operation: str, plate_id: str, *, requested_by: str, performers: list[str] = (),
                  amount: float = 0.0, scene: str | None = None, shot: str | None = None,
                  extra_inputs: list[str] = (), codec: str = "h264",
                  model_id: str = DEFAULT_VFX_MODEL, deliverable: str = "temporary", medium: str = "previz",
                  params: dict | None = None) -> JobSpec:
    """A JobSpec naming the plate, the performers and the operation's declared parameters. Nothing
    server-side goes in: the guard resolves reference faces, the work directory and the cluster."""
    kind = VFX_OPERATIONS.get(operation)
    if kind is None:
        raise InputError(f"unknown VFX operation {operation!r}", hint="one of: " + ", ".join(VFX_OPERATIONS))
    with ws.unit_of_work() as s:
        performer_ids = [find_person(s, ws, ref, kind="performer").id for ref in performers]
    if kind in FACE_OPERATIONS and not performer_ids:
        raise InputError(f"{operation} alters a performer's likeness: name them with --performer")
    job_params = {"codec": codec, **(params or {})}
    return JobSpec(id="", production_id=ws.production_id, operation=kind, requested_by=requested_by,
                   model_id=model_id, inputs=(plate_id, *extra_inputs), performers=tuple(performer_ids),
                   scene=scene, shot=shot, alteration_amount=amount, deliverable=deliverable, medium=medium,
                   params=job_params)


def submit_vfx_job(ws: Workspace, spec: JobSpec, *, actor: str, idempotency_key: str | None = None,
                   progress: Callable[[int, int], None] | None = None, wait: bool = True) -> dict:
    """Submit through jobs_service (the guarded path); ``progress(done, total)`` follows the frames.

    A job the policy would let through (now or after approval) but that names a performer with no
    enrolled reference face is refused here, before approvers spend time on a job that cannot run;
    a job the policy denies is submitted so the denial and its rule ids are recorded."""
    if spec.operation in FACE_OPERATIONS:
        refs = performer_reference_paths(ws, list(spec.performers))
        missing = [p for p in spec.performers if p not in refs]
        if missing and check_job(ws, spec)["decision"]["outcome"] != "deny":
            raise InputError(f"performer {missing[0]} has no enrolled reference face; an unidentified face is "
                             "never altered", hint="enroll one under their consent: soundstage talent enroll NAME IMAGE")

    return jobs_service.submit_job(ws, spec, actor=actor, idempotency_key=idempotency_key, progress=progress,
                                   wait=wait)


def probe_file(path: Path) -> dict:
    """Probe a video file (or a still) for the CLI."""
    return probe(Path(path)).to_dict()


# --------------------------------------------------------------------------- vfx place (issue 16)

def track_plane(ws: Workspace, plate_id: str, corners, out_dir: Path, *, region=None, smoothing: float = 0.2):
    """The planar track a ``place`` job computes on this plate (the same tracker, the same corner
    keyframes), written as a tracking report (``planar_track.tracking_report``) for the person who
    adjusts the corners before submitting. Reads the plate; writes no asset."""
    keyframes = parse_corner_keyframes(corners)
    with ws.unit_of_work() as s:
        asset = s.get(Asset, parse_asset_id(plate_id))
        if asset is None or asset.production_id != ws.production_id:
            raise NotFoundError(f"{plate_id} is not an asset of this production")
        if asset.status != "active":
            raise QuarantinedError(f"{plate_id} ({asset.name}) is quarantined; it cannot be used")
        path, media_type, name = store_path(ws, asset), asset.media_type, asset.name
    if not str(media_type).startswith("video/"):
        raise InputError(f"{name} is not a video plate", hint="a tracking report is made for a clip")
    info = probe(path, refuse_vfr=True)
    check_frame_size(info.width, info.height, source=name)
    if info.frame_count > MAX_PLACE_FRAMES:
        raise InputError(f"{name} has {info.frame_count} frames; a placement takes at most {MAX_PLACE_FRAMES}",
                         hint="split the shot")
    for k in keyframes:
        check_quad_in_frame(k.corners, info.width, info.height, f"keyframe {k.frame}")
    quad = parse_quad(region, "region", "params.region") if region is not None else keyframes[0].corners
    check_quad_in_frame(quad, info.width, info.height, "region", "params.region")
    frames = list(decode_range(path, 0, info.frame_count, info=info))
    samples = PlanarTracker(quad, info.width, info.height).track(frames)
    return tracking_report(frames, samples, corner_path(samples, keyframes, smoothing), keyframes, Path(out_dir))
