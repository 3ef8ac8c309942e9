"""Signing keys for Content Credentials: a per-production CA, imported chains, KMS/HSM callbacks.

C2PA validators refuse a self-signed signing certificate, so even an offline production needs
a (small) CA: a root that only issues, and a leaf that only signs claims. The production CA
certificate then becomes the trust anchor a reader passes to turn "Valid" into "Trusted".

Files in a key directory:
    ca.pem      root certificate (the trust anchor to hand out)
    ca.key      root private key (PKCS#8, encrypted when a passphrase is given)
    chain.pem   leaf certificate, then the CA (what goes into every manifest's x5chain)
    signer.key  leaf private key (PKCS#8, encrypted when a passphrase is given)
    signing.json  which environment variable holds the passphrase of an encrypted signer.key
                (written by `keys init` / `keys import`; without it, SOUNDSTAGE_KEY_PASSPHRASE)

The private keys must be owner-only: a signer is never loaded from a key file that group or others
can read or write. Every creation, import and renewal is an audit event carrying the SHA-256
fingerprints of the CA, the leaf and ca.pem (services.keys_service); the composition root
(services.workspace) hands this module a way to read the last such event (``adopt_ledger``), and
from then on a production signer loaded from that directory must be exactly those keys.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import tempfile
import threading
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from soundstage.errors import (
    AlreadyExistsError,
    BackendError,
    InputError,
    IntegrityError,
    NotFoundError,
    SpecError,
    WorkspaceError,
)

__all__ = [
    "C2PA_CLAIM_SIGNING_EKU",
    "KeyPaths",
    "SigningCredentials",
    "KeyFingerprints",
    "RecordedKeys",
    "SIGNING_MARGIN",
    "create_production_ca",
    "import_signing_credentials",
    "renew_signing_certificate",
    "load_signer",
    "load_production_signer",
    "check_signer",
    "adopt_ledger",
    "fingerprints",
    "recorded_mismatches",
    "check_recorded",
    "trust_anchors",
    "check_private_file",
    "private_key_problems",
    "passphrase_env",
    "callback_signer",
    "validate_signing_chain",
    "signature_der_to_raw",
    "signing_certificate_expiry",
    "no_timestamp_warning",
]

C2PA_CLAIM_SIGNING_EKU = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
DOCUMENT_SIGNING_EKU = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
ANY_EKU = ObjectIdentifier("2.5.29.37.0")
# EKUs a C2PA validator accepts for claim signing (spec 2.2 §14.5).
ACCEPTED_EKUS = frozenset({C2PA_CLAIM_SIGNING_EKU, ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_EKU})

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
CHAIN = "chain.pem"
SIGNER_KEY = "signer.key"
SIGNING_SETTINGS = "signing.json"
DEFAULT_PASSPHRASE_ENV = "SOUNDSTAGE_KEY_PASSPHRASE"

# ECDSA raw signature half-length per algorithm (r and s are each this many bytes).
_ECDSA_COORDINATE_BYTES = {"ES256": 32, "ES384": 48, "ES512": 66}

#: a job is stopped before it runs when the signing certificate expires within this long: its
#: outputs are signed when the run ends, and a render can take hours
SIGNING_MARGIN = dt.timedelta(hours=24)
#: mode bits that let group or others at a private key file (refused, as ssh refuses such a key)
_SHARED_MODE_BITS = 0o077


@dataclass(frozen=True)
class KeyPaths:
    """Where a production's signing material lives; `ca_key` is None for imported chains."""

    directory: Path
    ca_cert: Path | None
    ca_key: Path | None
    chain: Path
    signer_key: Path


@dataclass(frozen=True)
class KeyFingerprints:
    """SHA-256 fingerprints (of the DER) of the certificates a key directory signs with: what every
    keys.created / keys.imported / keys.renewed audit event records."""

    ca_sha256: str | None  # the CA certificate chain.pem ends at (None: a chain of the leaf alone)
    leaf_sha256: str | None  # the claim-signing certificate, chain.pem's first
    anchor_sha256: str | None  # ca.pem, the trust anchor this workspace's readers are given (None: none)

    def to_payload(self) -> dict:
        return {"ca_sha256": self.ca_sha256, "leaf_sha256": self.leaf_sha256, "anchor_sha256": self.anchor_sha256}


