"""`soundstage voice ...` through the real entry point: enrol under consent, a denied ADR with its
rule, an escalated one approved and run, and the permission matrix on the new commands."""

from __future__ import annotations

import json

import numpy as np
import pytest

from soundstage.domain.safeguards import ModelCard
from soundstage.interfaces.cli.app import main
from soundstage.services import safeguards_service as sg
from soundstage.services.ledger import ingest_media
from soundstage.testing.fake_voice_server import FakeOpenAISpeech, speak
from soundstage.testing.identity import signer_for, token_for
from soundstage.testing.sample_media import write_plate
from soundstage.voice.pcm import write_wav16

LINE = "Where were you on the night of the fourth"


@pytest.fixture
def prod(sqlite_workspace, tmp_path, monkeypatch, capsys):
    ws = sqlite_workspace
    for name, roles in (("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"]), ("Lena Ortiz", ["performer_rep"])):
        sg.add_crew(ws, name, roles, actor="setup")
    maya = sg.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"],
                            actor="setup")
    for name in ("SOUNDSTAGE_TOKEN", "SOUNDSTAGE_TOKEN_FILE", "SOUNDSTAGE_SINGLE_USER", "SOUNDSTAGE_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STUDIO_TTS_KEY", "sk-test")
    server = FakeOpenAISpeech(api_key="sk-test").start()
    sg.register_model(ws, ModelCard(id="studio.tts", name="Studio TTS", licence="contract", training_data="licensed",
                                    stores_inputs=False, trains_on_inputs=False, runs_in_production_env=True),
                      actor="setup", backend="voice",
                      config={"engine": "openai-speech", "model": "tts-studio", "base_url": server.url + "/v1",
                              "api_key_env": "STUDIO_TTS_KEY", "backoff_s": 0, "voices": {maya["id"]: "maya-v2"}})
    ramp = np.linspace(0, 255, 128, dtype=np.float32)[None, :, None]
    frames = [np.clip(ramp + i, 0, 255).astype(np.uint8).repeat(96, 0).repeat(3, 2) for i in range(72)]
    plate = ingest_media(ws, write_plate(tmp_path / "A012.mp4", frames), kind="plate", actor="setup", scene="12")
    ref = write_wav16(tmp_path / "maya.wav", speak("my voice reading the reference", "maya-v2"), 24000)
    tokens = {n: token_for(ws, n) for n in ("Priya Shah", "Ken Ito", "Tom Reed", "Lena Ortiz")}

    def cli(*args: str, who: str) -> tuple[int, str, str]:
        with monkeypatch.context() as m:
            m.setenv("SOUNDSTAGE_TOKEN", tokens[who])
            capsys.readouterr()
            code = main(["-w", str(ws.settings.root), *args])
            out, err = capsys.readouterr()
        return code, out, err

    yield {"ws": ws, "cli": cli, "maya": maya, "plate": plate, "ref": ref, "tmp": tmp_path}
    server.stop()


def test_enroll_needs_a_voice_consent_and_the_right_role(prod):
    cli, ref = prod["cli"], str(prod["ref"])
    code, _, err = cli("voice", "enroll", "Maya Castell", ref, who="Lena Ortiz")
    assert code == 1 and "covers their voice" in err
    document = prod["tmp"] / "consent.pdf"
    document.write_bytes(b"%PDF-1.4 voice consent")
    sg.grant_consent(prod["ws"], prod["maya"]["id"], document=document, kind="digital_alteration",
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
    for who, role in (("Priya Shah", "producer"), ("Tom Reed", "rights_clearance"), ("Lena Ortiz", "performer_rep")):
        code, out, err = cli("job", "approve", job_id, "--role", role, who=who)
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
