"""`soundstage job preview` and `job approve --preview` through the real entry point: the preview
written to a file with its digest, an approval without it refused when the pack requires it, the
performers named in what a person reads (the JSON keeps the ids), and a forged digest refused."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from api_helpers import CREW, build_production, deage_spec  # noqa: E402

from soundstage.domain.safeguards import JobSpec  # noqa: E402
from soundstage.services import jobs_service  # noqa: E402

PACK = ("pack: studio\nversion: 1\nlists:\n  preview_required_before_approval: [likeness_deage]\nrules:\n"
        "  - id: STUDIO-1\n    text: training is reviewed by legal\n    when: {field: operation, eq: training}\n"
        "    then: {outcome: escalate, approvers: [legal]}\n")


@pytest.fixture
def prod(sqlite_workspace, tmp_path, cli_as):
    ws = sqlite_workspace
    prod = build_production(ws, tmp_path)
    root = Path(ws.settings.root)
    (root / "studio.yaml").write_text(PACK)
    config = root / "soundstage.toml"
    text = config.read_text()
    assert "packs = []" in text
    config.write_text(text.replace("packs = []", 'packs = ["studio.yaml"]'))
    spec = JobSpec.from_dict({**deage_spec(prod), "id": "x", "production_id": ws.production_id,
                              "requested_by": CREW["vfx_supervisor"][0]})
    prod.update(ws=ws, cli=cli_as(ws, prod["tokens"]),
                job=jobs_service.submit_job(ws, spec, actor="Ken Ito", wait=False)["job"])
    return prod


def test_preview_then_approve_with_its_digest(prod, tmp_path):
    cli, job = prod["cli"], prod["job"]
    code, _, err = cli("job", "approve", job, "--role", "legal", who="legal")
    assert code == 1 and f"look at the preview first: soundstage job preview {job}" in err
    code, out, err = cli("job", "preview", job, "--out", str(tmp_path / "review"), who="producer")
    assert code == 0, err
    digest = re.search(r"preview digest ([0-9a-f]{64})", out).group(1)
    written = list((tmp_path / "review").iterdir())
    assert len(written) == 1 and written[0].name.startswith(job) and written[0].suffix == ".png"
    import hashlib

    assert hashlib.sha256(written[0].read_bytes()).hexdigest() == digest  # the file is the preview it names
    code, out, _ = cli("job", "preview", job, "--out", str(tmp_path / "review"), "--json", who="legal")
    assert json.loads(out)["preview_digest"] == digest  # the newest preview is reused
    code, _, err = cli("job", "approve", job, "--role", "legal", "--preview", "a" * 64, who="legal")
    assert code == 1 and "not its current preview" in err
    code, _, err = cli("job", "approve", job, "--role", "legal", "--preview", "not-a-digest", who="legal")
    assert code == 2 and "64 lowercase hex" in err
    for who, role in (("producer", "producer"), ("vfx2", "vfx_supervisor"), ("rights_clearance", "rights_clearance"),
                      ("legal", "legal")):
        code, out, err = cli("job", "approve", job, "--role", role, "--preview", digest, who=who)
        assert code == 0, err
    assert "still waiting for: performer_rep of Maya Castell" in out and "t-" not in out.split("waiting for:")[1]
    code, out, _ = cli("job", "show", job, who="producer")
    assert "waiting for: performer_rep of Maya Castell" in out
    code, out, _ = cli("job", "show", job, "--json", who="producer")
    assert json.loads(out)["missing_roles"] == [f"performer_rep:{prod['maya']['id']}"]  # machine ids in JSON
    code, out, err = cli("job", "approve", job, "--role", "performer_rep", "--preview", digest, who="performer_rep")
    assert code == 0, err
    shown = jobs_service.show_job(prod["ws"], job)
    assert shown["status"] == "done" and {a["preview_digest"] for a in shown["approvals"]} == {digest}


def test_preview_is_for_approvers_of_the_job_only(prod, tmp_path):
    cli, job = prod["cli"], prod["job"]
    # a representative of another performer does not see this job's preview
    code, _, err = cli("job", "preview", job, "--out", str(tmp_path / "x"), who="other_rep")
    assert code != 0 and not (tmp_path / "x").exists()
    # an out path that is a file is refused with nothing written
    target = tmp_path / "a-file"
    target.write_text("keep")
    code, _, err = cli("job", "preview", job, "--out", str(target), who="producer")
    assert code == 2 and "not a folder" in err and target.read_text() == "keep"


def test_preview_renders_the_request_a_click_left_pending_or_waits_for_its_worker(prod, tmp_path):
    """DR023: `job preview` renders in its own process through the same request the web app
    records, so a click and the command make one preview; a request a queue worker is rendering
    now is waited for, with a line saying so."""
    import threading

    from soundstage.safeguards import previews
    from soundstage.safeguards.lease import LeaseTerms
    from soundstage.services import preview_service

    ws, cli, job = prod["ws"], prod["cli"], prod["job"]
    clicked = preview_service.request_preview(ws, job, actor="Leo Hart")
    code, out, err = cli("job", "preview", job, "--out", str(tmp_path / "a"), "--json", who="producer")
    assert code == 0, err
    status = preview_service.preview_status(ws, job)
    assert status["request"]["request"] == clicked["request"] and status["status"] == "done"
    assert json.loads(out)["preview_digest"] == status["preview"]["preview_digest"]
    # a worker holds the next request: the command waits for its render instead of making a second
    asked = preview_service.request_preview(ws, job, actor="Leo Hart")
    claimed = previews.claim_request(ws, "worker:busy", LeaseTerms(seconds=30, heartbeat=1))
    assert claimed.request_id == asked["request"]
    worker = threading.Timer(1.0, previews.render_request, args=(ws, claimed))
    worker.start()
    code, out, err = cli("job", "preview", job, "--fresh", "--out", str(tmp_path / "b"), "--json", who="producer")
    worker.join(60)
    assert code == 0, err
    assert "a queue worker is rendering the preview" in err
    status = preview_service.preview_status(ws, job)
    assert status["request"]["request"] == asked["request"] and status["request"]["attempts"] == 1
    assert json.loads(out)["preview_digest"] == status["preview"]["preview_digest"]
