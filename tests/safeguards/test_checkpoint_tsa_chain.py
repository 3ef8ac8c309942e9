"""The chain of an audit checkpoint's RFC 3161 time-stamp (safeguards/checkpoint.py), as an attacker
would try it. The red team's finding: anyone holding an ordinary certificate under the configured
TSA CA (a TLS server's) could sign a "TSA" certificate with it and stamp a checkpoint at any time
they liked, and `audit verify --checkpoint` called it trusted. Every issuer in the path must be a CA
(RFC 5280 §6.1.4 (k), (n), path length) at the stamped time, and the TSA certificate must carry the
critical, sole timeStamping usage (RFC 3161 §2.3)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import tomllib

import pytest
import tomli_w
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from rich.console import Console

from soundstage.errors import BackendError, SpecError
from soundstage.interfaces.cli import common
from soundstage.interfaces.cli.app import main
from soundstage.safeguards import checkpoint
from soundstage.services.audit_anchor import check_anchors, write_checkpoint
from soundstage.services.ledger import audit_log
from soundstage.services.workspace import open_workspace
from soundstage.testing.tsa import TimeStampAuthority, TsaServer

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
SIGNATURE = b"the raw bytes of a checkpoint's signature value"
TS = ExtendedKeyUsageOID.TIME_STAMPING


def _usage(**on: bool) -> x509.KeyUsage:
    flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
                 key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)
    return x509.KeyUsage(**{**flags, **on})


def _cert(subject: str, key, issuer: x509.Certificate | None, issuer_key, *, ca: bool | None,
          path_length: int | None = None, usage: x509.KeyUsage | None = None, ekus=None, eku_critical: bool = True,
          valid: tuple[dt.datetime, dt.datetime] | None = None, extra=()) -> x509.Certificate:
    """A certificate as anyone with `issuer_key` can make one: nothing here stops a non-CA issuing."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    start, end = valid or (NOW - dt.timedelta(days=400), NOW + dt.timedelta(days=3000))
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer.subject if issuer is not None else name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end))
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None),
                                        critical=True)
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    if ekus is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=eku_critical)
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class Pki:
    """A public-root-like CA (issues TSA certificates and others), as the finding describes."""

    def __init__(self, path_length: int | None = None) -> None:
        self.root_key = _key()
        self.root = _cert("Public Root CA", self.root_key, None, self.root_key, ca=True, path_length=path_length,
                          usage=_usage(key_cert_sign=True, crl_sign=True))

    def leaf(self, subject: str, issuer: x509.Certificate | None = None, issuer_key=None, **options):
        key = _key()
        options.setdefault("ca", False)
        options.setdefault("usage", _usage(digital_signature=True))
        options.setdefault("ekus", [TS])
        return _cert(subject, key, issuer or self.root, issuer_key or self.root_key, **options), key

    def tls(self):
        """An ordinary end-entity certificate the root issued: its key is the attacker's."""
        return self.leaf("www.attacker.example", ekus=[ExtendedKeyUsageOID.SERVER_AUTH])

    def intermediate(self, subject: str = "Public TSA CA", **options):
        options.setdefault("ca", True)
        options.setdefault("usage", _usage(key_cert_sign=True, crl_sign=True))
        options.setdefault("ekus", None)
        return self.leaf(subject, **options)


def _stamp(cert: x509.Certificate, key, chain=(), *, ca: x509.Certificate, at: dt.datetime = NOW) -> bytes:
    """A token over SIGNATURE from an authority that signs with `cert` and sends `chain` with it."""
    authority = TimeStampAuthority.issued_as(cert, key, ca=ca, chain=tuple(chain))
    authority.freeze(at)
    nonce = secrets.randbits(63)
    return checkpoint.token_from_reply(authority.respond(checkpoint.timestamp_request(SIGNATURE, nonce)))


def _configure(ws, server: TsaServer, anchor: x509.Certificate):
    """[provenance] naming the TSA and trusting `anchor` as its CA, as an operator would set it."""
    (ws.settings.keys_dir / "tsa-ca.pem").write_bytes(_pem(anchor))
    path = ws.settings.root / "soundstage.toml"
    cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    cfg["provenance"] = {"tsa_url": server.url, "tsa_trust_anchor": "keys/tsa-ca.pem"}
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    return open_workspace(ws.settings.root)


def _check(token: bytes, *anchors: x509.Certificate) -> checkpoint.TimeStamp:
    return checkpoint.verify_timestamp(token, SIGNATURE, [_pem(a) for a in anchors])


# ---------------------------------------------------------------- chains that hold

def test_the_project_test_tsa_chain_is_trusted():
    authority = TimeStampAuthority()
    token = checkpoint.token_from_reply(authority.respond(checkpoint.timestamp_request(SIGNATURE, 7)))
    stamp = checkpoint.verify_timestamp(token, SIGNATURE, [authority.ca_pem], nonce=7)
    assert stamp.trusted and stamp.problem == ""