@dataclass(frozen=True)
class RecordedKeys:
    """The signing keys as the audit log's last signing-keys event (``seq``, ``action``) records them."""

    fingerprints: KeyFingerprints
    seq: int
    action: str

    @classmethod
    def from_payload(cls, payload, *, seq: int, action: str) -> "RecordedKeys | None":
        """None for an event written before fingerprints were recorded: nothing to hold the keys to."""
        if not isinstance(payload, dict) or not isinstance(payload.get("leaf_sha256"), str):
            return None
        return cls(KeyFingerprints(payload.get("ca_sha256"), payload["leaf_sha256"], payload.get("anchor_sha256")),
                   seq, action)


@dataclass(frozen=True)
class KeyMismatch:
    """One certificate in a key directory that is not the one the audit log records."""

    path: Path
    field: str  # the KeyFingerprints field
    recorded: str | None
    found: str | None

    def message(self, seq: int) -> str:
        what = {"anchor_sha256": f"{self.path} is not the production CA certificate the audit log records",
                "ca_sha256": f"{self.path} chains to a CA the audit log does not record",
                "leaf_sha256": f"{self.path} holds a signing certificate the audit log does not record"}[self.field]
        return f"{what} (event #{seq}: sha256 {_short(self.recorded)}, found {_short(self.found)})"


def _short(fingerprint: str | None) -> str:
    return f"{fingerprint[:16]}…" if fingerprint else "none"


@dataclass(frozen=True)
class SigningCredentials:
    """A loaded, validated signing identity: the chain plus an in-memory (decrypted) key."""

    chain_pem: bytes
    private_key_pem: bytes  # unencrypted PKCS#8, kept in memory only
    algorithm: str  # "ES256", "ES384", "ES512", "PS256" or "Ed25519"
    subject: str
    issuer: str
    not_after: dt.datetime
    # the RFC 3161 time-stamp authority every signature is stamped by (c2pa-rs asks it while
    # signing and puts the token in the COSE signature's sigTst2); None: no time-stamp
    tsa_url: str | None = None

    def signer(self, tsa_url: str | None = None):
        """A fresh c2pa Signer (signers are consumed by use, so make one per signing), stamped by
        `tsa_url` or else by the credentials' own TSA. A TSA that does not answer with a valid
        token makes the signing fail: c2pa-rs never signs without the time-stamp it was asked for."""
        import c2pa

        info = c2pa.C2paSignerInfo(
            _c2pa_alg(self.algorithm), self.chain_pem, self.private_key_pem, tsa_url or self.tsa_url,
        )
        try:
            return c2pa.Signer.from_info(info)
        except c2pa.C2paError as exc:
            raise BackendError(f"the C2PA library refused the signing credentials: {exc}") from exc


# --------------------------------------------------------------------------- creation

def create_production_ca(
    directory: Path,
    production: str,
    passphrase: str | None,
    *,
    passphrase_env: str | None = None,
    validity_days: int = 730,
    now: dt.datetime | None = None,
) -> KeyPaths:
    """Make a root CA and an ES256 claim-signing leaf for one production, and write them.

    `passphrase_env` names the environment variable the passphrase came from; it is recorded so
    that signing reads the same one. Refuses to overwrite: replacing a key silently would orphan
    every manifest signed with it.
    """
    _check_env_name(passphrase_env)
    production = production.strip()
    if not production:
        raise SpecError("production name is empty", field="production")
    if validity_days < 1:
        raise SpecError("validity must be at least one day", field="validity_days")
    directory = Path(directory)
    _refuse_existing(directory, [CA_CERT, CA_KEY, CHAIN, SIGNER_KEY])
    now = now or dt.datetime.now(dt.timezone.utc)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, production),
        x509.NameAttribute(NameOID.COMMON_NAME, f"{production} provenance root"),
    ])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=validity_days * 5))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    leaf_key, leaf_cert = _issue_leaf(ca_key, ca_cert, production, now, now + dt.timedelta(days=validity_days))

    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    _write_new(directory / CA_CERT, ca_cert.public_bytes(pem), private=False)
    _write_new(directory / CA_KEY, _private_pem(ca_key, passphrase), private=True)
    _write_new(directory / CHAIN, leaf_cert.public_bytes(pem) + ca_cert.public_bytes(pem), private=False)
    _write_new(directory / SIGNER_KEY, _private_pem(leaf_key, passphrase), private=True)
    _record_passphrase_env(directory, passphrase_env if passphrase else None)
    return KeyPaths(directory, directory / CA_CERT, directory / CA_KEY, directory / CHAIN, directory / SIGNER_KEY)


