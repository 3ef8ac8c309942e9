"""A real RFC 3161 time-stamp authority on 127.0.0.1, for tests and the demo.

It speaks the protocol a studio's TSA speaks: ``POST`` a DER ``TimeStampReq`` with
``Content-Type: application/timestamp-query`` and get a DER ``TimeStampResp`` back as
``application/timestamp-reply``. The token is a CMS SignedData over a ``TSTInfo`` (RFC 3161 §2.4.2),
signed ECDSA P-256 / SHA-256 by a TSA certificate whose only extended key usage is the critical
``timeStamping`` (§2.3), issued by the TSA's own CA. What it does with a request:

* version 1 only, message imprint in SHA-256/384/512 with a digest of the right length
  (otherwise ``rejection`` + ``badAlg`` / ``badDataFormat``);
* ``reqPolicy`` other than its own, or any request extension: ``rejection`` + ``unacceptedPolicy`` /
  ``unacceptedExtension``;
* the nonce is echoed; ``certReq`` puts the TSA certificate into the token (and only then);
* the signed attributes are contentType, messageDigest and ESS signingCertificateV2 (RFC 5816);
* every token has a new random serial number and the time of the authority's clock, which a
  test can set (``freeze``) to stamp "in the past", with an accuracy of one second;
* a test can make it refuse every request (``refuse``), or grant tokens that do not answer the
  request (``misanswer``: another nonce, other data).

``openssl ts -verify`` accepts its tokens (tests/testing/test_tsa.py checks that), and c2pa-rs
accepts them as the ``sigTst2`` of a COSE signature.

Run one for a demo: ``python -m soundstage.testing.tsa --port 3161 --dir DIR``: it keeps its keys
in DIR (made on first use) and prints its URL and the path of the CA certificate to trust
(``[provenance] tsa_trust_anchor`` in soundstage.toml).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import secrets
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["POLICY_OID", "TimeStampResp", "TimeStampAuthority", "TsaServer", "running_tsa", "main"]

# 2.999 is the joint ISO/ITU-T arc reserved for examples: a test authority has no registered policy.
POLICY_OID = "2.999.3161.1"
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_REQUEST_BYTES = 64 * 1024
CA_CERT, TSA_CERT, TSA_KEY = "tsa-ca.pem", "tsa.pem", "tsa.key"
_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}


@dataclass(frozen=True)
class _Identity:
    ca_cert: x509.Certificate
    tsa_cert: x509.Certificate
    tsa_key: ec.EllipticCurvePrivateKey


class TimeStampAuthority:
    """The authority itself: keys, certificates, a clock, and ``respond(request) -> reply``.

    ``directory``: keep the CA and TSA keys there (made when missing, reused otherwise), so files
    stamped in one run still verify against the same CA later. Without it, the keys live in memory.
    ``valid_from``: when the certificates start (default: a day before now); stamping at a time
    before it would make tokens no validator accepts, so ``freeze`` refuses that.
    """

    def __init__(self, directory: Path | None = None, *, name: str = "soundstage test TSA",
                 valid_from: dt.datetime | None = None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self._frozen: dt.datetime | None = None
        self._refusal: str | None = None
        self._fault: str | None = None
        self._lock = threading.Lock()
        self.directory = Path(directory) if directory is not None else None
        self.requests = 0
        self._chain: tuple[x509.Certificate, ...] = ()
        if self.directory is not None and (self.directory / TSA_CERT).is_file():
            self._id = _load_identity(self.directory)
        else:
            self._id = _new_identity(name, valid_from or (self._clock() - dt.timedelta(days=1)))
            if self.directory is not None:
                _save_identity(self.directory, self._id)

    @classmethod
    def issued_as(cls, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey, *, ca: x509.Certificate,
                  chain: tuple[x509.Certificate, ...] = (), **options) -> TimeStampAuthority:
        """An authority that signs with `certificate` and `key`, however they were issued, and puts
        `chain` after its certificate in every token made with certReq; ``ca`` is what ``ca_pem``
        hands out. For tests of chain validation: a TSA under an intermediate CA, or one whose
        certificate an ordinary end-entity certificate signed (a forgery)."""
        authority = cls(**options)
        authority._id = _Identity(ca, certificate, key)
        authority._chain = tuple(chain)
        return authority

    # ----------------------------------------------------------------- what to hand out

    @property
    def ca_pem(self) -> bytes:
        """The TSA's CA certificate: the trust anchor a reader needs to trust its tokens."""
        return self._id.ca_cert.public_bytes(serialization.Encoding.PEM)

    @property
    def certificate_pem(self) -> bytes:
        return self._id.tsa_cert.public_bytes(serialization.Encoding.PEM)

    def write_ca(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.ca_pem)
        return path

    # ----------------------------------------------------------------- the clock and failures

    def now(self) -> dt.datetime:
        with self._lock:
            frozen = self._frozen
        when = frozen or self._clock()
        return when.astimezone(dt.timezone.utc).replace(microsecond=0)

    def freeze(self, when: dt.datetime | None) -> None:
        """Stamp every token at ``when`` (aware datetime) from now on; None: follow the clock again."""
        if when is not None:
            if when.tzinfo is None:
                raise ValueError("freeze() needs an aware datetime")
            if when < self._id.tsa_cert.not_valid_before_utc or when > self._id.tsa_cert.not_valid_after_utc:
                raise ValueError(f"{when.isoformat()} is outside the TSA certificate's validity")
        with self._lock:
            self._frozen = when

    def refuse(self, reason: str | None) -> None:
        """Answer every request with ``rejection`` + ``timeNotAvailable`` (a TSA whose clock or
        signing module is down) until ``refuse(None)``."""
        with self._lock:
            self._refusal = reason

    def misanswer(self, fault: str | None) -> None:
        """Grant every request a token that is not the answer to it, as a broken TSA or someone on the
        path replaying another answer would, until ``misanswer(None)``: ``"nonce"`` - the token carries
        another nonce than the request's; ``"imprint"`` - it stamps other data than the request's."""
        if fault not in (None, "nonce", "imprint"):
            raise ValueError(f"unknown fault {fault!r} (nonce, imprint)")
        with self._lock:
            self._fault = fault

    # ----------------------------------------------------------------- the protocol

    def respond(self, request_der: bytes) -> bytes:
        """A DER TimeStampResp for a DER TimeStampReq (never raises on bad input: RFC 3161
        answers a bad request with a rejection status)."""
        with self._lock:
            self.requests += 1
            refusal, fault = self._refusal, self._fault
        try:
            request = tsp.TimeStampReq.load(request_der, strict=True)
            version = request["version"].native
            imprint = request["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            policy = request["req_policy"].native
            nonce = request["nonce"].native
            cert_req = bool(request["cert_req"].native)
            extensions = request["extensions"].native
        except (ValueError, TypeError, KeyError) as exc:
            return _rejection("bad_data_format", f"not a TimeStampReq: {exc}")
        if version != "v1":
            return _rejection("bad_data_format", f"unsupported request version {version}")
        if algorithm not in _DIGEST_SIZES:
            return _rejection("bad_alg", f"unsupported hash algorithm {algorithm}")
        if not isinstance(digest, bytes) or len(digest) != _DIGEST_SIZES[algorithm]:
            return _rejection("bad_data_format", f"the {algorithm} message imprint has the wrong length")
        if policy is not None and policy != POLICY_OID:
            return _rejection("unaccepted_policy", f"policy {policy} is not offered; this TSA uses {POLICY_OID}")
        if extensions:
            return _rejection("unaccepted_extensions", "no request extensions are supported")
        if refusal is not None:
            return _rejection("time_not_available", refusal)
        if fault == "nonce":
            nonce = (nonce or 0) + 1
        elif fault == "imprint":
            digest = hashlib.new(algorithm, b"not the data this request stamps").digest()
        token = self._token(algorithm, digest, nonce, cert_req)
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()

    def _token(self, algorithm: str, digest: bytes, nonce: int | None, cert_req: bool) -> cms.ContentInfo:
        tst = {
            "version": "v1",
            "policy": POLICY_OID,
            "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
            "serial_number": int.from_bytes(secrets.token_bytes(16), "big") >> 1,
            "gen_time": self.now(),
            "accuracy": {"seconds": 1},
        }
        if nonce is not None:
            tst["nonce"] = nonce
        tst_der = tsp.TSTInfo(tst).dump()
        tsa_der = self._id.tsa_cert.public_bytes(serialization.Encoding.DER)
        tsa_asn1 = asn1_x509.Certificate.load(tsa_der)
        issuer_serial = {"issuer": [asn1_x509.GeneralName({"directory_name": tsa_asn1.issuer})],
                         "serial_number": tsa_asn1.serial_number}
        attributes = cms.CMSAttributes([
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]}),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [{
                "certs": [{"cert_hash": hashlib.sha256(tsa_der).digest(), "issuer_serial": issuer_serial}],
            }]}),
        ])
        # the signature covers the DER of the attributes as a SET OF (RFC 5652 §5.4), not the [0] form
        signature = self._id.tsa_key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256()))
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
                "issuer": tsa_asn1.issuer, "serial_number": tsa_asn1.serial_number}}),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": attributes,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
            "signature": signature,
        })
        signed = {
            "version": "v3",  # the content is not id-data (RFC 5652 §5.1)
            "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst_der)},
            "signer_infos": [signer],
        }
        if cert_req:
            extra = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in self._chain]
            signed["certificates"] = [cms.CertificateChoices({"certificate": c}) for c in (tsa_asn1, *extra)]
        return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed)})


