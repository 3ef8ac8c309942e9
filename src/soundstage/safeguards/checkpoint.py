"""Signed audit checkpoints: the hash chain anchored outside the database.

The audit chain shows any edit, deletion or insertion *inside* the log, but someone who can
rewrite the whole database can delete an event and recompute every later hash, and the rebuilt
chain verifies. An anchor kept elsewhere catches that: it names an event (seq) and the hash the
chain had there, signed with the production's signing key. If the event at that seq no longer has
that hash, the chain was rebuilt; if the log no longer reaches that seq, it was rewound.

Two kinds of anchor, checked the same way:

* a **checkpoint file** (``soundstage audit checkpoint``): small JSON to keep somewhere else
  (another machine, the studio's document system, an e-mail)::

      {"schema": "SoundstageAuditCheckpoint.1", "production_id": "...", "seq": 42,
       "hash": "<64 hex>", "at": "2026-...+00:00",
       "signature": {"alg": "ES256", "value": "<base64>", "x5chain": ["<leaf PEM>", "<CA PEM>"]}}

  The signature is over the UTF-8 bytes of the canonical JSON (sorted keys, no spaces) of
  ``{schema, production_id, seq, hash, at}``: ECDSA (DER) with SHA-256/384/512 for ES256/384/512,
  RSA-PSS (SHA-256, salt = digest length) for PS256, plain Ed25519. It is checked offline with
  nothing but the production CA certificate (``keys/ca.pem``): the chain in ``x5chain`` must lead
  to it and the leaf must be a valid claim-signing certificate at ``at``.
* a **witness**: every Content Credential the production signs carries the head at signing time
  (``audit_head: {seq, hash}`` in our ``io.soundstage.production`` assertion), signed by the same
  key as part of the C2PA claim, so every delivered file anchors the chain as it was.

**RFC 3161 time-stamp** (when the production has a TSA, ``[provenance] tsa_url``): the checkpoint
also carries ``"timestamp": {"token": "<base64 DER TimeStampToken>"}``, a TSA's token over the
SHA-256 of the signature value (the raw bytes ``signature.value`` decodes to). It is outside the
signed body, like a COSE ``sigTst``: it proves the signed checkpoint existed at the TSA's time, so
``at`` (the signing machine's clock) is no longer the only word on *when*. ``verify_checkpoint``
checks the token (imprint, CMS signature, ESS signing-certificate, the TSA certificate's critical
``timeStamping`` usage and validity at the stamped time, and, given the TSA's CA, its chain: an
RFC 5280 path whose every issuer is a CA at the stamped time, see ``_chain_problem``); an edited
or transplanted token, or one signed through a certificate that may not issue, is an AnchorError. Without a token, a checkpoint proves *what* the
chain was, not *when*.

Pure: no database. The caller looks up the event at the anchor's seq and passes its hash.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError

from soundstage.domain.canonical import canonical_bytes
from soundstage.errors import BackendError, IntegrityError, SpecError
from soundstage.safeguards.keys import SigningCredentials, issued_by, validate_signing_chain

__all__ = ["SCHEMA", "HEAD_KEY", "GENESIS", "Anchor", "AnchorError", "sign_checkpoint", "signed_bytes",
           "verify_checkpoint", "head_record", "anchor_from_record", "compare_with_chain",
           "TimeStamp", "timestamp_request", "token_from_reply", "verify_timestamp", "attach_timestamp"]

SCHEMA = "SoundstageAuditCheckpoint.1"
HEAD_KEY = "audit_head"  # the key in our C2PA assertion
GENESIS = "0" * 64  # the chain's "previous hash" before event 1 (audit.GENESIS)
MAX_CHECKPOINT_BYTES = 64 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HASHES = {"ES256": hashes.SHA256, "ES384": hashes.SHA384, "ES512": hashes.SHA512}


class AnchorError(IntegrityError):
    """An anchor that cannot be believed, or that the chain no longer matches (exit 1)."""


@dataclass(frozen=True)
class Anchor:
    """A signed statement: in production `production_id`, event `seq` had hash `hash`."""

    production_id: str
    seq: int
    hash: str
    at: str | None = None
    time_stamped_at: str | None = None  # the TSA's time, when the checkpoint carries a valid token
    time_stamp: str = "none"  # "trusted" (TSA chains to its CA), "untrusted" (no TSA CA given) or "none"


@dataclass(frozen=True)
class TimeStamp:
    """What a verified RFC 3161 token says: when, by whom, and whether its TSA chains to an anchor."""

    at: dt.datetime
    tsa: str
    trusted: bool
    problem: str = ""  # why it is not trusted, when a TSA CA was given and the chain to it does not hold


# --------------------------------------------------------------------------- checkpoints

def signed_bytes(production_id: str, seq: int, head_hash: str, at: str) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    body = {"schema": SCHEMA, "production_id": production_id, "seq": seq, "hash": head_hash, "at": at}
    return canonical_bytes(body)


def sign_checkpoint(credentials: SigningCredentials, *, production_id: str, seq: int, head_hash: str,
                    at: dt.datetime | None = None) -> dict[str, Any]:
    """A checkpoint document for the head (seq, head_hash), signed with the production's key."""
    _check_head(seq, head_hash, SpecError)
    when = (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    key = serialization.load_pem_private_key(credentials.private_key_pem, password=None)
    data = signed_bytes(production_id, seq, head_hash, when)
    algorithm = credentials.algorithm
    if algorithm in _HASHES:
        signature = key.sign(data, ec.ECDSA(_HASHES[algorithm]()))
    elif algorithm == "PS256":
        signature = key.sign(data, _pss(), hashes.SHA256())
    elif algorithm == "Ed25519":
        signature = key.sign(data)
    else:  # pragma: no cover - load_signer only yields the algorithms above
        raise SpecError(f"cannot sign a checkpoint with {algorithm}", field="algorithm")
    chain = [c.public_bytes(serialization.Encoding.PEM).decode("ascii")
             for c in x509.load_pem_x509_certificates(credentials.chain_pem)]
    return {"schema": SCHEMA, "production_id": production_id, "seq": seq, "hash": head_hash, "at": when,
            "signature": {"alg": algorithm, "value": base64.b64encode(signature).decode("ascii"), "x5chain": chain}}


def verify_checkpoint(document: bytes | Mapping[str, Any], trust_anchors: Sequence[bytes],
                      tsa_anchors: Sequence[bytes] = ()) -> Anchor:
    """Check a checkpoint's form, certificate chain and signature, and its time-stamp when it has
    one (against `tsa_anchors`, the TSA's CA); AnchorError names the fault."""
    doc = _parse(document)
    production_id, seq, head_hash, at = doc["production_id"], doc["seq"], doc["hash"], doc["at"]
    signature = doc["signature"]
    try:
        when = dt.datetime.fromisoformat(at)
    except ValueError:
        raise AnchorError(f"its time {at[:40]!r} is not an ISO-8601 time") from None
    when = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    try:
        chain_pem = "".join(signature["x5chain"]).encode("ascii")
        certs = validate_signing_chain(chain_pem, None, now=when)
    except (SpecError, UnicodeEncodeError) as exc:
        message = exc.message if isinstance(exc, SpecError) else "not PEM text"
        raise AnchorError(f"its signing certificate is not usable at {at}: {message}") from None
    if not _anchored(certs, trust_anchors):
        raise AnchorError("it is signed by a certificate that does not chain to this production's CA "
                          "(another production's key, or a forged certificate)")
    leaf_key = certs[0].public_key()
    expected = _algorithm_of(leaf_key)
    if signature["alg"] != expected:
        raise AnchorError(f"it says it was signed with {signature['alg']!r} but the certificate's key is {expected}")
    try:
        value = base64.b64decode(signature["value"], validate=True)
    except (binascii.Error, ValueError):
        raise AnchorError("its signature is not base64") from None
    data = signed_bytes(production_id, seq, head_hash, at)
    try:
        if expected in _HASHES:
            leaf_key.verify(value, data, ec.ECDSA(_HASHES[expected]()))
        elif expected == "PS256":
            leaf_key.verify(value, data, _pss(), hashes.SHA256())
        else:
            leaf_key.verify(value, data)
    except (InvalidSignature, ValueError):
        raise AnchorError("its signature does not verify: the checkpoint was altered (seq, hash, time or "
                          "production) after it was signed, or was not signed with this key") from None
    stamp = doc.get("timestamp")
    if stamp is None:
        return Anchor(production_id, seq, head_hash, at)
    if not isinstance(stamp, Mapping) or not isinstance(stamp.get("token"), str):
        raise AnchorError("its time-stamp needs a base64 token")
    try:
        token = base64.b64decode(stamp["token"], validate=True)
    except (binascii.Error, ValueError):
        raise AnchorError("its time-stamp token is not base64") from None
    try:
        checked = verify_timestamp(token, value, tsa_anchors)
    except SpecError as exc:
        raise AnchorError(f"its time-stamp does not verify: {exc.message}") from None
    if tsa_anchors and not checked.trusted:
        raise AnchorError(f"its time-stamp is signed by {checked.tsa!r}, which does not chain to the "
                          f"production's time-stamp authority CA ([provenance] tsa_trust_anchor): {checked.problem}")
    return Anchor(production_id, seq, head_hash, at, checked.at.isoformat(),
                  "trusted" if checked.trusted else "untrusted")


# --------------------------------------------------------------------------- RFC 3161 time-stamps

_TST_HASHES = {"sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}
_CMS_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
MAX_TOKEN_BYTES = 32 * 1024


def timestamp_request(signature_value: bytes, nonce: int) -> bytes:
    """A DER TimeStampReq for the SHA-256 of a checkpoint's signature value (certReq set)."""
    return tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                            "hashed_message": hashlib.sha256(signature_value).digest()},
        "nonce": nonce, "cert_req": True,
    }).dump()


