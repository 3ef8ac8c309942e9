"""RFC 3161 time-stamps on every signature (issue 13, item 1): a real time-stamp authority on
loopback, wired through the production's settings into the guard; files that stay Trusted after
the signing certificate expires (the reader's clock moved with libfaketime); a TSA that is down
stops the signing; and `verify` telling "expired, no time-stamp" from "tampered"."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import tomli_w

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.errors import BackendError, SpecError
from soundstage.interfaces.cli.app import main
from soundstage.safeguards import keys
from soundstage.safeguards.provenance import read_credentials
from soundstage.safeguards.provenance.reading import ExplanationKind, explain, explain_codes
from soundstage.services import jobs_service as jobs
from soundstage.services.verify_service import trust_anchors, verdict, verify_file
from soundstage.services.workspace import open_workspace
from soundstage.settings import load_settings
from soundstage.store.models import Asset
from soundstage.testing.tsa import TimeStampAuthority, TsaServer, running_tsa

PROVENANCE = "soundstage.toml"


def configure(ws, **provenance):
    """Write [provenance] into the workspace's soundstage.toml and open it again, as the CLI would."""
    path = ws.settings.root / PROVENANCE
    cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    cfg["provenance"] = provenance
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    return open_workspace(ws.settings.root)


def with_tsa(ws, server: TsaServer):
    anchor = server.authority.write_ca(ws.settings.keys_dir / "tsa-ca.pem")
    return configure(ws, tsa_url=server.url, tsa_trust_anchor=str(anchor.relative_to(ws.settings.root)))


def ideation(ws, prompt: str = "rainy street at dusk") -> dict:
    from soundstage.services.people_service import add_crew

    try:
        add_crew(ws, "Priya Shah", ["producer"], actor="setup")
    except Exception:  # noqa: BLE001 - already on the crew
        pass
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                   requested_by="Priya Shah", model_id="soundstage.procedural-card", prompt=prompt)
    return jobs.submit_job(ws, spec, actor="Priya Shah")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def asset_count(ws) -> int:
    from sqlalchemy import func, select

    with ws.unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(Asset))


# ---------------------------------------------------------------- settings

def test_settings_read_the_tsa_and_trust_its_ca(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / PROVENANCE).write_text(textwrap.dedent("""
        [production]
        id = "p1"
        title = "T"
        [trust]
        anchors = ["studio.pem"]
        [provenance]
        tsa_url = "https://tsa.studio.example/tsr"
        tsa_trust_anchor = "keys/tsa-ca.pem"
    """), encoding="utf-8")
    settings = load_settings(root)
    assert settings.tsa_url == "https://tsa.studio.example/tsr"
    assert settings.tsa_trust_anchor == root / "keys/tsa-ca.pem"
    # readers trust the TSA's CA too: c2pa-rs checks time-stamp signers against the same anchors
    assert settings.trust_anchors == (root / "studio.pem", root / "keys/tsa-ca.pem")
    assert "provenance" not in settings.extra

    (root / PROVENANCE).write_text('[production]\nid = "p1"\ntitle = "T"\n', encoding="utf-8")
    plain = load_settings(root)
    assert plain.tsa_url is None and plain.tsa_trust_anchor is None and plain.trust_anchors == ()


