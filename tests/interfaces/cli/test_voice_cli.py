"""`soundstage voice ...` through the real entry point: enrol under consent, a denied ADR with its
rule, an escalated one approved and run, and the permission matrix on the new commands."""

from __future__ import annotations

import json

import numpy as np
import pytest

from soundstage.services import consent_service
from soundstage.services.ledger import ingest_media
from soundstage.testing.identity import signer_for
from soundstage.testing.sample_media import write_plate

LINE = "Where were you on the night of the fourth"


@pytest.fixture
def prod(voice_production, tmp_path):
    """The voice production (conftest.py) and a camera plate in scene 12."""
    ramp = np.linspace(0, 255, 128, dtype=np.float32)[None, :, None]
    frames = [np.clip(ramp + i, 0, 255).astype(np.uint8).repeat(96, 0).repeat(3, 2) for i in range(72)]
    plate = ingest_media(voice_production["ws"], write_plate(tmp_path / "A012.mp4", frames), kind="plate",
                         actor="setup", scene="12")
    return {**voice_production, "plate": plate}


def test_enroll_needs_a_voice_consent_and_the_right_role(prod, tmp_path):
    cli, ref = prod["cli"], str(prod["ref"])
    code, _, err = cli("voice", "enroll", "Maya Castell", ref, who="Lena Ortiz")
    assert code == 1 and "covers their voice" in err
    document = prod["tmp"] / "consent.pdf"
    document.write_bytes(b"%PDF-1.4 voice consent")
    consent_service.grant_consent(prod["ws"], prod["maya"]["id"], document=document, kind="digital_alteration",
                     operations=["voice.adr"], description="ADR of one line in scene 12 for the final mix only",
                     signed_separately=True, representation="union", signer=signer_for(prod["ws"], "Lena Ortiz"))
    code, out, err = cli("voice", "enroll", "Maya Castell", ref, "--json", who="Lena Ortiz")
    assert code == 0, err
    enrolled = json.loads(out)
    assert enrolled["performer"] == prod["maya"]["id"] and enrolled["status"] == "active"
    code, out, _ = cli("voice", "reference", "Maya Castell", "--json", who="Ken Ito")
    assert code == 0 and json.loads(out)["asset"] == enrolled["asset"]
    # the ADR: escalated exactly as a likeness, approved, run
    code, _, err = cli("voice", "adr", "Maya Castell", prod["plate"]["id"], "--line", LINE, "--start", "0.4",
                       "--end", "2.95", "--model", "studio.tts", "--scene", "12", who="Ken Ito")
    assert code == 1 and "waiting for approval" in err
    job_id = err.split("job ")[1].split(" ")[0]
    # approvers listen first: the default pack requires the preview of a line in a performer's voice
    code, _, err = cli("job", "approve", job_id, "--role", "producer", who="Priya Shah")
    assert code == 1 and f"look at the preview first: soundstage job preview {job_id}" in err
    code, out, err = cli("job", "preview", job_id, "--out", str(tmp_path), "--json", who="Priya Shah")
    assert code == 0, err
    heard = json.loads(out)
    assert heard["file"].endswith(".wav")
    for who, role in (("Priya Shah", "producer"), ("Tom Reed", "rights_clearance"), ("Lena Ortiz", "performer_rep")):
        code, out, err = cli("job", "approve", job_id, "--role", role, "--preview", heard["preview_digest"], who=who)
    assert code == 0, err
    code, out, _ = cli("voice", "jobs", "--json", who="Ken Ito")
    rows = json.loads(out)
    assert rows[0]["id"] == job_id and rows[0]["status"] == "done"


def test_a_voice_job_without_consent_is_denied_naming_the_rule(prod):
    code, _, err = prod["cli"]("voice", "line", "Maya Castell", "--line", LINE, "--model", "studio.tts",
                               who="Ken Ito")
    assert code == 1 and "SAG-CONSENT-REQUIRED" in err and "SAG-CONSENT-MISSING" in err


def test_roles_the_matrix_refuses(prod):
    code, _, err = prod["cli"]("voice", "line", "Maya Castell", "--line", LINE, "--model", "studio.tts",
                               who="Tom Reed")  # legal / rights clearance do not submit jobs
    assert code != 0 and "may not jobs.submit" in err
    code, _, err = prod["cli"]("voice", "enroll", "Maya Castell", str(prod["ref"]), who="Ken Ito")
    assert code != 0 and "may not performers.enroll" in err
    code, _, err = prod["cli"]("voice", "adr", "Maya Castell", prod["plate"]["id"], "--line", LINE,
                               "--model", "studio.tts", who="Ken Ito")
    assert code == 2 and "--start and --end" in err