def import_signing_credentials(
    directory: Path,
    chain_pem: bytes,
    key_pem: bytes,
    passphrase: str | None,
    *,
    passphrase_env: str | None = None,
    key_passphrase: str | None = None,
    now: dt.datetime | None = None,
) -> KeyPaths:
    """Store a chain issued elsewhere (studio PKI, a C2PA-trust-list CA) after checking it signs.

    `key_passphrase` opens `key_pem` as given; `passphrase` protects the stored copy, and
    `passphrase_env` (recorded for signing) names the environment variable it came from.
    """
    _check_env_name(passphrase_env)
    key = _load_private_key(key_pem, key_passphrase, source="imported key")
    validate_signing_chain(chain_pem, key, now=now)
    directory = Path(directory)
    _refuse_existing(directory, [CHAIN, SIGNER_KEY])
    directory.mkdir(parents=True, exist_ok=True)
    _write_new(directory / CHAIN, _normalised_chain(chain_pem), private=False)
    _write_new(directory / SIGNER_KEY, _private_pem(key, passphrase), private=True)
    _record_passphrase_env(directory, passphrase_env if passphrase else None)
    ca = directory / CA_CERT
    return KeyPaths(directory, ca if ca.exists() else None, None, directory / CHAIN, directory / SIGNER_KEY)


def renew_signing_certificate(directory: Path, *, validity_days: int = 730,
                              now: dt.datetime | None = None) -> KeyPaths:
    """A new claim-signing key and certificate from the production CA in `directory` (ca.key),
    replacing chain.pem and signer.key. ca.pem and ca.key do not change, so every file signed before
    still chains to the same trust anchor (DR007: time-stamped files stay Trusted). The new key is
    encrypted like the old one, with the passphrase read from the recorded environment variable.

    The leaf lives `validity_days`, never past the CA. Refused: a directory without ca.key (an
    imported chain is renewed by its issuer), a CA key others can read, a ca.key that is not
    ca.pem's, an expired CA."""
    directory = Path(directory)
    now = now or dt.datetime.now(dt.timezone.utc)
    if validity_days < 1:
        raise SpecError("validity must be at least one day", field="validity_days")
    ca_cert_path, ca_key_path = directory / CA_CERT, directory / CA_KEY
    if not ca_key_path.is_file() or not ca_cert_path.is_file():
        missing = ca_key_path if not ca_key_path.is_file() else ca_cert_path
        raise NotFoundError(f"no production CA to renew from: {missing} is missing",
                            hint="an imported chain is renewed by its issuer: remove chain.pem and signer.key, "
                                 "then soundstage keys import --chain FILE --key FILE")
    check_private_file(ca_key_path)
    ca_key_pem = ca_key_path.read_bytes()
    passphrase = _passphrase_for(directory, ca_key_path, ca_key_pem)
    ca_key = _load_private_key(ca_key_pem, passphrase, source=str(ca_key_path))
    certs = _read_certificates(ca_cert_path)
    if not certs:
        raise WorkspaceError(f"{ca_cert_path} is not a PEM certificate")
    ca_cert = certs[0]
    if _public_bytes(ca_key.public_key()) != _public_bytes(ca_cert.public_key()):
        raise IntegrityError(f"{ca_key_path} is not the key of the CA certificate {ca_cert_path}; nothing was renewed")
    if now >= ca_cert.not_valid_after_utc - dt.timedelta(days=1):
        raise WorkspaceError(f"the production CA {ca_cert_path} expires on {ca_cert.not_valid_after_utc:%Y-%m-%d}; "
                             "it cannot issue a new signing certificate",
                             hint="make a new CA with soundstage keys init (readers then need its ca.pem)")
    organisation = ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    production = str(organisation[0].value) if organisation else ca_cert.subject.rfc4514_string()
    not_after = min(now + dt.timedelta(days=validity_days), ca_cert.not_valid_after_utc)
    leaf_key, leaf_cert = _issue_leaf(ca_key, ca_cert, production, now, not_after)
    pem = serialization.Encoding.PEM
    chain_pem = leaf_cert.public_bytes(pem) + ca_cert.public_bytes(pem)
    validate_signing_chain(chain_pem, leaf_key, now=now)
    # both new files are written in full before either name changes; between the two renames a
    # signer being loaded sees a key that does not match its chain and refuses (never a wrong pair)
    _replace(directory / SIGNER_KEY, _private_pem(leaf_key, passphrase), private=True)
    _replace(directory / CHAIN, chain_pem, private=False)
    return KeyPaths(directory, ca_cert_path, ca_key_path, directory / CHAIN, directory / SIGNER_KEY)