@pytest.mark.parametrize(("section", "field"), [
    ('tsa_url = "ftp://tsa.example/"', "provenance.tsa_url"),
    ('tsa_url = "tsa.example.com"', "provenance.tsa_url"),
    ('tsa_url = ""', "provenance.tsa_url"),
    ('tsa_url = "http://"', "provenance.tsa_url"),
    ('tsa_url = "http://tsa.example/a b"', "provenance.tsa_url"),
    ("tsa_url = 3161", "provenance.tsa_url"),
    ("tsa_trust_anchor = 7", "provenance.tsa_trust_anchor"),
    ('tsa_ulr = "http://tsa.example/"', "provenance"),  # a typo would silently sign without time-stamps
])
def test_settings_refuse_a_bad_provenance_section(tmp_path, section, field):
    (tmp_path / PROVENANCE).write_text(f'[production]\nid = "p1"\ntitle = "T"\n[provenance]\n{section}\n',
                                       encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_settings(tmp_path)
    assert f"field '{field}'" in caught.value.one_line() and "\n" not in caught.value.one_line()


# ---------------------------------------------------------------- signing through the guard

def test_every_output_is_time_stamped_by_the_configured_tsa(sqlite_workspace):
    authority = TimeStampAuthority()
    stamped_at = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=90)).replace(microsecond=0)
    authority.freeze(stamped_at)  # so the time in the file is provably the TSA's, not this machine's
    with TsaServer(authority) as server:
        ws = with_tsa(sqlite_workspace, server)
        result = ideation(ws)
        assert result["status"] == "done"
        assert authority.requests == 1
    stored = ws.store.path_for(result["assets"][0]["sha256"])

    creds = read_credentials(stored, trust_anchors=trust_anchors(ws))
    assert creds.state.value == "Trusted"
    assert dt.datetime.fromisoformat(creds.signing_time) == stamped_at
    why = explain(creds)
    assert why.kind is ExplanationKind.TRUSTED and why.timestamp == "trusted"
    # a reader who has the production CA but not the TSA's sees the stamp as untrusted
    production_only = read_credentials(stored, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert explain(production_only).timestamp == "untrusted"
    checked = verify_file(stored, ws)
    assert checked["c2pa"]["state"] == "Trusted" and "signed by a trusted production" in checked["verdict"]


def test_a_stamp_from_before_the_certificate_existed_is_refused_before_anything_is_stored(sqlite_workspace):
    """The TSA's time is checked against the signing certificate: a signature stamped at a time the
    certificate was not valid reads Invalid from birth (not mistaken for an expired one), so the guard,
    which reads every signed output back before storing it, refuses it (red team: it was registered
    as a finished deliverable)."""
    authority = TimeStampAuthority(valid_from=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    authority.freeze(dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30))  # the leaf is minutes old
    with TsaServer(authority) as server:
        ws = with_tsa(sqlite_workspace, server)
        before = asset_count(ws)
        with pytest.raises(BackendError) as caught:
            ideation(ws)
    line = caught.value.one_line()
    assert "reads Invalid (" in line and "signingCredential.expired" in line and "nothing was stored" in line
    assert "was not valid" in line
    # the stamp is the cause, not the production's keys: the TSA is named, and what to do about it
    assert f"the time-stamp authority {server.url} dated the signing to a time the production's signing " \
           "certificate was not valid" in line
    assert "TSA's clock" in caught.value.hint and "check the production's keys" not in line
    assert asset_count(ws) == before and jobs.list_jobs(ws)[-1]["status"] == "failed"
    why = explain_codes("Invalid", ["signingCredential.expired"], [], ["timeStamp.trusted"])
    assert why.kind is ExplanationKind.SIGNED_OUTSIDE_VALIDITY


def test_a_stamp_from_a_tsa_the_production_does_not_trust_is_refused(sqlite_workspace, tmp_path):
    """c2pa stamps with whatever the TSA URL answers. A token from another authority (anyone on the path
    of an http:// URL can answer) made a file that read Trusted with timeStamp.untrusted today and
    EXPIRED once the certificate lapsed; it is refused, nothing stored (RFC 3161 §2.4.2)."""
    expected, impostor = TimeStampAuthority(), TimeStampAuthority()
    with TsaServer(impostor) as server:
        anchor = expected.write_ca(sqlite_workspace.settings.keys_dir / "tsa-ca.pem")
        ws = configure(sqlite_workspace, tsa_url=server.url,
                       tsa_trust_anchor=str(anchor.relative_to(sqlite_workspace.settings.root)))
        before = asset_count(ws)
        with pytest.raises(BackendError, match=r"does not chain to \[provenance\] tsa_trust_anchor .*timeStamp.untrusted"):
            ideation(ws, "stamped by someone else")
        assert impostor.requests == 1 and asset_count(ws) == before


def test_without_a_tsa_nothing_is_stamped(sqlite_workspace):
    ws = sqlite_workspace
    result = ideation(ws)
    creds = read_credentials(ws.store.path_for(result["assets"][0]["sha256"]), trust_anchors=trust_anchors(ws))
    assert creds.state.value == "Trusted" and creds.signing_time is None and explain(creds).timestamp is None


def test_a_tsa_that_is_down_stops_the_signing_and_nothing_is_written(sqlite_workspace):
    ws = configure(sqlite_workspace, tsa_url=f"http://127.0.0.1:{free_port()}/tsa")
    before, files_before = asset_count(ws), sorted(p.name for p in ws.store.root.rglob("*") if p.is_file())
    with pytest.raises(BackendError) as caught:
        ideation(ws, "the TSA is down")
    line = caught.value.one_line()
    assert "\n" not in line and ws.settings.tsa_url in line
    assert asset_count(ws) == before
    assert sorted(p.name for p in ws.store.root.rglob("*") if p.is_file()) == files_before
    job = jobs.list_jobs(ws)[-1]
    assert job["status"] == "failed"


def test_a_tsa_that_refuses_stops_the_signing(sqlite_workspace):
    with running_tsa() as server:
        ws = configure(sqlite_workspace, tsa_url=server.url)
        server.authority.refuse("clock not synchronised")
        before = asset_count(ws)
        with pytest.raises(BackendError, match="time-stamp authority .* gave no time-stamp, so nothing was signed"):
            ideation(ws, "the TSA says no")
        assert server.authority.requests == 1 and asset_count(ws) == before


@pytest.mark.parametrize(("fault", "words"), [
    ("nonce", "answered with a time-stamp for another request (its nonce is not the one sent)"),
    ("imprint", "answered with a time-stamp over other data (its message imprint is not this signature's hash)"),
])
def test_a_token_that_does_not_answer_the_request_names_the_tsa_and_the_cause(sqlite_workspace, fault, words):
    """The red team's finding: a TSA that answered with another nonce made "C2PA library failed while
    signing: … (nonce mismatch)", naming no TSA; one that stamped other data was said to have given
    no time-stamp. Each is one line naming the TSA's URL and what was wrong with its answer."""
    with running_tsa() as server:
        ws = with_tsa(sqlite_workspace, server)
        server.authority.misanswer(fault)
        before = asset_count(ws)
        with pytest.raises(BackendError) as caught:
            ideation(ws, f"a {fault} that is not this request's")
        assert server.authority.requests == 1
    line = caught.value.one_line()
    assert f"the time-stamp authority {server.url} {words}, so nothing was signed" in line
    assert "gave no time-stamp" not in line and "C2PA library failed" not in line and "\n" not in line
    assert "[provenance] tsa_url" in caught.value.hint and "operator" in caught.value.hint
    assert asset_count(ws) == before and jobs.list_jobs(ws)[-1]["status"] == "failed"


def _tls_certificate_under_a_ca():
    """A CA and an ordinary TLS server certificate it issued (serverAuth, not timeStamping), in the
    profile c2pa-rs otherwise accepts (key identifiers): (certificate, its key, the CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def usage(**on):
        flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                     encipher_only=False, decipher_only=False)
        return x509.KeyUsage(**{**flags, **on})

    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Studio Web CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
          .add_extension(ca_ski, critical=False).sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tsa.studio")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key, ca


def test_a_tsa_certificate_c2pa_refuses_is_blamed_on_the_tsa_not_on_the_claim_signer(sqlite_workspace):
    """c2pa-rs reports a TSA certificate it refuses (here a TLS server's, with no timeStamping EKU)
    as signingCredential.invalid, and the job failed with "the signing certificate was refused"
    (SpecError, field chain): the production's keys were blamed for the TSA's. The same signer signs
    without the TSA, so the TSA is named, with what its certificate must be."""
    cert, key, ca = _tls_certificate_under_a_ca()
    authority = TimeStampAuthority.issued_as(cert, key, ca=ca)
    with TsaServer(authority) as server:
        ws = configure(sqlite_workspace, tsa_url=server.url)
        before = asset_count(ws)
        with pytest.raises(BackendError) as caught:
            ideation(ws, "stamped by a TLS server's certificate")
    line = caught.value.one_line()
    assert f"the time-stamp authority {server.url} answered with a token whose certificate c2pa refuses" in line
    assert "certificate missing required EKU" in line and "the signing certificate was refused" not in line
    assert "timeStamping" in caught.value.hint and "\n" not in line
    assert asset_count(ws) == before and jobs.list_jobs(ws)[-1]["status"] == "failed"
    # and the claim signer is indeed fine: without a TSA the same production signs
    assert ideation(configure(ws), "signed without a time-stamp")["status"] == "done"


def test_the_production_signer_carries_the_tsa_it_was_loaded_with(sqlite_workspace):
    keys_dir = sqlite_workspace.settings.keys_dir
    assert keys.load_production_signer(keys_dir).tsa_url is None
    stamped = keys.load_production_signer(keys_dir, tsa_url="http://127.0.0.1:3161/tsa")
    assert stamped.tsa_url == "http://127.0.0.1:3161/tsa"


# ---------------------------------------------------------------- the clock moved past expiry

READ_IN_THE_FUTURE = """
import json, sys
from pathlib import Path
from soundstage.services.workspace import open_workspace
from soundstage.services.verify_service import verify_file
ws = open_workspace(Path(sys.argv[1]))
out = {}
for name in sys.argv[2:]:
    r = verify_file(Path(name), ws)
    out[Path(name).name] = {"state": r["c2pa"]["state"], "failure_codes": r["c2pa"]["failure_codes"],
                            "verdict": r["verdict"]}
import datetime
out["now"] = datetime.datetime.now(datetime.timezone.utc).isoformat()
print(json.dumps(out))
"""


def _flip_idat_byte(src: Path, dst: Path) -> Path:
    data = bytearray(src.read_bytes())
    data[data.rfind(b"IDAT") + 30] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("faketime") is None,
                    reason="needs libfaketime's `faketime` (Debian package faketime; scripts/sysdeps.sh installs it)")
def test_time_stamped_files_stay_trusted_after_the_certificate_expires(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    plain = ws.store.path_for(ideation(ws, "signed without a time-stamp")["assets"][0]["sha256"])
    with running_tsa(tmp_path / "tsa") as server:
        ws = with_tsa(ws, server)
        stamped = ws.store.path_for(ideation(ws, "signed with a time-stamp")["assets"][0]["sha256"])
    files = {"plain": shutil.copy(plain, tmp_path / "plain.png"), "stamped": shutil.copy(stamped, tmp_path / "stamped.png"),
             "tampered": _flip_idat_byte(plain, tmp_path / "tampered.png")}
    expires = keys.signing_certificate_expiry(ws.settings.keys_dir)
    assert expires < dt.datetime(2031, 1, 1, tzinfo=dt.timezone.utc)  # the two-year leaf is long gone by then

    def read_at(when: str | None) -> dict:
        cmd = [sys.executable, "-c", READ_IN_THE_FUTURE, str(ws.settings.root), *map(str, files.values())]
        if when:
            cmd = ["faketime", when, *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ})
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    today, future = read_at(None), read_at("2031-01-01 12:00:00")
    assert future["now"].startswith("2031-01-01")
    assert today["stamped.png"]["state"] == today["plain.png"]["state"] == "Trusted"

    # 2031: the time-stamped file still verifies; the other one cannot be checked any more
    assert future["stamped.png"]["state"] == "Trusted", future["stamped.png"]
    assert future["plain.png"]["state"] == "Invalid"
    assert "signingCredential.expired" in future["plain.png"]["failure_codes"]
    # ... and verify says why: expired without a time-stamp, which is not "tampered"
    assert "credentials EXPIRED" in future["plain.png"]["verdict"]
    assert "no trusted time-stamp" in future["plain.png"]["verdict"]
    assert "changed after signing" not in future["plain.png"]["verdict"]
    # a tampered copy says so, today and in 2031 (its hash mismatch outranks the expiry)
    for reading in (today, future):
        assert "assertion.dataHash.mismatch" in reading["tampered.png"]["failure_codes"]
        assert "changed after signing" in reading["tampered.png"]["verdict"]
        assert "EXPIRED" not in reading["tampered.png"]["verdict"]
    assert future["plain.png"]["verdict"] != future["tampered.png"]["verdict"]


# ---------------------------------------------------------------- what a reading means (pure)

@pytest.mark.parametrize(("state", "codes", "timestamps", "kind", "stamp"), [
    ("Trusted", [], ["timeStamp.validated", "timeStamp.trusted"], ExplanationKind.TRUSTED, "trusted"),
    ("Valid", ["signingCredential.untrusted"], [], ExplanationKind.UNTRUSTED_SIGNER, None),
    ("Invalid", ["signingCredential.untrusted", "signingCredential.expired"], [],
     ExplanationKind.EXPIRED_NO_TIMESTAMP, None),
    ("Invalid", ["signingCredential.untrusted", "signingCredential.expired"], ["timeStamp.untrusted"],
     ExplanationKind.EXPIRED_NO_TIMESTAMP, "untrusted"),
    ("Invalid", ["signingCredential.expired"], ["timeStamp.trusted"], ExplanationKind.SIGNED_OUTSIDE_VALIDITY,
     "trusted"),
    ("Invalid", ["assertion.dataHash.mismatch"], [], ExplanationKind.TAMPERED, None),
    ("Invalid", ["signingCredential.expired", "assertion.dataHash.mismatch"], [], ExplanationKind.TAMPERED, None),
    ("Invalid", ["claimSignature.mismatch"], [], ExplanationKind.TAMPERED, None),
    ("Invalid", ["assertion.bmffHash.mismatch"], [], ExplanationKind.TAMPERED, None),
    ("Invalid", ["signingCredential.ocsp.revoked"], [], ExplanationKind.REVOKED, None),
    ("Invalid", ["signingCredential.invalid"], [], ExplanationKind.BAD_CREDENTIAL, None),
    ("Invalid", ["claimSignature.missing"], [], ExplanationKind.INCOMPLETE, None),
    ("Invalid", ["timeStamp.mismatch"], ["timeStamp.mismatch"], ExplanationKind.INVALID, "invalid"),
    ("Absent", [], [], ExplanationKind.ABSENT, None),
])
def test_explain_names_the_cause_from_the_codes(state, codes, timestamps, kind, stamp):
    why = explain_codes(state, codes, codes, timestamps)
    assert why.kind is kind and why.timestamp == stamp
    assert "\n" not in why.text and why.text


def _verdict_for(failure_codes: list[str]) -> str:
    return verdict({"c2pa": {"state": "Invalid", "failure_codes": failure_codes, "status_codes": failure_codes,
                             "digital_source_types": [], "soundstage": None}, "watermark": None, "ledger": None,
                    "identity": {}})


def test_verdict_tells_expired_from_tampered():
    expired = _verdict_for(["signingCredential.untrusted", "signingCredential.expired"])
    tampered = _verdict_for(["assertion.dataHash.mismatch"])
    assert expired.startswith("Credentials EXPIRED (") and "no trusted time-stamp" in expired
    assert "changed after signing" not in expired
    assert tampered.startswith("Credentials INVALID (assertion.dataHash.mismatch)") and "changed after signing" in tampered


# ---------------------------------------------------------------- say so loudly: keys init, info

@pytest.fixture
def cli(sqlite_workspace, monkeypatch, capsys):
    from rich.console import Console

    from soundstage.interfaces.cli import common
    from soundstage.services.people_service import add_crew
    from soundstage.testing.identity import token_for

    add_crew(sqlite_workspace, "Tom Reed", ["producer", "legal"], actor="setup")
    monkeypatch.setenv("SOUNDSTAGE_TOKEN", token_for(sqlite_workspace, "Tom Reed"))
    monkeypatch.setattr(common, "console", Console(width=200, highlight=False))
    monkeypatch.delenv("SOUNDSTAGE_WORKSPACE", raising=False)
    root = str(sqlite_workspace.settings.root)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["-w", root, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _remove_signing_keys(ws) -> None:
    for name in ("ca.pem", "ca.key", "chain.pem", "signer.key", "signing.json"):
        (ws.settings.keys_dir / name).unlink(missing_ok=True)


def test_keys_init_warns_without_a_tsa(cli, sqlite_workspace):
    _remove_signing_keys(sqlite_workspace)
    code, out, err = cli("keys", "init")
    assert code == 0, err
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1
    expires = keys.signing_certificate_expiry(sqlite_workspace.settings.keys_dir)
    assert "time-stamp authority" in warning[0] and f"expires on {expires:%Y-%m-%d}" in warning[0]
    assert "[provenance] tsa_url" in warning[0]


def test_keys_init_with_a_tsa_does_not_warn(cli, sqlite_workspace):
    configure(sqlite_workspace, tsa_url="http://127.0.0.1:3161/tsa")
    _remove_signing_keys(sqlite_workspace)
    code, out, err = cli("keys", "init")
    assert code == 0, err
    assert "warning" not in err and "time-stamped by http://127.0.0.1:3161/tsa" in out


def test_info_shows_the_tsa_status(cli, sqlite_workspace):
    code, out, err = cli("info", "--json")
    data = json.loads(out)
    assert data["tsa_url"] is None and data["signing_certificate_expires"]
    code, out, err = cli("info")
    assert code == 0 and "warning: no RFC 3161 time-stamp authority" in err

    configure(sqlite_workspace, tsa_url="http://127.0.0.1:3161/tsa", tsa_trust_anchor="keys/tsa-ca.pem")
    code, out, err = cli("info", "--json")
    data = json.loads(out)
    assert data["tsa_url"] == "http://127.0.0.1:3161/tsa"
    assert data["tsa_trust_anchor"].endswith("keys/tsa-ca.pem")
    code, out, err = cli("info")
    assert "warning" not in err and "http://127.0.0.1:3161/tsa" in out


# ---------------------------------------------------------------- audit checkpoints, time-stamped

def _checkpoint_with_tsa(ws, tmp_path, authority: TimeStampAuthority, name: str = "cp.json"):
    from soundstage.services.audit_anchor import write_checkpoint

    with TsaServer(authority) as server:
        ws = with_tsa(ws, server)
        made = write_checkpoint(ws, tmp_path / name, actor="legal")
    return ws, made


def _retoken(path: Path, token: bytes) -> None:
    import base64

    doc = json.loads(path.read_text())
    doc["timestamp"] = {"token": base64.b64encode(token).decode("ascii")}
    path.write_text(json.dumps(doc))


def _token(path: Path) -> bytes:
    import base64

    return base64.b64decode(json.loads(path.read_text())["timestamp"]["token"])


def test_checkpoints_carry_a_tsa_token_that_verify_checks(sqlite_workspace, tmp_path):
    from soundstage.services.audit_anchor import check_anchors
    from soundstage.services.ledger import audit_log

    authority = TimeStampAuthority()
    stamped_at = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=30)).replace(microsecond=0)
    authority.freeze(stamped_at)
    ws, made = _checkpoint_with_tsa(sqlite_workspace, tmp_path, authority)
    assert made["timestamped"] is True and dt.datetime.fromisoformat(made["time_stamped_at"]) == stamped_at
    assert authority.requests == 1
    assert audit_log(ws, action="audit.checkpointed")[-1]["payload"]["time_stamped_at"] == stamped_at.isoformat()
    (result,) = check_anchors(ws, [tmp_path / "cp.json"])
    assert result["ok"], result["problem"]
    assert result["time_stamp"] == "trusted" and result["time_stamped_at"] == stamped_at.isoformat()


def test_a_forged_or_transplanted_checkpoint_token_is_caught(sqlite_workspace, tmp_path):
    from asn1crypto import cms, tsp

    from soundstage.services.audit_anchor import check_anchors

    ws, _ = _checkpoint_with_tsa(sqlite_workspace, tmp_path, TimeStampAuthority(), "a.json")
    ws, _ = _checkpoint_with_tsa(ws, tmp_path, TimeStampAuthority(tmp_path / "second-tsa"), "b.json")
    # the workspace now names b's TSA and trusts its CA (keys/tsa-ca.pem), not a's
    genuine = _token(tmp_path / "b.json")
    assert check_anchors(ws, [tmp_path / "b.json"])[0]["ok"]

    # a token from another checkpoint: its imprint is another signature's
    shutil.copy(tmp_path / "b.json", tmp_path / "moved.json")
    _retoken(tmp_path / "moved.json", _token(tmp_path / "a.json"))
    # the genuine token with its time moved back a year
    token = cms.ContentInfo.load(genuine)
    signed = token["content"]
    info = tsp.TSTInfo.load(signed["encap_content_info"]["content"].contents)
    info["gen_time"] = info["gen_time"].native - dt.timedelta(days=365)
    forged_signed = signed.copy()
    forged_signed["encap_content_info"] = {"content_type": "tst_info", "content": info}
    shutil.copy(tmp_path / "b.json", tmp_path / "backdated.json")
    _retoken(tmp_path / "backdated.json", cms.ContentInfo({"content_type": "signed_data",
                                                           "content": forged_signed}).dump())
    shutil.copy(tmp_path / "b.json", tmp_path / "junk.json")
    _retoken(tmp_path / "junk.json", b"\x30\x03abc")
    results = {Path(r["file"]).name: r for r in check_anchors(
        ws, [tmp_path / "moved.json", tmp_path / "backdated.json", tmp_path / "junk.json", tmp_path / "a.json"])}
    assert not results["moved.json"]["ok"] and "other data" in results["moved.json"]["problem"]
    assert not results["backdated.json"]["ok"] and "altered after the TSA signed" in results["backdated.json"]["problem"]
    assert not results["junk.json"]["ok"] and "cannot be read" in results["junk.json"]["problem"]
    # a.json was stamped by a TSA this production does not trust
    assert not results["a.json"]["ok"] and "does not chain" in results["a.json"]["problem"]


def test_no_checkpoint_when_the_tsa_is_down(sqlite_workspace, tmp_path):
    from soundstage.services.audit_anchor import write_checkpoint
    from soundstage.services.ledger import audit_log

    ws = configure(sqlite_workspace, tsa_url=f"http://127.0.0.1:{free_port()}/tsa")
    before = len(audit_log(ws, action="audit.checkpointed"))
    with pytest.raises(BackendError) as caught:
        write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    assert "no checkpoint was written" in caught.value.one_line()
    assert not (tmp_path / "cp.json").exists() and len(audit_log(ws, action="audit.checkpointed")) == before


def test_audit_checkpoint_and_verify_on_the_command_line_show_the_time_stamp(cli, sqlite_workspace, tmp_path):
    with running_tsa() as server:
        with_tsa(sqlite_workspace, server)
        code, out, err = cli("audit", "checkpoint", "--out", str(tmp_path / "cp.json"))
        assert code == 0, err
        assert f"time-stamped by {server.url} at " in out
    code, out, err = cli("audit", "verify", "--checkpoint", str(tmp_path / "cp.json"))
    assert code == 0, err
    assert "cp.json: event #" in out and "(time-stamped 20" in out
