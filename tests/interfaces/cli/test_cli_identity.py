"""Issue 12: identity on the command line is a credential, never a name someone types.

Each scenario of the issue, run through the real entry point in-process: the requester approving
"as" the producer, SOUNDSTAGE_USER naming someone, an artist granting a consent, `consent resume`
by nobody in particular; plus the single-user laptop mode and the credential's own life cycle."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from soundstage.interfaces.cli.app import main
from soundstage.services import consent_service, people_service, talent_service
from soundstage.services.ledger import audit_log
from soundstage.testing.identity import token_for

FINAL_IDEATION = ("operation: ideation\nmodel_id: soundstage.procedural-card\nprompt: rainy street at dusk\n"
                  "deliverable: final\nmedium: final\n")
TEMP_IDEATION = "operation: ideation\nmodel_id: soundstage.procedural-card\nprompt: rainy street at dusk\n"


@pytest.fixture
def prod(sqlite_workspace, tmp_path, monkeypatch, capsys):
    ws = sqlite_workspace
    for name, roles in (("Priya Shah", ["producer"]), ("Ken Ito", ["vfx_supervisor"]),
                        ("Tom Reed", ["rights_clearance", "legal"]), ("Lena Ortiz", ["performer_rep"]),
                        ("Sam Cole", ["performer_rep"])):
        people_service.add_crew(ws, name, roles, actor="setup")
    talent_service.add_performer(ws, "Maya Castell", union_status="sag-aftra", representatives=["Lena Ortiz"], actor="setup")
    for name in ("SOUNDSTAGE_TOKEN", "SOUNDSTAGE_TOKEN_FILE", "SOUNDSTAGE_SINGLE_USER", "SOUNDSTAGE_USER",
                 "SOUNDSTAGE_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    root = str(ws.settings.root)
    tokens = {name: token_for(ws, name) for name in ("Priya Shah", "Ken Ito", "Tom Reed", "Lena Ortiz", "Sam Cole")}

    def cli(*args: str, who: str | None = None, env: dict | None = None) -> tuple[int, str, str]:
        """`soundstage -w WS ARGS` with ``who``'s credential (None: no credential at all)."""
        with monkeypatch.context() as m:
            if who is not None:
                m.setenv("SOUNDSTAGE_TOKEN", tokens[who])
            for key, value in (env or {}).items():
                m.setenv(key, value)
            capsys.readouterr()
            code = main(["-w", root, *args])
            out, err = capsys.readouterr()
        return code, out, err

    job_file = tmp_path / "final.yaml"
    job_file.write_text(FINAL_IDEATION)
    temp_file = tmp_path / "temp.yaml"
    temp_file.write_text(TEMP_IDEATION)
    return {"ws": ws, "cli": cli, "tokens": tokens, "final": str(job_file), "temp": str(temp_file), "tmp": tmp_path}


def _approvals(ws, job_id: str) -> list:
    from soundstage.store.models import Approval, PersonKey

    with ws.unit_of_work() as s:
        return [(a.role, a.person_id, s.get(PersonKey, a.key_id).person_id if a.key_id else None)
                for a in s.scalars(select(Approval).where(Approval.job_id == job_id))]


def test_the_requester_cannot_approve_as_the_producer(prod):
    cli, ws = prod["cli"], prod["ws"]
    code, out, err = cli("job", "submit", prod["final"], "--json", who="Ken Ito")
    submitted = json.loads(out)
    assert submitted["status"] == "escalated" and set(submitted["missing_roles"]) == {"producer", "legal"}
    job_id = submitted["job"]
    # the command: `--as` no longer exists, so nothing can be claimed by name
    code, _, err = cli("job", "approve", job_id, "--role", "producer", "--as", "Priya Shah", who="Ken Ito")
    assert code == 2 and "--as" in err
    # and with his own credential Ken is Ken: he holds no producer role (nor may approve his own request)
    code, _, err = cli("job", "approve", job_id, "--role", "producer", who="Ken Ito")
    assert code == 1 and "Ken Ito does not hold the role 'producer'" in err
    assert _approvals(ws, job_id) == []
    assert not [e for e in audit_log(ws) if e["action"] == "job.approved"]

    assert cli("job", "approve", job_id, "--role", "producer", who="Priya Shah")[0] == 0
    code, out, err = cli("job", "approve", job_id, "--role", "legal", "--json", who="Tom Reed")
    assert code == 0 and json.loads(out)["status"] == "done", err
    people = {p["name"]: p["id"] for p in people_service.list_people(ws, "crew")}
    # each verdict names the person whose key signed it
    assert sorted(_approvals(ws, job_id)) == sorted([("producer", people["Priya Shah"], people["Priya Shah"]),
                                                     ("legal", people["Tom Reed"], people["Tom Reed"])])
    approved = [e for e in audit_log(ws) if e["action"] == "job.approved"]
    assert [e["actor"] for e in approved] == ["Priya Shah", "Tom Reed"]