def test_a_tsa_under_a_time_stamping_intermediate_is_trusted():
    pki = Pki()
    inter, inter_key = pki.intermediate(ekus=[TS])
    tsa, tsa_key = pki.leaf("Public TSA unit", inter, inter_key)
    stamp = _check(_stamp(tsa, tsa_key, [inter], ca=pki.root), pki.root)
    assert stamp.trusted, stamp.problem


def test_a_pinned_tsa_certificate_is_trusted():
    pki = Pki()
    tsa, tsa_key = pki.leaf("Pinned TSA")
    assert _check(_stamp(tsa, tsa_key, ca=pki.root), tsa).trusted


def test_an_old_stamp_stays_trusted_after_its_intermediate_expired():
    """The chain is checked at the stamped time, not now: a genuine old stamp keeps its worth."""
    pki = Pki()
    then = NOW - dt.timedelta(days=200)
    inter, inter_key = pki.intermediate(valid=(NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=100)))
    tsa, tsa_key = pki.leaf("Retired TSA", inter, inter_key,
                            valid=(NOW - dt.timedelta(days=300), NOW - dt.timedelta(days=150)))
    stamp = _check(_stamp(tsa, tsa_key, [inter], ca=pki.root, at=then), pki.root)
    assert stamp.trusted and stamp.at == then


# ---------------------------------------------------------------- chains that must not

def _forged_by_tls(pki: Pki):
    tls, tls_key = pki.tls()
    fake, fake_key = pki.leaf("Forged TSA", tls, tls_key)
    return fake, fake_key, tls


@pytest.mark.parametrize("send_root", [False, True], ids=["chain", "chain+root"])
def test_a_tsa_certificate_signed_by_an_ordinary_certificate_is_refused(send_root):
    """The red team's forgery: the TLS leaf is not a CA, so what it signs proves nothing."""
    pki = Pki()
    fake, fake_key, tls = _forged_by_tls(pki)
    token = _stamp(fake, fake_key, [tls, pki.root] if send_root else [tls], ca=pki.root,
                   at=NOW - dt.timedelta(days=300))  # back-dated
    stamp = _check(token, pki.root)
    assert not stamp.trusted
    assert "basicConstraints.cA" in stamp.problem and "www.attacker.example" in stamp.problem
    assert "\n" not in stamp.problem


def _issuer_case(kind: str, pki: Pki):
    """A TSA certificate under an intermediate that fails one RFC 5280 rule; (tsa, key, chain)."""
    if kind == "no_basic_constraints":
        inter, inter_key = pki.intermediate(ca=None)
    elif kind == "ca_without_keyCertSign":
        inter, inter_key = pki.intermediate(usage=_usage(digital_signature=True))
    elif kind == "ca_for_tls_only":
        inter, inter_key = pki.intermediate(ekus=[ExtendedKeyUsageOID.SERVER_AUTH])
    elif kind == "expired_before_the_stamp":
        inter, inter_key = pki.intermediate(valid=(NOW - dt.timedelta(days=900), NOW - dt.timedelta(days=600)))
    elif kind == "unknown_critical_extension":
        odd = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
        inter, inter_key = pki.intermediate(extra=[(odd, True)])
    elif kind == "path_length_exceeded":
        inter, inter_key = pki.intermediate(path_length=0)
        inter2, inter2_key = pki.leaf("Sub CA", inter, inter_key, ca=True,
                                      usage=_usage(key_cert_sign=True), ekus=None)
        tsa, key = pki.leaf("Deep TSA", inter2, inter2_key)
        return tsa, key, [inter2, inter]
    elif kind == "same_name_as_the_root":
        # a self-made "Public Root CA": the right name, the wrong key
        impostor_key = _key()
        impostor = _cert("Public Root CA", impostor_key, None, impostor_key, ca=True,
                         usage=_usage(key_cert_sign=True))
        tsa, key = pki.leaf("Impostor TSA", impostor, impostor_key)
        return tsa, key, [impostor]
    else:
        raise AssertionError(kind)
    tsa, key = pki.leaf("TSA under a bad issuer", inter, inter_key)
    return tsa, key, [inter]


@pytest.mark.parametrize(("kind", "words"), [
    ("no_basic_constraints", "basicConstraints"),
    ("ca_without_keyCertSign", "keyCertSign"),
    ("ca_for_tls_only", "timeStamping"),
    ("expired_before_the_stamp", "not valid at validation time"),
    ("unknown_critical_extension", "critical"),
    ("path_length_exceeded", "path length"),
    ("same_name_as_the_root", ""),
])
def test_a_chain_through_an_issuer_that_may_not_issue_is_refused(kind, words):
    pki = Pki()
    tsa, key, chain = _issuer_case(kind, pki)
    stamp = _check(_stamp(tsa, key, chain, ca=pki.root, at=NOW - dt.timedelta(days=30)), pki.root)
    assert not stamp.trusted
    assert words in stamp.problem and stamp.problem and "\n" not in stamp.problem