class _TimeStampResp(tsp.TimeStampResp):
    # RFC 3161 §2.4.2: the token is OPTIONAL (absent in a rejection); asn1crypto's spec requires it
    _fields = [("status", tsp.PKIStatusInfo), ("time_stamp_token", cms.ContentInfo, {"optional": True})]


def token_from_reply(reply: bytes, *, source: str = "the time-stamp authority") -> bytes:
    """The DER TimeStampToken in a TSA's reply; BackendError when the TSA refused or sent junk, its
    message beginning with ``source`` (who answered: a caller that knows the TSA's URL names it)."""
    try:
        response = _TimeStampResp.load(reply, strict=True)
        status = response["status"]["status"].native
        texts = response["status"]["status_string"].native or []
        token = response["time_stamp_token"]
    except (ValueError, TypeError, KeyError) as exc:
        raise BackendError(f"{source} sent something that is not an RFC 3161 reply ({exc})") from None
    if status not in ("granted", "granted_with_mods") or token.native is None:
        why = "; ".join(str(t) for t in texts)[:200] or "no reason given"
        raise BackendError(f"{source} refused ({status}: {why})")
    return token.dump()


def attach_timestamp(document: dict[str, Any], token: bytes) -> dict[str, Any]:
    """The checkpoint with its TSA token (outside the signed body)."""
    return {**document, "timestamp": {"token": base64.b64encode(token).decode("ascii")}}


