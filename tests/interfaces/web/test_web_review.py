"""Review before approval (issue 15) over HTTP: the guarded preview on the approval card, its digest
bound into the approval, media with byte ranges, thumbnails, the asset browser, and the
adversary's requests (a forged or stale preview digest, another performer's source plate, a
preview exported as a final)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from api_helpers import auth, deage_spec, preview_over_api, run_queue
from web_helpers import login


def run_queue_previews(production) -> int:
    """The worker loop until the queue is empty; the number of previews it rendered."""
    from soundstage.services.worker_service import drain_queue

    return drain_queue(production["ws"]).previews


def _submit(client, production) -> str:
    response = client.post("/api/jobs", headers=auth(production, "vfx_supervisor"), json=deage_spec(production))
    assert response.status_code == 202, response.text
    job = response.json()["job"]
    assert client.get(f"/api/jobs/{job}", headers=auth(production, "producer")).json()["status"] == "escalated"
    return job


def _approve_all(client, production, job: str, preview_digest: str | None) -> None:
    for who, role in (("producer", "producer"), ("vfx2", "vfx_supervisor"), ("rights_clearance", "rights_clearance"),
                      ("legal", "legal"), ("performer_rep", "performer_rep")):
        body = {"role": role, "verdict": "approve", **({"preview_digest": preview_digest} if preview_digest else {})}
        response = client.post(f"/api/jobs/{job}/decision", headers=auth(production, who), json=body)
        assert response.status_code < 300, response.text


def test_preview_is_guarded_labelled_and_bound_into_the_approval(client, production):
    from soundstage.media.preview import has_label_band

    job = _submit(client, production)
    preview = preview_over_api(client, production, job, "producer")
    assert str(production["ws"].settings.root) not in str(preview) and "/tmp" not in str(preview)  # no server path
    card = client.get(f"/api/jobs/{job}/review", headers=auth(production, "legal")).json()
    assert card["performers"] == [[production["maya"]["id"], "Maya Castell"]]
    assert "30% strength" in card["amount"] and card["scene"] == "5" and card["shot"] == "5A"
    assert card["preview_digest"] == preview["preview_digest"] and card["preview"]["kind"] == "preview"
    assert any("Talent replication" in text for _, _, text in card["rules"])
    # the preview: labelled, smaller than a final, watermarked with its own id, signed
    data = client.get(f"/api/jobs/{job}/media/{preview['asset']}", headers=auth(production, "legal")).content
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert has_label_band(pixels) and max(pixels.shape[:2]) <= 512
    verdict = client.post("/api/verify", headers=auth(production, "legal"),
                          files={"file": ("p.png", data, "image/png")}).json()
    assert verdict["watermark"]["found"] and verdict["watermark"]["payload"] == preview["asset"]
    # adversary: a forged digest and a stale one (a newer preview was made since) are refused, nothing recorded
    forged = client.post(f"/api/jobs/{job}/decision", headers=auth(production, "producer"),
                         json={"role": "producer", "verdict": "approve", "preview_digest": "0" * 64})
    assert forged.status_code == 409 and "not its current preview" in forged.json()["error"]["message"]
    newer = preview_over_api(client, production, job, "producer")
    stale = client.post(f"/api/jobs/{job}/decision", headers=auth(production, "producer"),
                        json={"role": "producer", "verdict": "approve", "preview_digest": preview["preview_digest"]})
    assert stale.status_code == 409
    assert client.get(f"/api/jobs/{job}", headers=auth(production, "producer")).json()["approvals"] == []
    _approve_all(client, production, job, newer["preview_digest"])
    run_queue(production)
    done = client.get(f"/api/jobs/{job}", headers=auth(production, "producer")).json()
    assert done["status"] == "done"
    events = client.get("/api/audit?limit=1000", headers=auth(production, "legal")).json()
    approved = [e for e in events if e["action"] == "job.approved" and e["subject"] == job]
    assert approved and all(e["payload"]["preview_digest"] == newer["preview_digest"] for e in approved)
    # the job's outputs are not its previews; the preview is never exported or handed out as a final
    card = client.get(f"/api/jobs/{job}/review", headers=auth(production, "producer")).json()
    assert card["outputs"] and all(o["kind"] != "preview" for o in card["outputs"])
    from soundstage.errors import RefusedError
    from soundstage.services.ledger import export_asset

    with pytest.raises(RefusedError, match="review preview"):
        export_asset(production["ws"], newer["asset"], production["ws"].settings.root, actor="Priya Shah")
    handed = client.get(f"/api/assets/{newer['asset']}/download", headers=auth(production, "producer"))
    assert handed.status_code == 403 and "review preview" in handed.json()["error"]["message"]
    output = card["outputs"][0]["id"]
    assert client.get(f"/api/assets/{output}/download", headers=auth(production, "producer")).status_code == 200


def test_media_ranges_thumbnails_and_scope(client, production):
    job = _submit(client, production)
    plate = production["plate"]["id"]
    lena, sam = auth(production, "performer_rep"), auth(production, "other_rep")
    # a representative sees the source plate of a job naming their performer, through the job
    whole = client.get(f"/api/jobs/{job}/media/{plate}", headers=lena)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    part = client.get(f"/api/jobs/{job}/media/{plate}", headers={**lena, "Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(whole.content)}"
    assert client.get(f"/api/jobs/{job}/media/{plate}", headers={**lena, "Range": "bytes=99999999-"}).status_code == 416
    # ... not another performer's representative, neither through the job nor directly, nor thumbnails
    assert client.get(f"/api/jobs/{job}/media/{plate}", headers=sam).status_code == 403
    assert client.get(f"/api/jobs/{job}/media/{plate}/thumbnail", headers=sam).status_code == 403
    assert client.get(f"/api/assets/{plate}/thumbnail", headers=sam).status_code == 403
    assert client.get(f"/api/assets/{plate}/media", headers=sam).status_code == 403
    assert client.post(f"/api/jobs/{job}/preview", headers=sam).status_code == 403
    assert client.get(f"/api/jobs/{job}/review", headers=sam).status_code == 403
    # an asset that is not the job's cannot be reached through the job
    document = production["consent"]["document_asset"]
    assert client.get(f"/api/jobs/{job}/media/{document}", headers=lena).status_code == 404
    thumb = client.get(f"/api/assets/{plate}/thumbnail?side=160", headers=auth(production, "producer"))
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 160
    page = client.get("/api/browse/assets?kind=plate&scene=5&per_page=1", headers=auth(production, "producer")).json()
    assert page["total"] == 1 and page["items"][0]["id"] == plate and "path" not in str(page)


def _card(page: str, job: str) -> str:
    return page.split(f'id="job-{job}"', 1)[1].split("</section>", 1)[0]


def test_web_card_and_forged_form_digest(client, production):
    job = _submit(client, production)
    csrf = login(client, production["tokens"]["legal"])
    # the default pack asks approvers of a de-age to look first: the card offers the preview, not the approval
    card = _card(client.get("/approvals").text, job)
    assert 'class="make-preview"' in card and "make a preview first" in card
    assert re.search(r'<button name="verdict" value="approve" type="submit" disabled>', card)
    assert 'value="approve" type="submit" disabled' in client.get(f"/jobs/{job}").text
    blind = client.post(f"/jobs/{job}/decide", data={"csrf_token": csrf, "role": "legal", "verdict": "approve"},
                        follow_redirects=False)
    assert blind.status_code == 409  # a form sent around the disabled button is refused all the same
    made = client.post(f"/jobs/{job}/preview", data={"csrf_token": csrf}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == f"/approvals#job-{job}"
    # the click returned at once: a queue worker renders the preview; the card says so and polls for it
    card = _card(client.get("/approvals").text, job)
    assert "preview rendering" in card and f'data-preview-poll="/api/jobs/{job}/preview"' in card
    assert 'class="make-preview"' not in card and "make a preview first" in card
    again = client.post(f"/jobs/{job}/preview", data={"csrf_token": csrf}, follow_redirects=False)
    assert again.status_code == 303  # a second click asks for the same pending preview
    polled = client.get(f"/api/jobs/{job}/preview").json()  # the card's poll, with the session cookie
    assert polled["status"] == "pending" and polled["preview"] is None
    assert run_queue_previews(production) == 1  # two clicks, one render
    page = client.get("/approvals").text
    assert "Maya Castell" in page and "performer_rep:t-" not in page and "30% strength" in page
    card = _card(page, job)
    assert 'class="make-preview"' not in card and "make a preview first" not in card and " disabled" not in card
    assert "Approve what the preview shows" in card
    digest = re.search(r'name="preview_digest" value="([0-9a-f]{64})"', page).group(1)
    refused = client.post(f"/jobs/{job}/decide", data={"csrf_token": csrf, "role": "legal", "verdict": "approve",
                                                       "preview_digest": "f" * 64}, follow_redirects=False)
    assert refused.status_code == 409
    ok = client.post(f"/jobs/{job}/decide", data={"csrf_token": csrf, "role": "legal", "verdict": "approve",
                                                  "preview_digest": digest}, follow_redirects=False)
    assert ok.status_code == 303
    assert client.post(f"/jobs/{job}/preview", data={}, follow_redirects=False).status_code == 403  # no CSRF token
    assert client.post(f"/api/jobs/{job}/preview").status_code == 403  # the session cookie alone: no CSRF header


def test_storyboard_pdfs_in_the_web_app(client, production):
    from reportlab.pdfgen import canvas

    from soundstage.services.shotlist_service import export_dir

    folder = export_dir(production["ws"])
    folder.mkdir(parents=True, exist_ok=True)
    c = canvas.Canvas(str(folder / "lookbook.pdf"))
    c.drawString(72, 720, "look-book")
    c.save()
    (folder.parent / "secret.pdf").write_bytes(b"%PDF-1.4 not a previz document")
    login(client, production["tokens"]["producer"])
    page = client.get("/storyboards").text
    assert '<iframe class="pdf" src="/api/previz/documents/lookbook.pdf"' in page and "Look-book" in page
    assert str(folder) not in page
    part = client.get("/api/previz/documents/lookbook.pdf", headers={"Range": "bytes=0-4"})
    assert part.status_code == 206 and part.content == b"%PDF-"
    assert client.get("/api/previz/documents/..%2Fsecret.pdf").status_code == 404
    assert client.get("/api/previz/documents/secret.pdf").status_code == 404
    rep = client.get("/api/previz/documents/lookbook.pdf", headers=auth(production, "performer_rep"))
    assert rep.status_code == 403


def test_the_reviewer_guide_names_only_real_routes():
    """docs/guides/review-before-approval.md stays true: every endpoint it names is served."""
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[3] / "docs" / "guides" / "review-before-approval.md").read_text()
    named = set(re.findall(r"`(?:GET|POST) (/api/[^`?\s]+)", guide))
    from soundstage.interfaces.api import review_routes, routes

    served = {route.path for route in [*routes.router.routes, *review_routes.router.routes]}
    canonical = {re.sub(r"\{[a-z_]+\}", "{}", p) for p in served}
    assert named and all(re.sub(r"\{[a-z_]+\}", "{}", p) in canonical for p in named), named