def test_a_root_whose_path_length_forbids_intermediates_refuses_them():
    pki = Pki(path_length=0)
    inter, inter_key = pki.intermediate(ekus=[TS])
    tsa, key = pki.leaf("TSA", inter, inter_key)
    stamp = _check(_stamp(tsa, key, [inter], ca=pki.root), pki.root)
    assert not stamp.trusted and "path length" in stamp.problem


def test_a_ca_certificate_is_not_a_tsa():
    pki = Pki()
    tsa, key = pki.leaf("CA posing as a TSA", ca=True, usage=_usage(digital_signature=True, key_cert_sign=True))
    stamp = _check(_stamp(tsa, key, ca=pki.root), pki.root)
    assert not stamp.trusted and stamp.problem


@pytest.mark.parametrize(("options", "words"), [
    ({"eku_critical": False}, "critical timeStamping"),
    ({"ekus": [TS, ExtendedKeyUsageOID.SERVER_AUTH]}, "critical timeStamping"),
    ({"ekus": None}, "no extended key usage"),
])
def test_a_tsa_certificate_without_the_critical_sole_time_stamping_usage_is_refused(options, words):
    pki = Pki()
    tsa, key = pki.leaf("Sloppy TSA", **options)
    with pytest.raises(SpecError, match=words):
        _check(_stamp(tsa, key, ca=pki.root), pki.root)


# ---------------------------------------------------------------- end to end: the red team's reproduction

def test_a_forged_back_dated_checkpoint_stamp_is_refused_and_the_genuine_one_verifies(sqlite_workspace, tmp_path,
                                                                                       monkeypatch, capsys):
    pki = Pki()
    real, real_key = pki.leaf("Real TSA")
    with TsaServer(TimeStampAuthority.issued_as(real, real_key, ca=pki.root)) as server:
        ws = _configure(sqlite_workspace, server, pki.root)
        write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    doc = json.loads((tmp_path / "cp.json").read_text())
    signature = base64.b64decode(doc["signature"]["value"])

    fake, fake_key, tls = _forged_by_tls(pki)
    forger = TimeStampAuthority.issued_as(fake, fake_key, ca=pki.root, chain=(tls,))
    forger.freeze(NOW - dt.timedelta(days=300))
    token = checkpoint.token_from_reply(forger.respond(checkpoint.timestamp_request(signature, 1)))
    (tmp_path / "forged.json").write_text(json.dumps(checkpoint.attach_timestamp(doc, token)))
    assert hashlib.sha256(signature).digest() in token  # the forgery is over the right data: only its chain is bad

    genuine, forged = check_anchors(ws, [tmp_path / "cp.json", tmp_path / "forged.json"])
    assert genuine["ok"] and genuine["time_stamp"] == "trusted", genuine["problem"]
    assert not forged["ok"] and forged.get("time_stamped_at") is None
    assert "'Forged TSA', which does not chain" in forged["problem"]
    assert "basicConstraints.cA" in forged["problem"] and "\n" not in forged["problem"]

    # on the command line (the red team's c1_cli.py): exit 1 and one line saying why
    monkeypatch.setenv("SOUNDSTAGE_SINGLE_USER", "1")
    monkeypatch.delenv("SOUNDSTAGE_TOKEN", raising=False)
    monkeypatch.setattr(common, "console", Console(width=300, highlight=False))
    root = str(ws.settings.root)
    capsys.readouterr()
    assert main(["-w", root, "audit", "verify", "--checkpoint", str(tmp_path / "forged.json")]) == 1
    out, err = capsys.readouterr()
    (line,) = [text for text in err.splitlines() if text.startswith("error:")]
    assert "'Forged TSA', which does not chain" in line and "basicConstraints.cA" in line
    assert "time-stamped 20" not in out
    assert main(["-w", root, "audit", "verify", "--checkpoint", str(tmp_path / "cp.json")]) == 0
    assert "(time-stamped 20" in capsys.readouterr().out


def test_no_checkpoint_is_written_through_a_forged_tsa(sqlite_workspace, tmp_path):
    pki = Pki()
    fake, fake_key, tls = _forged_by_tls(pki)
    with TsaServer(TimeStampAuthority.issued_as(fake, fake_key, ca=pki.root, chain=(tls,))) as server:
        ws = _configure(sqlite_workspace, server, pki.root)
        before = len(audit_log(ws, action="audit.checkpointed"))
        with pytest.raises(BackendError) as caught:
            write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    line = caught.value.one_line()
    assert "not signed under [provenance] tsa_trust_anchor" in line and "basicConstraints.cA" in line
    assert "\n" not in line
    assert not (tmp_path / "cp.json").exists() and len(audit_log(ws, action="audit.checkpointed")) == before
