"""The local RFC 3161 time-stamp authority speaks the real protocol: OpenSSL's own `ts` command
makes the requests and verifies the replies, over HTTP on loopback."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from soundstage.testing.tsa import POLICY_OID, QUERY_TYPE, REPLY_TYPE, TimeStampAuthority, TimeStampResp, running_tsa

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def post(url: str, body: bytes, content_type: str = QUERY_TYPE) -> httpx.Response:
    return httpx.post(url, content=body, headers={"Content-Type": content_type}, timeout=10)


def query(tmp_path: Path, data: bytes, *extra: str) -> Path:
    (tmp_path / "data.bin").write_bytes(data)
    made = openssl("ts", "-query", "-data", "data.bin", "-sha256", *extra, "-out", "q.tsq", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    return tmp_path / "q.tsq"


def test_openssl_verifies_a_reply_against_the_query_the_data_and_the_tsa_ca(tmp_path):
    q = query(tmp_path, b"the de-aged shot, frame 1", "-cert")
    with running_tsa(tmp_path / "tsa") as server:
        reply = post(server.url, q.read_bytes())
    assert reply.status_code == 200 and reply.headers["content-type"] == REPLY_TYPE
    (tmp_path / "r.tsr").write_bytes(reply.content)
    ca = tmp_path / "tsa" / "tsa-ca.pem"
    for against in (["-queryfile", "q.tsq"], ["-data", "data.bin"]):
        checked = openssl("ts", "-verify", "-in", "r.tsr", *against, "-CAfile", str(ca), cwd=tmp_path)
        assert checked.returncode == 0 and "Verification: OK" in checked.stdout, checked.stderr
    # the same reply for other data, or against another authority's CA, does not verify
    (tmp_path / "other.bin").write_bytes(b"another file")
    wrong_data = openssl("ts", "-verify", "-in", "r.tsr", "-data", "other.bin", "-CAfile", str(ca), cwd=tmp_path)
    assert wrong_data.returncode != 0
    other_ca = TimeStampAuthority().write_ca(tmp_path / "other-ca.pem")
    wrong_ca = openssl("ts", "-verify", "-in", "r.tsr", "-queryfile", "q.tsq", "-CAfile", str(other_ca),
                       cwd=tmp_path)
    assert wrong_ca.returncode != 0


def test_reply_echoes_the_nonce_uses_the_frozen_clock_and_honours_cert_req(tmp_path):
    authority = TimeStampAuthority(valid_from=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    when = dt.datetime(2024, 2, 29, 12, 30, 5, tzinfo=dt.timezone.utc)
    authority.freeze(when)
    request = tsp.TimeStampReq.load(query(tmp_path, b"x", "-cert").read_bytes())
    token = tsp.TimeStampResp.load(authority.respond(request.dump()))["time_stamp_token"]
    signed = token["content"]
    info = signed["encap_content_info"]["content"].parsed
    assert info["nonce"].native == request["nonce"].native is not None
    assert info["gen_time"].native == when and info["policy"].native == POLICY_OID
    assert info["message_imprint"].native == request["message_imprint"].native
    assert len(signed["certificates"]) == 1  # certReq: the TSA certificate, referenced by ESS signingCertificateV2
    attrs = {a["type"].native for a in signed["signer_infos"][0]["signed_attrs"]}
    assert attrs == {"content_type", "message_digest", "signing_certificate_v2"}

    no_cert = tsp.TimeStampReq.load(query(tmp_path, b"x").read_bytes())  # openssl leaves certReq out
    assert not no_cert["cert_req"].native
    signed = tsp.TimeStampResp.load(authority.respond(no_cert.dump()))["time_stamp_token"]["content"]
    assert not signed["certificates"]
    # every token has its own serial number
    again = tsp.TimeStampResp.load(authority.respond(request.dump()))["time_stamp_token"]["content"]
    serial = again["encap_content_info"]["content"].parsed["serial_number"].native
    assert serial != info["serial_number"].native
    with pytest.raises(ValueError):
        authority.freeze(dt.datetime(2019, 1, 1, tzinfo=dt.timezone.utc))  # before its certificate


def test_tsa_certificate_has_only_the_critical_time_stamping_usage():
    authority = TimeStampAuthority()
    cert = x509.load_pem_x509_certificate(authority.certificate_pem)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    ca = x509.load_pem_x509_certificate(authority.ca_pem)
    cert.verify_directly_issued_by(ca)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def _status(reply: bytes) -> tuple[str, set[str] | None]:
    status = TimeStampResp.load(reply)["status"]
    fail = status["fail_info"].native
    return status["status"].native, set(fail) if fail is not None else None


def test_bad_requests_get_rejections_not_tokens(tmp_path):
    authority = TimeStampAuthority()
    assert _status(authority.respond(b"\x30\x03garbage")) == ("rejection", {"bad_data_format"})
    good = tsp.TimeStampReq.load(query(tmp_path, b"x", "-cert").read_bytes())

    other_policy = good.copy()
    other_policy["req_policy"] = "1.2.3.4.5"
    assert _status(authority.respond(other_policy.dump())) == ("rejection", {"unaccepted_policy"})
    wanted_policy = good.copy()
    wanted_policy["req_policy"] = POLICY_OID
    assert _status(authority.respond(wanted_policy.dump()))[0] == "granted"

    md5 = good.copy()
    md5["message_imprint"] = {"hash_algorithm": {"algorithm": "md5"}, "hashed_message": b"\0" * 16}
    assert _status(authority.respond(md5.dump())) == ("rejection", {"bad_alg"})
    short = good.copy()
    short["message_imprint"] = {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": b"\0" * 20}
    assert _status(authority.respond(short.dump())) == ("rejection", {"bad_data_format"})

    authority.refuse("clock not synchronised")
    assert _status(authority.respond(good.dump())) == ("rejection", {"time_not_available"})
    authority.refuse(None)
    assert _status(authority.respond(good.dump()))[0] == "granted"


def test_a_rejection_is_a_well_formed_reply_openssl_reads(tmp_path):
    with running_tsa() as server:
        reply = post(server.url, b"not DER at all")
        assert reply.status_code == 200
        (tmp_path / "bad.tsr").write_bytes(reply.content)
        shown = openssl("ts", "-reply", "-in", "bad.tsr", "-text", cwd=tmp_path)
        assert shown.returncode == 0 and "Status: Rejected." in shown.stdout
        assert "wrong format" in shown.stdout
        # HTTP-level errors for what is not a time-stamp query at all
        assert post(server.url, b"x", content_type="text/plain").status_code == 415
        assert httpx.get(server.url, timeout=10).status_code == 405
        assert post(server.url, b"\0" * (64 * 1024 + 1)).status_code == 413


def test_a_forged_token_fails_verification(tmp_path):
    """Change the time inside a genuine token: the TSA's signature no longer covers it."""
    q = query(tmp_path, b"original", "-cert")
    authority = TimeStampAuthority(tmp_path / "tsa")
    reply = tsp.TimeStampResp.load(authority.respond(q.read_bytes()))
    signed = reply["time_stamp_token"]["content"]
    info = tsp.TSTInfo.load(signed["encap_content_info"]["content"].parsed.dump())
    info["gen_time"] = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    forged_signed = signed.copy()
    forged_signed["encap_content_info"] = {"content_type": "tst_info", "content": info}
    forged = tsp.TimeStampResp({"status": reply["status"],
                                "time_stamp_token": {"content_type": "signed_data", "content": forged_signed}})
    (tmp_path / "real.tsr").write_bytes(reply.dump())
    (tmp_path / "forged.tsr").write_bytes(forged.dump())
    ca = str(tmp_path / "tsa" / "tsa-ca.pem")
    assert openssl("ts", "-verify", "-in", "real.tsr", "-queryfile", "q.tsq", "-CAfile", ca, cwd=tmp_path).returncode == 0
    assert openssl("ts", "-verify", "-in", "forged.tsr", "-queryfile", "q.tsq", "-CAfile", ca,
                   cwd=tmp_path).returncode != 0


