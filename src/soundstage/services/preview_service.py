"""Review before approval (issue 15): guarded previews, the approval card, thumbnails, media.

- ``request_preview`` asks for a job's preview: a request on the durable queue that a worker
  renders (DR023); ``preview_status`` is what the approval card polls. ``make_preview`` renders
  the same request in this process (the command line). Either way the guard makes the preview (the
  job's own backend on proxies of its inputs, labelled PREVIEW, watermarked, signed, registered as
  a ``preview`` asset of the job).
- ``review_card`` is everything an approver is shown, in words: the performers by name, the amount,
  the declared parameters, the shot and scene, the rules' text, the inputs and the current preview
  with its digest (which the approval then names: ``jobs_service.decide_on_job(preview_digest=)``).
- ``thumbnail`` makes a small JPEG of an asset on demand and caches it, bounded in count and size.
- ``media_file`` is the verified stored file of an asset for inline viewing (the interfaces serve
  byte ranges of it so players can seek).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from soundstage.errors import InputError, NotFoundError, QuarantinedError, StateConflictError
from soundstage.generate.registry import operation_params
from soundstage.media.images import encode_image, read_image
from soundstage.media.preview import downscale
from soundstage.media.video import iter_frames
from soundstage.safeguards import guard, preview_rules, previews
from soundstage.safeguards.guard import format_asset_id, parse_asset_id
from soundstage.safeguards.lease import lease_terms, new_owner
from soundstage.services import jobs_service
from soundstage.services.shotlist_service import export_dir
from soundstage.services.workspace import Workspace
from soundstage.store.models import Asset, Person

THUMB_SIDES = (160, 320, 480)
THUMB_CACHE_FILES = 2000
THUMB_CACHE_BYTES = 200 * 1024 * 1024
#: inputs and outputs shown on a card (a job has few; a runaway list is cut)
MAX_CARD_ASSETS = 8


@dataclass(frozen=True)
class PreviewView:
    job_id: str
    asset_id: str
    sha256: str
    media_type: str
    name: str
    spec_digest: str

    def to_dict(self) -> dict:
        return {"job": self.job_id, "asset": self.asset_id, "preview_digest": self.sha256,
                "media_type": self.media_type, "name": self.name, "spec_digest": self.spec_digest}


@dataclass(frozen=True)
class MediaRef:
    """An asset as a page shows it: no server path, only ids and what a player needs."""

    id: str
    name: str
    kind: str
    media_type: str
    status: str
    size: int
    scene: str | None = None
    shot: str | None = None

    @property
    def is_video(self) -> bool:
        return self.media_type.startswith("video/")

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")

    @property
    def is_pdf(self) -> bool:
        return self.media_type == "application/pdf"


@dataclass(frozen=True)
class ReviewCard:
    """What an approver sees before they approve, in words and pictures."""

    job_id: str
    status: str
    operation: str
    requested_by: str
    spec_digest: str
    scene: str | None
    shot: str | None
    performers: tuple[tuple[str, str], ...]  # (id, name)
    amount: str  # the alteration amount in words ("" when the operation has none)
    params: tuple[tuple[str, str], ...]  # (description, value) of every declared parameter set
    rules: tuple[tuple[str, str, str], ...]  # (rule id, outcome, text)
    inputs: tuple[MediaRef, ...]
    outputs: tuple[MediaRef, ...]
    preview: MediaRef | None
    preview_digest: str | None
    can_preview: bool
    deliverable: str
    prompt: str = ""
    missing_roles: tuple[str, ...] = field(default=())
    #: the policy asks approvers of this job to look at its preview first: an approval names its digest
    preview_required: bool = False
    #: the job's newest preview request: none | pending | rendering | done | failed | stale (DR023)
    preview_status: str = "none"
    preview_error: str = ""


#: how long ``make_preview`` waits for a render another worker holds (a bounded preview takes seconds)
PREVIEW_WAIT_SECONDS = 300.0


def request_preview(ws: Workspace, job_id: str, *, actor: str) -> dict:
    """Ask for a guarded preview of a job waiting for approval: recorded at once, rendered by a
    queue worker (DR023). While one is pending, asking again answers with that one (``new``
    False): however many clicks, one render. Returns the request as ``preview_status`` shows it."""
    state, new = previews.request(ws, job_id, actor=actor)
    return {**state.to_dict(), "new": new}


def preview_status(ws: Workspace, job_id: str) -> dict:
    """What the approval card polls: the job's newest preview request (``pending``, ``rendering``,
    ``done`` or ``failed`` with its one-line error; ``none`` if none was asked for) and its current
    preview. A request the job has moved on from since (approved, rejected, changed) reads
    ``stale``: what it would render is not the job as it is now."""
    with ws.reading() as s:
        job = jobs_service.show_job(ws, job_id)
        row = previews.latest_request(s, ws, job_id)
        shown = jobs_service.latest_preview(s, job_id)
        state = previews.state_of(row) if row is not None else None
        stale = row is not None and state.status in ("pending", "rendering") and previews.job_changed_since(s, row)
        current = (PreviewView(job_id, format_asset_id(shown.id), shown.sha256, shown.media_type, shown.name,
                               job["spec_digest"] or "").to_dict() if shown is not None else None)
    return {"job": job_id, "status": "stale" if stale else (state.status if state else "none"),
            "request": state.to_dict() if state else None, "preview": current}


def make_preview(ws: Workspace, job_id: str, *, actor: str, on_wait=None) -> PreviewView:
    """A guarded preview of a job waiting for approval, made in this process (the command line):
    the same request a click records (the pending one if there is one), claimed here under a lease
    and rendered through the guard (``previews.render_request``) - so a web click and a command at
    once still make one preview. If a worker is rendering it now, this waits for that render
    (``on_wait(state)`` is told once), up to PREVIEW_WAIT_SECONDS. A refusal is raised as is."""


    state, _ = previews.request(ws, job_id, actor=actor)
    terms = lease_terms(ws.settings.extra)
    deadline = time.monotonic() + PREVIEW_WAIT_SECONDS
    told = False
    while True:
        claimed = previews.claim_request(ws, new_owner("cli-preview"), terms, request_id=state.request_id)
        if claimed is not None:
            state = previews.render_request(ws, claimed)
        else:
            state = previews.request_state(ws, state.request_id)
        if state.status == "done":
            break
        if state.status == "failed":
            raise StateConflictError(f"the preview of job {job_id} was not made: {state.error}")
        if time.monotonic() > deadline:
            raise StateConflictError(f"the preview of job {job_id} is still rendering after "
                                     f"{PREVIEW_WAIT_SECONDS:.0f} s", hint=f"look again: soundstage job preview {job_id}")
        if on_wait is not None and not told:
            on_wait(state)
            told = True
        time.sleep(0.25)
    with ws.unit_of_work() as s:
        a = s.get(Asset, parse_asset_id(state.asset))
        return PreviewView(job_id, format_asset_id(a.id), a.sha256, a.media_type, a.name, state.spec_digest)


def current_preview(ws: Workspace, job_id: str) -> PreviewView | None:
    with ws.reading() as s:
        job = jobs_service.show_job(ws, job_id)
        a = jobs_service.latest_preview(s, job_id)
        if a is None:
            return None
        return PreviewView(job_id, format_asset_id(a.id), a.sha256, a.media_type, a.name, job["spec_digest"] or "")


def preview_for_review(ws: Workspace, job_id: str, *, actor: str, fresh: bool = False, on_wait=None) -> PreviewView:
    """The preview an approver looks at before approving: the job's current one (its newest
    active preview), or a new one made by the guard when it has none (or ``fresh``), here
    (``make_preview``: a request a worker is rendering now is waited for)."""
    shown = None if fresh else current_preview(ws, job_id)
    return shown if shown is not None else make_preview(ws, job_id, actor=actor, on_wait=on_wait)


#: characters kept in the name of a preview written to a folder (the backend chose the name)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def write_preview(ws: Workspace, view: PreviewView, out_dir: Path) -> Path:
    """Copy a preview's stored file (hash-checked, active) into ``out_dir`` as
    ``<job>-<name>``, written whole or not at all (a temporary file renamed into place)."""

    with ws.unit_of_work() as s:
        a = s.get(Asset, parse_asset_id(view.asset_id))
        if a is None or a.job_id != view.job_id or a.kind != preview_rules.PREVIEW_KIND:
            raise NotFoundError(f"asset {view.asset_id} is not a preview of job {view.job_id}")
        asset = {"id": view.asset_id, "name": a.name, "status": a.status, "sha256": a.sha256}
    source = media_file(ws, asset)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c in _NAME_CHARS else "_" for c in Path(view.name).name)[:120].lstrip(".") or "preview"
    target = out_dir / f"{''.join(c if c in _NAME_CHARS else '_' for c in view.job_id)}-{name}"
    with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".preview-", suffix=".part", delete=False) as tmp:
        try:
            with source.open("rb") as src:
                shutil.copyfileobj(src, tmp)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    os.replace(tmp.name, target)
    return target


def _ref(a: Asset) -> MediaRef:
    d = a.details or {}
    return MediaRef(format_asset_id(a.id), a.name, a.kind, a.media_type, a.status, a.size,
                    str(d["scene"]) if d.get("scene") else None, str(d["shot"]) if d.get("shot") else None)


def amount_in_words(operation: str, amount: float) -> str:
    """The spec's ``alteration_amount`` (0..1: the number the policy and the consent's maximum judge,
    and the strength the operation runs at) in words."""
    if not amount:
        return ""
    what = {"likeness_deage": "de-ageing", "likeness_cosmetic": "cosmetic retouch"}.get(operation, "alteration")
    return f"{what} at {amount * 100:.0f}% strength (alteration amount {amount:g} of 1)"


def review_card(ws: Workspace, job_id: str) -> ReviewCard:

    job = jobs_service.show_job(ws, job_id)
    spec = job["spec"]
    with ws.reading() as s:
        names = []
        for pid in spec.get("performers", []):
            person = s.get(Person, pid)
            names.append((pid, person.name if person is not None and person.production_id == ws.production_id
                          else pid))
        inputs = []
        for ref in spec.get("inputs", [])[:MAX_CARD_ASSETS]:
            a = s.get(Asset, parse_asset_id(ref))
            if a is not None and a.production_id == ws.production_id:
                inputs.append(_ref(a))
        outputs = [_ref(a) for a in s.scalars(
            select(Asset).where(Asset.job_id == job_id, Asset.kind != preview_rules.PREVIEW_KIND)
            .order_by(Asset.created_at).limit(MAX_CARD_ASSETS))]
        shown = jobs_service.latest_preview(s, job_id)
        asked = previews.latest_request(s, ws, job_id)
        asked_state = previews.state_of(asked) if asked is not None else None
        asked_status = asked_state.status if asked_state is not None else "none"
        if asked_status in ("pending", "rendering") and previews.job_changed_since(s, asked):
            asked_status = "stale"
        try:
            declared = {p.name: p for p in operation_params(guard.generator_for(s, spec["model_id"]),
                                                            spec["operation"])}
        except Exception:  # noqa: BLE001 - an unregistered model still gets a card (its job is denied)
            declared = {}
    params = tuple((declared[k].description.rstrip(".") if k in declared else k, _words(v))
                   for k, v in sorted((spec.get("params") or {}).items()))
    decision = job.get("decision") or {}
    rules = tuple((r.get("rule_id", ""), r.get("outcome", ""), r.get("text", "")) for r in decision.get("reasons", []))
    return ReviewCard(
        job_id=job_id, status=job["status"], operation=spec["operation"], requested_by=job["requested_by"],
        spec_digest=job["spec_digest"] or "", scene=spec.get("scene"), shot=spec.get("shot"),
        performers=tuple(names), amount=amount_in_words(spec["operation"], float(spec.get("alteration_amount") or 0)),
        params=params, rules=rules, inputs=tuple(inputs), outputs=tuple(outputs),
        preview=_ref(shown) if shown is not None else None, preview_digest=shown.sha256 if shown is not None else None,
        can_preview=job["status"] == "escalated" and preview_rules.preview_allowed(ws, spec["operation"]),
        deliverable=spec.get("deliverable", ""), prompt=spec.get("prompt", ""),
        missing_roles=tuple(job.get("missing_roles") or ()),
        preview_required=job["status"] == "escalated" and preview_rules.preview_required(ws, spec["operation"]),
        preview_status=asked_status, preview_error=(asked_state.error or "") if asked_state is not None else "")


def _words(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)[:200]


def job_of_input(ws: Workspace, job_id: str, asset_ref: str) -> dict:
    """The asset ``asset_ref`` when it is one of job ``job_id``'s inputs, its preview or its output
    (the scope under which a representative may see a source plate); NotFoundError otherwise."""
    job = jobs_service.show_job(ws, job_id)
    asset_id = parse_asset_id(asset_ref)
    with ws.reading() as s:
        a = s.get(Asset, asset_id)
        ok = a is not None and a.production_id == ws.production_id and (
            format_asset_id(asset_id) in job["spec"].get("inputs", []) or a.job_id == job_id)
        if not ok:
            raise NotFoundError(f"asset {asset_ref} is not an input or output of job {job_id}")
    return job


# ---------------------------------------------------------------- media and thumbnails

def media_file(ws: Workspace, asset: dict) -> Path:
    """The stored file of an active asset, hash-checked (the download's check), for inline viewing."""
    if asset["status"] != "active":
        raise QuarantinedError(f"asset {asset['id']} ({asset['name']}) is {asset['status']}: a consent it relied on "
                               "was revoked, so it cannot be shown")
    ws.store.verify(asset["sha256"])
    return ws.store.path_for(asset["sha256"])


def thumbnail(ws: Workspace, asset: dict, side: int) -> bytes:
    """A JPEG of the asset at most ``side`` px (one of THUMB_SIDES), made on demand from the stored
    file (a still, a video's first frame, a PDF's first page) and cached under the workspace by the
    content hash; the cache keeps at most THUMB_CACHE_FILES files / THUMB_CACHE_BYTES bytes."""
    if side not in THUMB_SIDES:
        raise InputError(f"a thumbnail is {', '.join(map(str, THUMB_SIDES))} px, not {side}")
    source = media_file(ws, asset)
    cache = Path(ws.settings.root) / ".cache" / "thumbs"
    key = hashlib.sha256(f"{asset['sha256']}:{side}".encode()).hexdigest()
    target = cache / f"{key}.jpg"
    if target.is_file():
        os.utime(target)
        return target.read_bytes()
    pixels = _first_picture(source, asset["media_type"], side)

    data = encode_image(downscale(pixels, side), "jpeg", quality=80)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache, delete=False, suffix=".part") as tmp:
        tmp.write(data)
    os.replace(tmp.name, target)
    _prune(cache)
    return data