def verify_timestamp(token: bytes, signature_value: bytes, tsa_anchors: Sequence[bytes] = (), *,
                     nonce: int | None = None) -> TimeStamp:
    """Check an RFC 3161 token over the SHA-256 of `signature_value`; SpecError names the first fault.

    Checked: a CMS SignedData of a TSTInfo whose imprint is that hash (and whose nonce is `nonce`,
    when given), one signer whose certificate is in the token, the messageDigest and ESS
    signing-certificate attributes, the signature, the certificate's critical, sole timeStamping
    usage and its validity at the stamped time. `trusted`: the certificate is one of `tsa_anchors`,
    or an RFC 5280 path leads from it to one of them through certificates in the token, every
    issuer a CA at the stamped time (`_chain_problem`); `problem` says why not."""
    if len(token) > MAX_TOKEN_BYTES:
        raise SpecError("the time-stamp token is too large")
    try:
        info = cms.ContentInfo.load(token, strict=True)
        if info["content_type"].native != "signed_data":
            raise SpecError("the time-stamp token is not CMS SignedData")
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise SpecError("the time-stamp token does not hold a TSTInfo")
        tst_der = encap["content"].contents
        tst = tsp.TSTInfo.load(tst_der, strict=True)
        imprint_alg = tst["message_imprint"]["hash_algorithm"]["algorithm"].native
        imprint = tst["message_imprint"]["hashed_message"].native
        gen_time = tst["gen_time"].native
        signers = list(signed["signer_infos"])
        certificates = [c.chosen for c in signed["certificates"] or [] if c.name == "certificate"]
    except (ValueError, TypeError, KeyError) as exc:
        raise SpecError(f"the time-stamp token cannot be read ({' '.join(str(exc).split())[:120]})") from None
    if imprint_alg not in _TST_HASHES or imprint != _TST_HASHES[imprint_alg](signature_value).digest():
        raise SpecError("the time-stamp is for other data (its message imprint is not this signature's hash)")
    if nonce is not None and tst["nonce"].native != nonce:
        raise SpecError("the time-stamp's nonce is not the one asked for")
    if len(signers) != 1:
        raise SpecError(f"the time-stamp token has {len(signers)} signers, not one")
    signer = signers[0]
    cert_asn1 = _signer_certificate(signer, certificates)
    try:
        cert = x509.load_der_x509_certificate(cert_asn1.dump())
        included = [x509.load_der_x509_certificate(c.dump()) for c in certificates]
    except ValueError:
        raise SpecError("the time-stamp token carries a certificate that cannot be read") from None
    digest_name = signer["digest_algorithm"]["algorithm"].native
    if digest_name not in _CMS_HASHES:
        raise SpecError(f"the time-stamp is signed with an unsupported digest {digest_name}")
    attributes = {a["type"].native: a["values"] for a in signer["signed_attrs"] or []}
    if "message_digest" not in attributes or "content_type" not in attributes:
        raise SpecError("the time-stamp's signed attributes lack messageDigest or contentType")
    if attributes["content_type"][0].native != "tst_info":
        raise SpecError("the time-stamp's signed content type is not TSTInfo")
    if attributes["message_digest"][0].native != _TST_HASHES[digest_name](tst_der).digest():
        raise SpecError("the time-stamp's TSTInfo was altered after the TSA signed it")
    _check_ess(attributes, cert_asn1.dump())
    signed_attrs = b"\x31" + signer["signed_attrs"].dump()[1:]  # RFC 5652 §5.4: signed as a SET OF
    _check_cms_signature(cert, signer, signed_attrs, _CMS_HASHES[digest_name]())
    _check_tsa_certificate(cert, gen_time)
    problem = _chain_problem(cert, included, tsa_anchors, gen_time) if tsa_anchors else "no TSA CA was given"
    return TimeStamp(gen_time, _name(cert), problem is None, problem or "")