def load_signer(directory: Path, passphrase: str | None, *, now: dt.datetime | None = None) -> SigningCredentials:
    """Open a key directory; a wrong or missing passphrase is a one-line InputError, a key file
    others can read a WorkspaceError, an expired signing certificate a WorkspaceError saying how
    to renew it."""
    directory = Path(directory)
    chain_path, key_path = directory / CHAIN, directory / SIGNER_KEY
    for path in (chain_path, key_path):
        if not path.is_file():
            raise NotFoundError(f"no signing credentials: {path} is missing",
                                hint="run create_production_ca or import a chain first")
    check_private_file(key_path)
    chain_pem = chain_path.read_bytes()
    _check_validity(directory, chain_pem, now or dt.datetime.now(dt.timezone.utc))
    key = _load_private_key(key_path.read_bytes(), passphrase, source=str(key_path))
    certs = validate_signing_chain(chain_pem, key, now=now)
    leaf = certs[0]
    return SigningCredentials(
        chain_pem=chain_pem,
        private_key_pem=_private_pem(key, None),
        algorithm=_algorithm_for(key),
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        not_after=leaf.not_valid_after_utc,
    )


def load_production_signer(directory: Path, *, tsa_url: str | None = None,
                           now: dt.datetime | None = None) -> SigningCredentials:
    """Open a production's key directory, its passphrase read from the environment variable
    recorded when the key was made (`passphrase_env`). The one way the guard loads its signer;
    `tsa_url` is the production's time-stamp authority (Settings.tsa_url), stamped on every signature.

    Refused (nothing is signed): a private key in the directory (signer.key, ca.key) that group or
    others can read or write; and, once a workspace adopted the directory (``adopt_ledger``), keys
    that are not the ones its audit log records last (a swapped ca.pem, another CA's chain)."""
    directory = Path(directory)
    key_path = directory / SIGNER_KEY
    for path in (key_path, directory / CA_KEY):
        check_private_file(path)
    recorded = _adopted_record(directory)
    if recorded is not None:  # first on the files as they are (a swapped pair is named, not its expiry) ...
        check_recorded(directory, recorded)
    passphrase = None
    if key_path.is_file():
        passphrase = _passphrase_for(directory, key_path, key_path.read_bytes())
    credentials = load_signer(directory, passphrase, now=now)
    if recorded is not None:  # ... then on the chain actually loaded (a swap in between is refused too)
        check_recorded(directory, recorded, chain_pem=credentials.chain_pem)
    return replace(credentials, tsa_url=tsa_url) if tsa_url else credentials


def check_signer(directory: Path, *, tsa_url: str | None = None, now: dt.datetime | None = None,
                 runs_for: dt.timedelta = SIGNING_MARGIN) -> SigningCredentials:
    """Before a job runs: the production signer loads (owner-only key files, the passphrase at
    hand, the keys the audit log records), its certificate is valid now and still valid `runs_for`
    from now, when the run's outputs are signed. A one-line error with the fix otherwise."""
    now = now or dt.datetime.now(dt.timezone.utc)
    credentials = load_production_signer(directory, tsa_url=tsa_url, now=now)
    if credentials.not_after < now + runs_for:
        raise WorkspaceError(f"the signing certificate in {Path(directory) / CHAIN} expires on "
                             f"{credentials.not_after:%Y-%m-%d %H:%M} UTC, within {_span(runs_for)}: a job started "
                             "now could not sign its outputs", hint=_renewal_hint(Path(directory)))
    return credentials


