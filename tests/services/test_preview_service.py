"""preview_service on a real production: the guarded preview (policy data decides whether one is
made; a denied or finished job gets none), the approval card in words, byte ranges, thumbnails
bounded and cached, previz documents by listed name only."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interfaces" / "api"))

from api_helpers import submit_deage  # noqa: E402

from soundstage.domain.safeguards import JobSpec  # noqa: E402
from soundstage.errors import InputError, NotFoundError, PolicyDeniedError, RefusedError, StateConflictError  # noqa: E402
from soundstage.services import jobs_service, preview_service  # noqa: E402


def test_preview_card_and_label(production):
    from soundstage.media.images import read_image
    from soundstage.media.preview import has_label_band

    ws = production["ws"]
    job = submit_deage(production)
    card = preview_service.review_card(ws, job)
    assert card.preview is None and card.can_preview and card.performers == ((production["maya"]["id"], "Maya Castell"),)
    made = preview_service.make_preview(ws, job, actor="Rita Moss")
    assert made.media_type == "image/png" and made.spec_digest == card.spec_digest
    pixels = read_image(ws.store.path_for(made.sha256))
    assert has_label_band(pixels)
    plate = read_image(ws.store.path_for(production["plate"]["sha256"]))
    assert not has_label_band(plate)  # the check can fail: an unlabelled picture is not a preview
    card = preview_service.review_card(ws, job)
    assert card.preview_digest == made.sha256 and card.preview.kind == "preview" and card.outputs == ()
    assert card.amount == "de-ageing at 30% strength (alteration amount 0.3 of 1)"
    assert preview_service.current_preview(ws, job).sha256 == made.sha256
    events = [e for e in _audit(ws) if e["action"] == "job.previewed" and e["subject"] == job]
    assert events and events[-1]["payload"]["sha256"] == made.sha256
    from soundstage.services import ledger

    assert ledger.verify_audit(ws, deep=True).ok  # the preview's rows are what its events describe


def _audit(ws):
    from soundstage.services import ledger

    return ledger.audit_log(ws, limit=1000)


def test_no_preview_for_a_denied_or_finished_job(production):
    ws = production["ws"]
    # Noah has no consent: the policy denies the job, so it never waits for approval and gets no preview
    denied = submit_deage(production, performers=[production["noah"]["id"]])
    assert jobs_service.show_job(ws, denied)["status"] == "denied"
    with pytest.raises(StateConflictError):
        preview_service.make_preview(ws, denied, actor="Rita Moss")
    with pytest.raises(NotFoundError):
        preview_service.make_preview(ws, "j-000000000000", actor="Rita Moss")


def test_policy_pack_decides_which_operations_are_previewed(production, tmp_path):
    from soundstage.services.workspace import Workspace

    job = submit_deage(production)
    pack = tmp_path / "studio.yaml"
    pack.write_text("pack: studio\nversion: 1\nlists:\n  preview_before_approval: [cleanup]\nrules:\n"
                    "  - id: STUDIO-1\n    text: nothing\n    when: {field: operation, eq: training}\n"
                    "    then: {outcome: escalate, approvers: [legal]}\n")
    base = production["ws"]
    narrowed = Workspace(replace(base.settings, policy_packs=(pack,)), base.db, base.store)
    with pytest.raises(RefusedError, match="no preview of likeness_deage"):
        preview_service.make_preview(narrowed, job, actor="Rita Moss")
    assert not preview_service.review_card(narrowed, job).can_preview
    assert preview_service.review_card(base, job).can_preview


def test_consent_revoked_before_the_preview_denies_it(production):
    from soundstage.services import auth_service
    from soundstage.services import consent_service

    ws = production["ws"]
    job = submit_deage(production)
    consent_service.revoke_consent(ws, production["consent"]["id"], reason="withdrawn",
                      signer=auth_service.signer_for_token(ws, production["tokens"]["performer_rep"]))
    with pytest.raises(PolicyDeniedError, match="no preview"):
        preview_service.make_preview(ws, job, actor="Rita Moss")
    assert preview_service.current_preview(ws, job) is None


@pytest.mark.parametrize("header,size,expected", [
    (None, 100, None), ("bytes=0-9", 100, (0, 10)), ("bytes=90-", 100, (90, 100)), ("bytes=-5", 100, (95, 100)),
    ("bytes=50-500", 100, (50, 100)), ("bytes=0-", 20 * 1024 * 1024, (0, preview_service.MAX_RANGE_BYTES))])
def test_parse_range(header, size, expected):
    got = preview_service.parse_range(header, size)
    assert (None if got is None else (got.start, got.stop)) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=5-2", "bytes=0-1,4-5", "items=0-1", "bytes=x-", "bytes=-0"])
def test_parse_range_refuses(header):
    with pytest.raises(InputError):
        preview_service.parse_range(header, 100)


def test_thumbnails_are_bounded_and_cached(production, monkeypatch):
    import io

    from PIL import Image

    from soundstage.services import ledger

    ws = production["ws"]
    plate = ledger.show_asset(ws, production["plate"]["id"])
    data = preview_service.thumbnail(ws, plate, 160)

    assert max(Image.open(io.BytesIO(data)).size) <= 160
    cache = Path(ws.settings.root) / ".cache" / "thumbs"
    assert len(list(cache.glob("*.jpg"))) == 1
    assert preview_service.thumbnail(ws, plate, 160) == data  # served from the cache
    with pytest.raises(InputError):
        preview_service.thumbnail(ws, plate, 4000)
    monkeypatch.setattr(preview_service, "THUMB_CACHE_FILES", 1)
    preview_service.thumbnail(ws, plate, 320)
    assert len(list(cache.glob("*.jpg"))) == 1  # the oldest was evicted


def test_previz_documents_by_listed_name_only(production):
    from reportlab.pdfgen import canvas

    from soundstage.services.shotlist_service import export_dir

    ws = production["ws"]
    folder = export_dir(ws)
    folder.mkdir(parents=True, exist_ok=True)
    c = canvas.Canvas(str(folder / "storyboard_scene_5.pdf"))
    c.drawString(72, 720, "scene 5")
    c.save()
    docs = preview_service.previz_documents(ws)
    assert [(d.name, d.title) for d in docs] == [("storyboard_scene_5.pdf", "Storyboard, scene 5")]
    assert preview_service.previz_document(ws, "storyboard_scene_5.pdf").is_file()
    for bad in ("../soundstage.toml", "storyboard_scene_6.pdf", "/etc/passwd"):
        with pytest.raises(NotFoundError):
            preview_service.previz_document(ws, bad)


def test_previews_per_job_are_bounded(production, monkeypatch):
    from soundstage.safeguards import previews

    job = submit_deage(production)
    monkeypatch.setattr(previews, "MAX_PREVIEWS_PER_JOB", 1)
    preview_service.make_preview(production["ws"], job, actor="Rita Moss")
    with pytest.raises(RefusedError, match="already has 1 previews"):
        preview_service.make_preview(production["ws"], job, actor="Rita Moss")


def test_a_generation_job_is_previewed_too(production):
    from soundstage.media.images import read_image
    from soundstage.media.preview import has_label_band

    ws = production["ws"]
    spec = JobSpec.from_dict({"operation": "key_visual", "model_id": "soundstage.procedural-card",
                              "prompt": "the diner at dawn, key art", "deliverable": "final", "medium": "final",
                              "id": "x", "production_id": ws.production_id, "requested_by": "Ken Ito"})
    job = jobs_service.submit_job(ws, spec, actor="Ken Ito", wait=False)
    assert job["status"] == "escalated", job
    made = preview_service.make_preview(ws, job["job"], actor="Rita Moss")
    pixels = read_image(ws.store.path_for(made.sha256))
    assert has_label_band(pixels) and max(pixels.shape[:2]) <= 512
    card = preview_service.review_card(ws, job["job"])
    assert card.inputs == () and card.preview.id == made.asset_id and card.prompt.startswith("the diner")