class TimeStampResp(core.Sequence):
    """TimeStampResp as RFC 3161 §2.4.2 has it: asn1crypto's omits OPTIONAL on the token."""

    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


def _rejection(failure: str, text: str) -> bytes:
    return TimeStampResp({"status": {
        "status": "rejection", "status_string": [text[:200]], "fail_info": {failure},
    }}).dump()


# --------------------------------------------------------------------------- keys and certificates

def _new_identity(name: str, valid_from: dt.datetime) -> _Identity:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"{name} root")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from).not_valid_after(valid_from + dt.timedelta(days=365 * 20))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                                 x509.NameAttribute(NameOID.COMMON_NAME, f"{name} time-stamping unit")]))
        .issuer_name(ca_name).public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from).not_valid_after(valid_from + dt.timedelta(days=365 * 10))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(digital_signature=True), critical=True)
        # RFC 3161 §2.3: the TSA's certificate has exactly one EKU, timeStamping, marked critical
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _Identity(ca_cert, tsa_cert, tsa_key)  # the CA key is dropped: it has issued its one certificate


def _usage(*, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign,
                         crl_sign=crl_sign, encipher_only=False, decipher_only=False)


def _save_identity(directory: Path, identity: _Identity) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    key = identity.tsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for name, data, mode in ((TSA_KEY, key, 0o600), (TSA_CERT, identity.tsa_cert.public_bytes(pem), 0o644),
                             (CA_CERT, identity.ca_cert.public_bytes(pem), 0o644)):
        tmp = directory / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, directory / name)