def _span(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hours" if hours < 48 else f"{hours / 24:g} days"


def _passphrase_for(directory: Path, path: Path, pem: bytes) -> str | None:
    """The passphrase of an encrypted key file of this directory, from the recorded variable."""
    if not _is_encrypted(pem):
        return None
    name = passphrase_env(directory)
    passphrase = os.environ.get(name) or None
    if passphrase is None:
        raise InputError(f"the {'signing' if path.name == SIGNER_KEY else 'CA'} key {path} is encrypted and "
                         f"${name} is not set", hint=f"export {name} with the passphrase the key was made with")
    return passphrase


def _check_validity(directory: Path, chain_pem: bytes, now: dt.datetime) -> None:
    """An expired (or not yet valid) signing certificate, said with how to renew it; anything else
    wrong with the chain is left to validate_signing_chain."""
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        return
    if not certs:
        return
    leaf, chain_path = certs[0], directory / CHAIN
    if now > leaf.not_valid_after_utc:
        raise WorkspaceError(f"the signing certificate in {chain_path} expired on {leaf.not_valid_after_utc:%Y-%m-%d}",
                             hint=_renewal_hint(directory))
    if now < leaf.not_valid_before_utc:
        raise WorkspaceError(f"the signing certificate in {chain_path} is not valid before "
                             f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
                             hint="check this machine's clock")


def _renewal_hint(directory: Path) -> str:
    if (directory / CA_KEY).is_file():
        return "renew it from the same production CA with soundstage keys renew; files signed before stay trusted"
    return ("get a renewed certificate from its issuer: remove chain.pem and signer.key, then "
            "soundstage keys import --chain FILE --key FILE")


# --------------------------------------------------------------------------- what the audit log records

class _Ledger(Protocol):
    def recorded_signing_keys(self) -> RecordedKeys | None: ...


#: key directory -> the workspaces (weakly) whose audit log records its keys, handed over by the
#: composition root (services.workspace) as the guard's store capability is (guard.adopt_store)
_LEDGERS: dict[str, list[weakref.ref]] = {}
_LEDGERS_LOCK = threading.Lock()


def adopt_ledger(directory: Path, ledger: _Ledger) -> None:
    """From now on, a production signer loaded from `directory` in this process must be the keys
    `ledger.recorded_signing_keys()` returns (when it returns any): the guard, documents and audit
    checkpoints all load their signer through ``load_production_signer``."""
    key = _directory_key(directory)
    with _LEDGERS_LOCK:
        alive = [ref for ref in _LEDGERS.get(key, []) if ref() is not None and ref() is not ledger]
        _LEDGERS[key] = [weakref.ref(ledger), *alive]
        for other in [k for k, refs in _LEDGERS.items() if not any(r() is not None for r in refs)]:
            del _LEDGERS[other]


def _adopted_record(directory: Path) -> RecordedKeys | None:
    """What the newest live workspace of `directory` records (None: no workspace adopted it)."""
    with _LEDGERS_LOCK:
        refs = list(_LEDGERS.get(_directory_key(directory), []))
    for ref in refs:
        ledger = ref()
        if ledger is not None:
            return ledger.recorded_signing_keys()
    return None


def _directory_key(directory: Path) -> str:
    return os.fspath(Path(directory).resolve())


def certificate_sha256(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def fingerprints(directory: Path, *, chain_pem: bytes | None = None) -> KeyFingerprints:
    """The fingerprints of chain.pem (its CA and its leaf; or of `chain_pem`, a chain read from it)
    and ca.pem as they are on disk; a file that is missing or not PEM certificates gives None."""
    directory = Path(directory)
    certs = _read_certificates(directory / CHAIN) if chain_pem is None else _certificates(chain_pem)
    anchor = _read_certificates(directory / CA_CERT)
    return KeyFingerprints(ca_sha256=certificate_sha256(certs[-1]) if len(certs) > 1 else None,
                           leaf_sha256=certificate_sha256(certs[0]) if certs else None,
                           anchor_sha256=certificate_sha256(anchor[0]) if anchor else None)


def recorded_mismatches(directory: Path, recorded: RecordedKeys, *,
                        chain_pem: bytes | None = None) -> list[KeyMismatch]:
    """Each certificate of `directory` that is not the one recorded: ca.pem, chain.pem's CA, its leaf."""
    directory = Path(directory)
    found, expected = fingerprints(directory, chain_pem=chain_pem), recorded.fingerprints
    out = []
    for name, path in (("anchor_sha256", directory / CA_CERT), ("ca_sha256", directory / CHAIN),
                       ("leaf_sha256", directory / CHAIN)):
        if getattr(found, name) != getattr(expected, name):
            out.append(KeyMismatch(path, name, getattr(expected, name), getattr(found, name)))
    return out


def check_recorded(directory: Path, recorded: RecordedKeys, *, refused: str = "nothing was signed",
                   chain_pem: bytes | None = None) -> None:
    """IntegrityError naming the first certificate of `directory` that is not the one recorded."""
    mismatches = recorded_mismatches(directory, recorded, chain_pem=chain_pem)
    if mismatches:
        more = f" (and {len(mismatches) - 1} more)" if len(mismatches) > 1 else ""
        raise IntegrityError(f"{mismatches[0].message(recorded.seq)}{more}; {refused}",
                             hint="restore the keys the audit log records (soundstage audit log --action 'keys.*') "
                                  "or replace them with soundstage keys init, import or renew, which record them")


def trust_anchors(settings) -> list[bytes]:
    """The certificates every reader of a workspace trusts, PEM, in order - the one list the guard's
    read-back of a signed output, ``verify``, witnesses and checkpoints all read with: the
    production CA (``keys/ca.pem``, when there is one), only as the audit log records it once a
    workspace adopted the key directory (``adopt_ledger``; a swapped ca.pem would make files signed
    under another CA read Trusted: IntegrityError), then each configured anchor
    (``settings.trust_anchors``: ``[trust] anchors`` and ``[provenance] tsa_trust_anchor``). A
    configured anchor that is not there is an InputError naming it and the setting: read without
    it, a file would read less trusted than the production configured, or be refused for a reason
    that is not the real one."""
    directory = Path(settings.keys_dir)
    anchors = []
    ca = directory / CA_CERT
    if ca.is_file():
        recorded = _adopted_record(directory)
        if recorded is not None:
            check_recorded(directory, recorded, refused="nothing can be verified against it")
        anchors.append(ca.read_bytes())
    for extra in settings.trust_anchors:
        if not Path(extra).is_file():
            setting = ("[provenance] tsa_trust_anchor" if extra == getattr(settings, "tsa_trust_anchor", None)
                       else "[trust] anchors")
            raise InputError(f"configured trust anchor not found: {extra} ({setting})",
                             hint=f"put the PEM certificate there or fix {setting} in soundstage.toml")
        anchors.append(Path(extra).read_bytes())
    return anchors


def check_private_file(path: Path) -> None:
    """WorkspaceError when group or others can read or write the private key file `path` (a
    missing file is left to whoever needs it)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if mode & _SHARED_MODE_BITS:
        raise WorkspaceError(f"the private key {path} can be read or written by other users "
                             f"(mode {stat.S_IMODE(mode):o})", hint=f"chmod 600 {path}")


def private_key_problems(directory: Path, names: tuple[str, ...] = (SIGNER_KEY, CA_KEY)) -> list[str]:
    """One line per private key file of `directory` others can read or write (for `info`)."""
    problems = []
    for name in names:
        try:
            check_private_file(Path(directory) / name)
        except WorkspaceError as exc:
            problems.append(exc.one_line())
    return problems


def signing_certificate_expiry(directory: Path) -> dt.datetime | None:
    """When the claim-signing certificate in a key directory expires (None: no readable chain)."""
    path = Path(directory) / CHAIN
    if not path.is_file():
        return None
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError:
        return None
    return certs[0].not_valid_after_utc if certs else None


def no_timestamp_warning(expires: dt.datetime | None) -> str:
    """What to tell a production that signs without a time-stamp authority."""
    when = f" on {expires:%Y-%m-%d}" if expires is not None else ""
    return ("no RFC 3161 time-stamp authority is configured: every signature becomes unverifiable "
            f"(Invalid, signingCredential.expired) when the signing certificate expires{when}; "
            'set [provenance] tsa_url = "http://..." (and tsa_trust_anchor) in soundstage.toml')


def passphrase_env(directory: Path) -> str:
    """The environment variable holding the passphrase of this directory's signing key."""
    path = Path(directory) / SIGNING_SETTINGS
    if not path.is_file():
        return DEFAULT_PASSPHRASE_ENV
    try:
        name = json.loads(path.read_text(encoding="utf-8")).get("passphrase_env")
    except (ValueError, AttributeError):
        name = None
    if not isinstance(name, str) or not name.strip():
        raise WorkspaceError(f"{path} does not name the passphrase's environment variable",
                             hint='it should read {"passphrase_env": "NAME"}')
    return name.strip()


def _record_passphrase_env(directory: Path, name: str | None) -> None:
    """Remember where an encrypted key's passphrase is kept (never the passphrase itself)."""
    path = directory / SIGNING_SETTINGS
    if name is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"passphrase_env": name}) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _check_env_name(name: str | None) -> None:
    if name is not None and (not name.strip() or name != name.strip() or "=" in name or "\0" in name):
        raise SpecError(f"not an environment variable name: {name!r}", field="passphrase_env")