def test_soundstage_user_has_no_effect(prod):
    cli, ws = prod["cli"], prod["ws"]
    before = len(audit_log(ws, limit=None))
    code, _, err = cli("job", "submit", prod["temp"], env={"SOUNDSTAGE_USER": "Nobody"})
    assert code == 1 and "no credential" in err
    assert len(audit_log(ws, limit=None)) == before  # nothing was recorded in anyone's name

    code, out, _ = cli("job", "submit", prod["temp"], "--json", who="Ken Ito", env={"SOUNDSTAGE_USER": "Priya Shah"})
    done = json.loads(out)
    assert code == 0 and done["status"] == "done"
    job = json.loads(cli("job", "show", done["job"], "--json", who="Priya Shah")[1])
    assert job["requested_by"] == "Ken Ito"
    assert {e["actor"] for e in audit_log(ws, limit=None)[before:]} == {"Ken Ito"}


def test_consent_grant_needs_the_roles_the_api_needs(prod):
    cli, ws = prod["cli"], prod["ws"]
    grant = ["consent", "grant", "Maya Castell", "--kind", "digital_alteration", "--operation", "likeness_deage",
             "--description", "De-ageing in the 1994 flashback, scene 5 only", "--scene", "5", "--json"]
    for who in ("Ken Ito", "Priya Shah"):  # the artist of the issue, and a producer: neither may grant
        code, _, err = cli(*grant, who=who)
        assert code == 1 and "may not consents.grant" in err and "needs one of: legal, performer_rep, " \
                                                                 "rights_clearance" in err
    code, _, err = cli(*grant, who="Sam Cole")  # a representative, but not Maya's
    assert code == 1 and "does not represent" in err
    assert consent_service.list_consents(ws) == []
    code, out, err = cli(*grant, who="Lena Ortiz")
    assert code == 0, err
    from soundstage.store.models import ConsentRecord, PersonKey

    with ws.unit_of_work() as s:
        rec = s.get(ConsentRecord, json.loads(out)["id"])
        signed = rec.signatures[0]
        assert signed["action"] == "granted" and s.get(PersonKey, signed["key"]).person_id == signed["person"]
    lena = next(p for p in people_service.list_people(ws, "crew") if p["name"] == "Lena Ortiz")
    assert signed["person"] == lena["id"]


def test_consent_resume_needs_a_registered_authenticated_person(prod):
    cli, ws = prod["cli"], prod["ws"]
    code, out, err = cli("consent", "grant", "Maya Castell", "--kind", "digital_alteration", "--operation",
                         "likeness_deage", "--description", "De-ageing, scene 5 only", "--json", who="Lena Ortiz")
    consent_id = json.loads(out)["id"]
    assert cli("consent", "suspend", consent_id, who="Lena Ortiz")[0] == 0
    # nobody: no credential, a name in SOUNDSTAGE_USER, single-user mode, a made-up token
    assert "no credential" in cli("consent", "resume", consent_id, env={"SOUNDSTAGE_USER": "Stranger"})[2]
    code, _, err = cli("consent", "resume", consent_id, env={"SOUNDSTAGE_SINGLE_USER": "1"})
    assert code == 1 and "single-user" in err and "cannot sign" in err
    code, _, err = cli("consent", "resume", consent_id, env={"SOUNDSTAGE_TOKEN": "sst_" + "A" * 43})
    assert code == 1 and "unknown token" in err
    code, _, err = cli("consent", "resume", consent_id, who="Ken Ito")
    assert code == 1 and "may not consents.suspend" in err
    assert consent_service.show_consent(ws, consent_id)["status"] == "suspended"
    assert cli("consent", "resume", consent_id, who="Lena Ortiz")[0] == 0
    assert consent_service.show_consent(ws, consent_id)["status"] == "active"
    resumed = [e for e in audit_log(ws) if e["action"] == "consent.resumed"]
    assert [e["actor"] for e in resumed] == ["Lena Ortiz"]