def _signer_certificate(signer, certificates):
    sid = signer["sid"]
    for cert in certificates:
        if sid.name == "issuer_and_serial_number":
            if (cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native):
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    raise SpecError("the time-stamp token does not include its signer's certificate (certReq)")


def _check_ess(attributes: dict, cert_der: bytes) -> None:
    if "signing_certificate_v2" in attributes:
        ids = attributes["signing_certificate_v2"][0]["certs"]
        first = ids[0] if len(ids) else None
        algorithm = first["hash_algorithm"]["algorithm"].native if first is not None else None
        if first is None or algorithm not in _TST_HASHES or \
                first["cert_hash"].native != _TST_HASHES[algorithm](cert_der).digest():
            raise SpecError("the time-stamp's ESS signing certificate is not the certificate that signed it")
    elif "signing_certificate" in attributes:
        ids = attributes["signing_certificate"][0]["certs"]
        if not len(ids) or ids[0]["cert_hash"].native != hashlib.sha1(cert_der).digest():  # noqa: S324 - RFC 2634
            raise SpecError("the time-stamp's ESS signing certificate is not the certificate that signed it")
    else:
        raise SpecError("the time-stamp has no ESS signing-certificate attribute (RFC 3161 §2.4.1)")


def _check_cms_signature(cert: x509.Certificate, signer, data: bytes, digest) -> None:
    key = cert.public_key()
    value = signer["signature"].native
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(value, data, ec.ECDSA(digest))
        elif isinstance(key, rsa.RSAPublicKey):
            if signer["signature_algorithm"].signature_algo == "rsassa_pss":
                key.verify(value, data, padding.PSS(padding.MGF1(digest), padding.PSS.AUTO), digest)
            else:
                key.verify(value, data, padding.PKCS1v15(), digest)
        else:
            raise SpecError("the time-stamp is signed with an unsupported key type")
    except InvalidSignature:
        raise SpecError("the time-stamp's CMS signature does not verify") from None


def _check_tsa_certificate(cert: x509.Certificate, at: dt.datetime) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise SpecError("the time-stamp's certificate has no extended key usage") from None
    except ValueError:  # a duplicated or malformed extension
        raise SpecError("the time-stamp's certificate has extensions that cannot be read") from None
    if not eku.critical or list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise SpecError("the time-stamp's certificate is not a TSA certificate (critical timeStamping EKU only)")
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise SpecError(f"the TSA certificate was not valid at the stamped time {at.isoformat()}")


MAX_TSA_INTERMEDIATES = 3  # between the TSA certificate and its CA; real TSA chains have 0-2