def callback_signer(sign: Callable[[bytes], bytes], chain_pem: bytes, *, algorithm: str = "ES256",
                    tsa_url: str | None = None):
    """A c2pa Signer whose private key never enters this process (KMS, HSM, remote signer).

    `sign(data)` returns the signature over `data`; for ECDSA either DER (what KMS APIs and
    `cryptography` return) or raw r||s is accepted — C2PA's COSE needs raw, so DER is converted.
    """
    import c2pa

    validate_signing_chain(chain_pem, None)
    alg = _c2pa_alg(algorithm)
    coordinate_bytes = _ECDSA_COORDINATE_BYTES.get(algorithm)

    def c2pa_callback(data: bytes) -> bytes:
        signature = bytes(sign(bytes(data)))
        if coordinate_bytes is not None and len(signature) != 2 * coordinate_bytes:
            signature = signature_der_to_raw(signature, coordinate_bytes)
        return signature

    try:
        return c2pa.Signer.from_callback(c2pa_callback, alg, chain_pem.decode("ascii"), tsa_url)
    except c2pa.C2paError as exc:
        raise BackendError(f"the C2PA library refused the callback signer: {exc}") from exc


def signature_der_to_raw(der_signature: bytes, coordinate_bytes: int) -> bytes:
    """DER ECDSA-Sig-Value → fixed-width r||s, as COSE (RFC 8152 §8.1) requires."""
    try:
        r, s = decode_dss_signature(der_signature)
    except ValueError as exc:
        raise InputError("the signing callback returned neither a DER nor a raw ECDSA signature") from exc
    return r.to_bytes(coordinate_bytes, "big") + s.to_bytes(coordinate_bytes, "big")