def test_keys_are_kept_in_the_directory_and_reused(tmp_path):
    first = TimeStampAuthority(tmp_path / "tsa")
    second = TimeStampAuthority(tmp_path / "tsa")
    assert first.ca_pem == second.ca_pem and first.certificate_pem == second.certificate_pem
    assert (tmp_path / "tsa" / "tsa.key").stat().st_mode & 0o077 == 0
    assert not (tmp_path / "tsa" / "tsa-ca.key").exists()  # the CA key is dropped once it has issued


def test_command_line_server_answers(tmp_path):
    import socket
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "soundstage.testing.tsa", "--port", str(port),
                             "--dir", str(tmp_path / "tsa")], stdout=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/tsa" in banner
        q = query(tmp_path, b"demo", "-cert")
        deadline = time.monotonic() + 10
        while True:
            try:
                reply = post(f"http://127.0.0.1:{port}/tsa", q.read_bytes())
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        (tmp_path / "r.tsr").write_bytes(reply.content)
        checked = openssl("ts", "-verify", "-in", "r.tsr", "-queryfile", "q.tsq", "-CAfile",
                          str(tmp_path / "tsa" / "tsa-ca.pem"), cwd=tmp_path)
        assert checked.returncode == 0, checked.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_misanswer_grants_tokens_that_do_not_answer_the_request(tmp_path):
    """For tests of what the clients do with a wrong answer: a granted, correctly signed token with
    another nonce, or over other data, until misanswer(None)."""
    authority = TimeStampAuthority()
    request = tsp.TimeStampReq.load(query(tmp_path, b"x", "-cert").read_bytes())

    def info():
        token = tsp.TimeStampResp.load(authority.respond(request.dump()))["time_stamp_token"]
        return token["content"]["encap_content_info"]["content"].parsed

    authority.misanswer("nonce")
    wrong = info()
    assert wrong["nonce"].native == request["nonce"].native + 1
    assert wrong["message_imprint"].native == request["message_imprint"].native
    authority.misanswer("imprint")
    wrong = info()
    assert wrong["nonce"].native == request["nonce"].native
    assert wrong["message_imprint"].native != request["message_imprint"].native
    authority.misanswer(None)
    right = info()
    assert (right["nonce"].native, right["message_imprint"].native) == \
        (request["nonce"].native, request["message_imprint"].native)
    with pytest.raises(ValueError, match="unknown fault"):
        authority.misanswer("clock")