def _load_identity(directory: Path) -> _Identity:
    try:
        ca_cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
        tsa_cert = x509.load_pem_x509_certificate((directory / TSA_CERT).read_bytes())
        key = serialization.load_pem_private_key((directory / TSA_KEY).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{directory} does not hold a usable TSA identity: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{directory / TSA_KEY} is not an EC key")
    return _Identity(ca_cert, tsa_cert, key)


# --------------------------------------------------------------------------- HTTP

class _Handler(BaseHTTPRequestHandler):
    server_version = "soundstage-tsa/1"
    authority: TimeStampAuthority  # set on the subclass each server makes

    def do_POST(self) -> None:  # noqa: N802 - the http.server naming
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != QUERY_TYPE:
            self._answer(415, b"expected " + QUERY_TYPE.encode(), "text/plain")
            return
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            self._answer(411, b"Content-Length required", "text/plain")
            return
        if length < 0 or length > MAX_REQUEST_BYTES:
            self._answer(413, b"request too large", "text/plain")
            return
        self._answer(200, self.authority.respond(self.rfile.read(length)), REPLY_TYPE)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(405, b"POST an RFC 3161 TimeStampReq", "text/plain")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet unless asked
        if getattr(self.server, "verbose", False):
            sys.stderr.write("tsa: " + (format % args) + "\n")


class TsaServer:
    """An HTTP front for a TimeStampAuthority on 127.0.0.1 (port 0: any free port)."""

    def __init__(self, authority: TimeStampAuthority, port: int = 0, *, verbose: bool = False) -> None:
        self.authority = authority
        handler = type("BoundHandler", (_Handler,), {"authority": authority})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._httpd.verbose = verbose  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tsa"

    def start(self) -> TsaServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="tsa", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> TsaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def running_tsa(directory: Path | None = None, *, port: int = 0, **authority_options) -> Iterator[TsaServer]:
    """Start a TSA for the duration of a ``with`` block: ``with running_tsa() as tsa: tsa.url``."""
    server = TsaServer(TimeStampAuthority(directory, **authority_options), port)
    with server:
        yield server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soundstage.testing.tsa",
                                     description="A local RFC 3161 time-stamp authority on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=3161, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="keep the TSA's keys here (made when missing); without it they live in memory")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    authority = TimeStampAuthority(args.dir)
    server = TsaServer(authority, args.port, verbose=args.verbose)
    ca_path = args.dir / CA_CERT if args.dir is not None else None
    print(f"RFC 3161 time-stamp authority at {server.url}", flush=True)
    print(f"trust anchor: {ca_path}" if ca_path else "trust anchor (PEM):\n" + authority.ca_pem.decode(), flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
