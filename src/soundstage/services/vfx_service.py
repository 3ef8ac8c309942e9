"""VFX use cases: build the JobSpec for an operation on a plate and submit it down the guarded path."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from soundstage.domain.safeguards import JobSpec
from soundstage.errors import InputError
from soundstage.services.workspace import Workspace
from soundstage.vfx.registry import BUILTIN_OPERATIONS

__all__ = ["VFX_OPERATIONS", "DEFAULT_VFX_MODEL", "build_vfx_job", "submit_vfx_job", "probe_file",
           "performer_reference_paths"]

DEFAULT_VFX_MODEL = "soundstage.vfx-classical"
#: CLI/API name -> the job operation it submits (from the one VFX operation registry)
VFX_OPERATIONS = {name: d.kinds[0] for name, d in BUILTIN_OPERATIONS.items()}


def performer_reference_paths(ws: Workspace, performer_ids: list[str]) -> dict[str, str]:
    """performer id -> stored path of their enrolled reference image (missing ones are left out;
    the backend refuses a job naming a performer without one)."""
    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.store.models import Asset, Person

    refs: dict[str, str] = {}
    with ws.unit_of_work() as s:
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
    from soundstage.services.safeguards_service import find_person

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
    from soundstage.services import jobs_service
    from soundstage.services.safeguards_service import check_job

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
    from soundstage.vfx.media import probe

    return probe(Path(path)).to_dict()