def _chain_problem(cert: x509.Certificate, included: list[x509.Certificate], anchors_pem: Sequence[bytes],
                   at: dt.datetime) -> str | None:
    """None when the TSA certificate `cert` chains to one of `anchors_pem` at the stamped time `at`;
    otherwise why not, in one line.

    RFC 5280 §6.1 path validation by ``cryptography.x509.verification``: every signature in the path,
    every certificate valid at `at` (the genTime, not now: the stamp is checked as of when it was
    made), every issuer a CA - basicConstraints cA (§6.1.4 (k)), keyUsage keyCertSign (§6.1.4 (n))
    and its pathLenConstraint - and no unknown critical extension. An ordinary certificate the TSA CA
    issued (a TLS server's, an e-mail signer's) cannot sign a "TSA" certificate of its own. The TSA
    certificate itself needs the critical, sole id-kp-timeStamping usage (RFC 3161 §2.3) and must
    not be a CA; an intermediate that restricts its usages must allow timeStamping. A TSA
    certificate that is itself an anchor (pinned) is trusted as it is."""
    try:
        anchors = [a for pem in anchors_pem for a in x509.load_pem_x509_certificates(pem)]
    except ValueError:
        raise SpecError("the TSA trust anchor is not a PEM certificate") from None
    builder = (PolicyBuilder().store(Store(anchors)).time(at).max_chain_depth(MAX_TSA_INTERMEDIATES)
               .extension_policies(ca_policy=_TSA_CA_POLICY, ee_policy=_TSA_LEAF_POLICY))
    others = [c for c in included if c != cert]
    try:
        builder.build_client_verifier().verify(cert, others)
    except VerificationError as exc:
        reason = _reason(str(exc))
        issuer = next((c for c in others if c.subject == cert.issuer and c not in anchors), None)
        return reason if issuer is None or "(certificate " in reason else \
            f"{reason} (the token's issuer of the TSA certificate: {_name(issuer)[:80]!r})"
    return None


def _tsa_leaf_usage(_policy, _cert: x509.Certificate, usage: x509.ExtendedKeyUsage) -> None:
    if list(usage) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise ValueError("the TSA certificate's extended key usage is not timeStamping alone (RFC 3161 §2.3)")


def _tsa_leaf_not_ca(_policy, _cert: x509.Certificate, constraints: x509.BasicConstraints | None) -> None:
    if constraints is not None and constraints.ca:
        raise ValueError("the TSA certificate is a CA certificate, not an end-entity one")


def _tsa_issuer_usage(_policy, cert: x509.Certificate, usage: x509.ExtendedKeyUsage | None) -> None:
    if usage is not None and not {ExtendedKeyUsageOID.TIME_STAMPING,
                                  ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(usage):
        raise ValueError(f"the issuing CA {_name(cert)!r} restricts its extended key usage to other "
                         "purposes than timeStamping")


# the CA side: the library's RFC 5280 / CA-B Forum checks (cA, keyCertSign, path length, ...) with
# the usage our TSA needs instead of its client-authentication default
_TSA_CA_POLICY = ExtensionPolicy.webpki_defaults_ca().may_be_present(
    x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _tsa_issuer_usage)
# the TSA certificate: no subjectAltName or key identifiers demanded (TSA certificates seldom have
# them), the critical timeStamping usage required, never a CA; other critical extensions refused
_TSA_LEAF_POLICY = (ExtensionPolicy.permit_all()
                    .require_present(x509.ExtendedKeyUsage, Criticality.CRITICAL, _tsa_leaf_usage)
                    .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, _tsa_leaf_not_ca))
_ENCOUNTERED = re.compile(r"\s*\(encountered processing <Certificate\(subject=<Name\((?P<name>.*?)\)>.*$", re.S)
_NOISE = ("validation failed: ", "candidates exhausted: ", "Python extension validator failed: ValueError: ")


def _reason(text: str) -> str:
    """The library's verification error as one line: which certificate, and what about it."""
    found = _ENCOUNTERED.search(text)
    text = _ENCOUNTERED.sub("", text)
    for noise in _NOISE:
        text = text.replace(noise, "")
    text = " ".join(text.split())[:200] or "no path to it"
    return f"{text} (certificate {found['name'][:80]})" if found else text


def _name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()


# --------------------------------------------------------------------------- witnesses