# --------------------------------------------------------------------------- validation

def validate_signing_chain(chain_pem: bytes, private_key=None, *, now: dt.datetime | None = None
                           ) -> list[x509.Certificate]:
    """Check a chain would produce a valid C2PA signature; raise SpecError naming the first fault."""
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise SpecError("the certificate chain is not PEM-encoded X.509", field="chain") from exc
    if not certs:
        raise SpecError("the certificate chain is empty", field="chain")
    leaf = certs[0]
    now = now or dt.datetime.now(dt.timezone.utc)

    if leaf.issuer == leaf.subject and issued_by(leaf, leaf):
        raise SpecError("the signing certificate is self-signed; C2PA validators refuse it",
                        field="chain", hint="issue the signing certificate from a CA (create_production_ca makes one)")
    basic = _extension(leaf, x509.BasicConstraints)
    if basic is not None and basic.ca:
        raise SpecError("the signing certificate is a CA certificate", field="chain")
    usage = _extension(leaf, x509.KeyUsage)
    if usage is None or not usage.digital_signature:
        raise SpecError("the signing certificate lacks the digitalSignature key usage", field="chain")
    eku = _extension(leaf, x509.ExtendedKeyUsage)
    if eku is None:
        raise SpecError("the signing certificate has no extended key usage", field="chain",
                        hint="add c2pa-kp-claimSigning 1.3.6.1.4.1.62558.2.1 or emailProtection")
    if ANY_EKU in eku:
        raise SpecError("the signing certificate uses anyExtendedKeyUsage, which C2PA forbids", field="chain")
    if not ACCEPTED_EKUS.intersection(eku):
        raise SpecError("the signing certificate's extended key usage does not allow claim signing",
                        field="chain", hint="need c2pa-kp-claimSigning, emailProtection or documentSigning")
    if now < leaf.not_valid_before_utc:
        raise SpecError(f"the signing certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d}",
                        field="chain")
    if now > leaf.not_valid_after_utc:
        raise SpecError(f"the signing certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}", field="chain")
    for child, parent in zip(certs, certs[1:], strict=False):
        if not issued_by(child, parent):
            raise SpecError(f"chain order broken: '{child.subject.rfc4514_string()}' is not issued by "
                            f"'{parent.subject.rfc4514_string()}'", field="chain", hint="put the leaf first")
    _algorithm_for(leaf.public_key())
    if private_key is not None and _public_bytes(private_key.public_key()) != _public_bytes(leaf.public_key()):
        raise SpecError("the private key does not match the signing certificate", field="key")
    return certs