def test_single_user_mode_says_so_signs_nothing_and_never_makes_a_final_deliverable(prod):
    cli, ws = prod["cli"], prod["ws"]
    single = {"SOUNDSTAGE_SINGLE_USER": "1"}
    me = "single-user:" + getpass.getuser()
    before = len(audit_log(ws, limit=None))
    code, out, err = cli("job", "submit", prod["temp"], "--json", env=single)
    assert code == 0 and json.loads(out)["status"] == "done", err
    assert {e["actor"] for e in audit_log(ws, limit=None)[before:]} == {me}
    code, _, err = cli("job", "submit", prod["final"], env=single)
    assert code == 1 and "final deliverable" in err and "single-user" in err
    code, out, _ = cli("job", "submit", prod["final"], "--json", who="Ken Ito")
    code, _, err = cli("job", "approve", json.loads(out)["job"], "--role", "producer", env=single)
    assert code == 1 and "cannot sign" in err
    code, _, err = cli("token", "create", "--person", "Ken Ito", env=single)
    assert code == 1 and "issued by a person who holds one" in err
    code, _, err = cli("crew", "add", "single-user:priya", "--role", "producer", env=single)
    assert code == 2 and "single-user mode" in err


def test_a_token_file_others_can_read_is_refused(prod):
    cli, tmp = prod["cli"], prod["tmp"]
    path = tmp / "ken.token"
    path.write_text(prod["tokens"]["Ken Ito"] + "\n")
    os.chmod(path, 0o644)
    code, _, err = cli("--token-file", str(path), "info")
    assert code == 2 and "can be read by others" in err and "chmod 600" in err
    os.chmod(path, 0o600)
    code, out, err = cli("--token-file", str(path), "info", "--json")
    assert code == 0 and json.loads(out)["title"] == "The Last Take", err


def test_init_makes_the_owner_and_a_credential_whose_holders_rotate_theirs(tmp_path, monkeypatch, capsys):
    for name in ("SOUNDSTAGE_TOKEN", "SOUNDSTAGE_TOKEN_FILE", "SOUNDSTAGE_SINGLE_USER", "SOUNDSTAGE_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    root, owner = tmp_path / "prod", tmp_path / "priya.token"
    assert main(["init", str(root), "--title", "The Last Take", "--owner", "Priya Shah", "--token-out",
                 str(owner)]) == 0
    assert oct(owner.stat().st_mode & 0o777) == "0o600"
    capsys.readouterr()

    def run(token_file: Path, *args: str) -> tuple[int, str, str]:
        code = main(["-w", str(root), "--token-file", str(token_file), *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run(owner, "info", "--json")
    info = json.loads(out)
    assert code == 0 and info["identity_root"].startswith("k-") and info["people"] == 1
    events = json.loads(run(owner, "audit", "log", "--json")[1])
    assert {e["actor"] for e in events} == {"Priya Shah"}
    assert run(owner, "crew", "add", "Lena Ortiz", "--role", "performer_rep")[0] == 0
    issued, mine = tmp_path / "lena.issued", tmp_path / "lena.token"
    assert run(owner, "token", "create", "--person", "Lena Ortiz", "--out", str(issued))[0] == 0
    # Lena replaces the credential Priya saw; the one Priya saw stops working
    code, out, err = run(issued, "token", "rotate", "--out", str(mine), "--json")
    assert code == 0, err
    assert json.loads(out)["person"] == "Lena Ortiz"
    code, _, err = run(issued, "crew", "list")
    assert code == 1 and "revoked" in err
    assert run(mine, "crew", "list")[0] == 0
    # Lena may not issue credentials to others (only producers and legal do)
    code, _, err = run(mine, "token", "create", "--person", "Priya Shah")
    assert code == 1 and "may not tokens.issue" in err