def head_record(seq: int, head_hash: str) -> dict[str, Any]:
    """The head as our C2PA assertion carries it."""
    _check_head(seq, head_hash, SpecError)
    return {"seq": seq, "hash": head_hash}


def anchor_from_record(record: Mapping[str, Any] | None) -> Anchor | None:
    """The head a (validated) soundstage assertion carries, or None when it carries none."""
    if not isinstance(record, Mapping) or not isinstance(record.get(HEAD_KEY), Mapping):
        return None
    head = record[HEAD_KEY]
    seq, head_hash, production_id = head.get("seq"), head.get("hash"), record.get("production_id")
    if not isinstance(production_id, str):
        raise AnchorError("its soundstage record names no production")
    _check_head(seq, head_hash, AnchorError)
    return Anchor(production_id, seq, head_hash)


# --------------------------------------------------------------------------- the comparison

def compare_with_chain(anchor: Anchor, *, production_id: str, head_seq: int, hash_at_seq: str | None) -> None:
    """Does the chain as it is now still hold the anchored event? ``hash_at_seq`` is the hash of
    the event numbered ``anchor.seq`` in the log (None when there is none). AnchorError if not."""
    if anchor.production_id != production_id:
        raise AnchorError(f"it is for production {anchor.production_id[:64]!r}, this workspace is {production_id!r}")
    if anchor.seq == 0:
        if anchor.hash != GENESIS:
            raise AnchorError("it vouches for an empty log with a hash other than the genesis hash")
        return
    if anchor.seq > head_seq:
        raise AnchorError(f"it vouches for event #{anchor.seq} but the log ends at #{head_seq}: the chain was "
                          "rewound (events deleted from the end and the head reset)")
    if hash_at_seq is None:
        raise AnchorError(f"it vouches for event #{anchor.seq}, which is missing from the log")
    if hash_at_seq != anchor.hash:
        raise AnchorError(f"event #{anchor.seq} has hash {hash_at_seq[:16]}… but was signed as {anchor.hash[:16]}…: "
                          f"the chain was rebuilt after it (an event at or before #{anchor.seq} was edited, "
                          "deleted or inserted and the later hashes recomputed)")


# --------------------------------------------------------------------------- helpers

def _parse(document: bytes | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(document, (bytes, bytearray)):
        if len(document) > MAX_CHECKPOINT_BYTES:
            raise AnchorError(f"it is larger than {MAX_CHECKPOINT_BYTES} bytes; not a checkpoint soundstage wrote")
        try:
            document = json.loads(bytes(document).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise AnchorError("it is not a soundstage audit checkpoint (not JSON)") from None
    if not isinstance(document, Mapping) or document.get("schema") != SCHEMA:
        raise AnchorError(f"it is not a soundstage audit checkpoint (schema is not {SCHEMA})")
    doc = dict(document)
    for key, kind in (("production_id", str), ("at", str), ("hash", str), ("signature", Mapping)):
        if not isinstance(doc.get(key), kind):
            raise AnchorError(f"its {key!r} is missing or of the wrong type")
    _check_head(doc.get("seq"), doc["hash"], AnchorError)
    sig = doc["signature"]
    if not (isinstance(sig.get("alg"), str) and isinstance(sig.get("value"), str)
            and isinstance(sig.get("x5chain"), list) and sig["x5chain"]
            and all(isinstance(c, str) for c in sig["x5chain"])):
        raise AnchorError("its signature needs alg, value and a non-empty x5chain")
    return doc


def _check_head(seq: Any, head_hash: Any, error: type[Exception]) -> None:
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise error("the head's seq must be a whole number, 0 or more")
    if not isinstance(head_hash, str) or not _HEX64.fullmatch(head_hash):
        raise error("the head's hash must be 64 lowercase hex characters")


def _anchored(certs: list[x509.Certificate], trust_anchors: Sequence[bytes]) -> bool:
    try:
        anchors = [a for pem in trust_anchors for a in x509.load_pem_x509_certificates(pem)]
    except ValueError:
        raise AnchorError("the production CA certificate to check it against is not PEM") from None
    der = {a.public_bytes(serialization.Encoding.DER) for a in anchors}
    if any(c.public_bytes(serialization.Encoding.DER) in der for c in certs[1:]):
        return True
    top = certs[-1]
    return any(issued_by(top, anchor) for anchor in anchors)


def _algorithm_of(public_key) -> str:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}.get(public_key.curve.name, "?")
    if isinstance(public_key, rsa.RSAPublicKey):
        return "PS256"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return "?"


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