# --------------------------------------------------------------------------- helpers

def _issue_leaf(ca_key, ca_cert: x509.Certificate, production: str, now: dt.datetime, not_after: dt.datetime):
    """A new ES256 claim-signing key and its certificate, issued by the production CA."""
    ca_ski = _extension(ca_cert, x509.SubjectKeyIdentifier) or x509.SubjectKeyIdentifier.from_public_key(
        ca_key.public_key())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, production),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{production} claim signer"),
        ]))
        .issuer_name(ca_cert.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_CLAIM_SIGNING_EKU]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return leaf_key, leaf_cert


def _read_certificates(path: Path) -> list[x509.Certificate]:
    """The PEM certificates in `path`; none when it is missing or not PEM certificates."""
    try:
        return _certificates(path.read_bytes())
    except OSError:
        return []


def _certificates(pem: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        return []


def issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
        return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


def _extension(cert: x509.Certificate, kind):
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _key_usage(*, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False):
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign, crl_sign=crl_sign,
        encipher_only=False, decipher_only=False,
    )


def _algorithm_for(key) -> str:
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        by_curve = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
        raise SpecError(f"elliptic curve {key.curve.name} is not allowed by C2PA", field="key")
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < 2048:
            raise SpecError("RSA keys must be at least 2048 bits for C2PA", field="key")
        return "PS256"
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "Ed25519"
    raise SpecError(f"key type {type(key).__name__} is not allowed by C2PA", field="key")


def _c2pa_alg(algorithm: str):
    import c2pa

    names = {"ES256": "ES256", "ES384": "ES384", "ES512": "ES512", "PS256": "PS256", "Ed25519": "ED25519"}
    if algorithm not in names:
        raise SpecError(f"unknown signing algorithm {algorithm!r}", field="algorithm",
                        hint="one of " + ", ".join(names))
    return getattr(c2pa.C2paSigningAlg, names[algorithm])


def _public_bytes(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _private_pem(key, passphrase: str | None) -> bytes:
    encryption: serialization.KeySerializationEncryption
    if passphrase:
        encryption = serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
    else:
        encryption = serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def _is_encrypted(pem: bytes) -> bool:
    """PKCS#8 "ENCRYPTED PRIVATE KEY", or a legacy PEM with "Proc-Type: 4,ENCRYPTED"."""
    return b"ENCRYPTED" in pem


def _load_private_key(pem: bytes, passphrase: str | None, *, source: str):
    password = passphrase.encode("utf-8") if passphrase else None
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except TypeError as exc:
        if password is None:
            raise InputError(f"{source} is encrypted; a passphrase is needed") from exc
        raise InputError(f"{source} is not encrypted; do not pass a passphrase") from exc
    except ValueError as exc:
        if password is not None and b"ENCRYPTED" in pem:
            raise InputError(f"wrong passphrase for {source}") from exc
        raise InputError(f"{source} is not a PEM private key") from exc
    except UnsupportedAlgorithm as exc:
        raise InputError(f"{source} uses an unsupported key algorithm") from exc
    _algorithm_for(key)
    return key


def _normalised_chain(chain_pem: bytes) -> bytes:
    certs = x509.load_pem_x509_certificates(chain_pem)
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def _refuse_existing(directory: Path, names: list[str]) -> None:
    existing = [name for name in names if (directory / name).exists()]
    if existing:
        raise AlreadyExistsError(f"signing material already exists in {directory}: {', '.join(existing)}",
                                 hint="keys are never overwritten; use a new directory or remove them yourself")


def _written_beside(path: Path, data: bytes, *, private: bool) -> str:
    """A temporary file beside `path` holding `data`, synced, owner-only when `private`: its name."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return tmp_name


def _replace(path: Path, data: bytes, *, private: bool) -> None:
    """Write atomically over `path` (renewal only: its one deliberate replacement)."""
    tmp_name = _written_beside(path, data, private=private)
    try:
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _write_new(path: Path, data: bytes, *, private: bool) -> None:
    """Write atomically and never over an existing file (link fails if the name is taken)."""
    tmp_name = _written_beside(path, data, private=private)
    try:
        os.link(tmp_name, path)
    except FileExistsError as exc:
        raise AlreadyExistsError(f"{path} already exists; keys are never overwritten") from exc
    finally:
        os.unlink(tmp_name)