def _first_picture(path: Path, media_type: str, side: int):
    if media_type.startswith("image/"):

        return read_image(path)
    if media_type.startswith("video/"):

        for frame in iter_frames(path, max_frames=1):
            return frame
        raise InputError("the video has no frame to show")
    if media_type == "application/pdf":
        with tempfile.TemporaryDirectory() as tmp:
            try:
                subprocess.run(["pdftoppm", "-png", "-f", "1", "-l", "1", "-scale-to", str(side), str(path),
                                str(Path(tmp) / "page")], check=True, capture_output=True, timeout=30)
            except (OSError, subprocess.SubprocessError):
                raise InputError("this PDF's first page cannot be drawn (pdftoppm from poppler-utils)") from None
            pages = sorted(Path(tmp).glob("page*.png"))
            if not pages:
                raise InputError("the PDF has no page to show")
    
            return read_image(pages[0])
    raise InputError(f"no thumbnail for {media_type}")


def _prune(cache: Path) -> None:
    files = sorted((p for p in cache.glob("*.jpg")), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for n, p in enumerate(files):
        total += p.stat().st_size
        if n >= THUMB_CACHE_FILES or total > THUMB_CACHE_BYTES:
            p.unlink(missing_ok=True)


MAX_RANGE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ByteRange:
    start: int
    stop: int  # exclusive
    size: int

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.stop - 1}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range of a file of ``size`` bytes, capped at
    MAX_RANGE_BYTES (a player asks again for the rest). None: no range asked (whole file). A range
    that is malformed, multiple or past the end raises InputError (the interface answers 416)."""
    if not header:
        return None
    text = header.strip()
    if not text.startswith("bytes=") or "," in text or len(text) > 100:
        raise InputError("only one byte range (bytes=START-END) is served")
    first, _, last = text[6:].partition("-")
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                raise ValueError
            start, stop = max(0, size - n), size
        else:
            start = int(first)
            stop = int(last) + 1 if last else size
    except ValueError:
        raise InputError(f"bad byte range {text[:40]!r}") from None
    if start < 0 or start >= size or stop <= start:
        raise InputError(f"byte range {text[:40]!r} is outside the file ({size} bytes)")
    stop = min(stop, size, start + MAX_RANGE_BYTES)
    return ByteRange(start, stop, size)


# ---------------------------------------------------------------- previz documents (boards, look-book)

@dataclass(frozen=True)
class PrevizDocument:
    """A signed previz PDF in the production's exports (storyboards, the look-book), by file name only."""

    name: str
    title: str
    size: int


def previz_documents(ws: Workspace) -> list[PrevizDocument]:

    folder = export_dir(ws)
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.glob("*.pdf")):
        if p.is_file() and not p.is_symlink():
            stem = p.stem.replace("_", " ")
            title = ("Look-book" if p.stem == "lookbook" else "Storyboard, whole script" if p.stem == "storyboard"
                     else stem.replace("storyboard scene", "Storyboard, scene"))
            out.append(PrevizDocument(p.name, title, p.stat().st_size))
    return out


def previz_document(ws: Workspace, name: str) -> Path:
    """The file of one listed previz PDF; a name that is not listed is NotFoundError (no paths)."""

    if name not in {d.name for d in previz_documents(ws)}:
        raise NotFoundError(f"no previz document {name[:80]!r}", hint="soundstage previz board writes them")
    return export_dir(ws) / name
