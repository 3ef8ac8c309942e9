"""Read and judge Content Credentials: ours, or any other tool's.

No manifest is an ordinary answer ("Absent"), not an error: most media in the world has none.
A file that cannot be parsed is a one-line ParseError; a manifest that does not verify is an
"Invalid" reading with the spec's status codes, so callers can show *why*.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Sequence

from soundstage.errors import BackendError, NotFoundError, ParseError
from soundstage.safeguards.provenance.manifest import SOUNDSTAGE_ASSERTION, WATERMARK_ASSERTION
from soundstage.safeguards.provenance.media import DEFAULT_LIMITS, SizeLimits, check_size, sniff_mime

__all__ = ["CredentialState", "IngredientReading", "Credentials", "read_credentials", "trust_context_settings",
           "ExplanationKind", "Explanation", "explain", "explain_codes", "timestamp_codes"]


class CredentialState(StrEnum):
    TRUSTED = "Trusted"  # valid, and the signer chains to an anchor we were given
    VALID = "Valid"  # signature and hashes verify; signer not (known to be) trusted
    INVALID = "Invalid"  # something verifiable failed: see failure_codes
    ABSENT = "Absent"  # no manifest at all


@dataclass(frozen=True)
class IngredientReading:
    title: str
    relationship: str
    has_manifest: bool
    format: str | None = None


@dataclass(frozen=True)
class Credentials:
    state: CredentialState
    status_codes: tuple[str, ...] = ()  # top-level validation_status, in order (incl. ingredient manifests)
    failure_codes: tuple[str, ...] = ()  # active manifest failures only
    active_manifest: str | None = None
    manifest_count: int = 0
    generator: str | None = None
    actions: tuple[str, ...] = ()
    digital_source_types: tuple[str, ...] = ()
    ingredients: tuple[IngredientReading, ...] = ()
    assertion_labels: tuple[str, ...] = ()
    soundstage: dict[str, Any] | None = None
    soft_bindings: tuple[dict[str, Any], ...] = ()  # c2pa.soft-binding (other tools'; we claim none, DR009)
    watermark: dict[str, Any] | None = None  # our io.soundstage.watermark assertion
    training_mining: dict[str, str] | None = None  # entry key -> use
    signer_issuer: str | None = None
    signer_common_name: str | None = None
    signing_time: str | None = None  # only present when a time-stamp authority was used
    store: dict[str, Any] = field(default_factory=dict, repr=False)

    def has_code(self, code: str) -> bool:
        return code in self.status_codes or code in self.failure_codes

    def assertion(self, label: str) -> Any:
        """The data of the active manifest's first assertion with this label, or None."""
        manifest = self.store.get("manifests", {}).get(self.active_manifest or "", {})
        for item in manifest.get("assertions", []):
            if item.get("label") == label:
                return item.get("data")
        return None


def trust_context_settings(trust_anchors: Sequence[bytes] | None = None, trust_list: Path | None = None
                           ) -> dict[str, Any]:
    """c2pa settings making our production CA (and any extra anchors) a trust anchor."""
    pems: list[bytes] = list(trust_anchors or [])
    if trust_list is not None:
        if not Path(trust_list).is_file():
            raise NotFoundError(f"trust list {trust_list} does not exist")
        pems.append(Path(trust_list).read_bytes())
    if not pems:
        return {}
    text = "\n".join(pem.decode("ascii", errors="strict").strip() for pem in pems) + "\n"
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ParseError("trust anchors must be PEM certificates")
    return {"trust": {"user_anchors": text}, "verify": {"verify_trust": True}}


def read_credentials(
    source: Path | bytes,
    *,
    mime: str | None = None,
    trust_anchors: Sequence[bytes] | None = None,
    trust_list: Path | None = None,
    sidecar: bytes | None = None,
    limits: SizeLimits = DEFAULT_LIMITS,
) -> Credentials:
    """Read and validate the Content Credentials of a file (or bytes), embedded or from a sidecar."""
    name = source.name if isinstance(source, Path) else None  # a label: never the folders
    if isinstance(source, Path):
        if not source.is_file():
            raise NotFoundError(f"{source.name} does not exist")
        with open(source, "rb") as handle:
            head = handle.read(16)
            mime = mime or sniff_mime(head, name)
            check_size(source.stat().st_size, mime, limits, source=name)
            handle.seek(0)
            return _read_stream(handle, mime, trust_anchors, trust_list, sidecar, name)
    if not isinstance(source, (bytes, bytearray, memoryview)):
        raise ParseError(f"expected a path or bytes, got {type(source).__name__}")
    data = bytes(source)
    mime = mime or sniff_mime(data[:16])
    check_size(len(data), mime, limits)
    return _read_stream(io.BytesIO(data), mime, trust_anchors, trust_list, sidecar, None)


def _read_stream(stream: BinaryIO, mime: str, trust_anchors: Sequence[bytes] | None, trust_list: Path | None,
                 sidecar: bytes | None, name: str | None) -> Credentials:
    import c2pa

    settings = trust_context_settings(trust_anchors, trust_list)
    try:
        context = c2pa.Context.from_dict(settings) if settings else None
    except c2pa.C2paError as exc:
        raise ParseError(f"trust anchors were refused: {_c2pa_message(exc)}") from exc
    try:
        kwargs = {"context": context} if context is not None else {}
        with c2pa.Reader(mime, stream, sidecar, **kwargs) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError.ManifestNotFound:
        return Credentials(state=CredentialState.ABSENT)
    except c2pa.C2paError as exc:
        raise ParseError(f"Content Credentials unreadable: {_c2pa_message(exc)}", source=name) from exc
    except (ValueError, OSError) as exc:
        raise ParseError(f"Content Credentials unreadable: {exc}", source=name) from exc
    return credentials_from_store(store)


def credentials_from_store(store: dict[str, Any]) -> Credentials:
    """Flatten the reader's JSON into the fields a person (or the ledger) needs."""
    label = store.get("active_manifest")
    manifests = store.get("manifests") or {}
    manifest = manifests.get(label or "") or {}
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    state_text = store.get("validation_state") or "Invalid"
    try:
        state = CredentialState(state_text)
    except ValueError:
        state = CredentialState.INVALID

    actions: list[str] = []
    source_types: list[str] = []
    labels: list[str] = []
    soft_bindings: list[dict[str, Any]] = []
    watermark: dict[str, Any] | None = None
    training: dict[str, str] | None = None
    ours: dict[str, Any] | None = None
    for assertion in manifest.get("assertions") or []:
        name = str(assertion.get("label", ""))
        data = assertion.get("data")
        labels.append(name)
        base = name.split("__")[0]
        if base in ("c2pa.actions", "c2pa.actions.v2") and isinstance(data, dict):
            for action in data.get("actions") or []:
                actions.append(str(action.get("action")))
                if isinstance(action.get("digitalSourceType"), str):
                    source_types.append(action["digitalSourceType"].strip())
        elif base == "c2pa.soft-binding" and isinstance(data, dict):
            soft_bindings.append(data)
        elif base in ("cawg.training-mining", "c2pa.training-mining") and isinstance(data, dict):
            training = training or {}
            for key, entry in (data.get("entries") or {}).items():
                if isinstance(entry, dict):
                    training[key] = str(entry.get("use"))
        elif base == WATERMARK_ASSERTION and isinstance(data, dict):
            watermark = data
        elif base == SOUNDSTAGE_ASSERTION and isinstance(data, dict):
            ours = data

    signature = manifest.get("signature_info") or {}
    return Credentials(
        state=state,
        status_codes=tuple(str(item.get("code")) for item in store.get("validation_status") or []),
        failure_codes=tuple(str(item.get("code")) for item in results.get("failure") or []),
        active_manifest=label,
        manifest_count=len(manifests),
        generator=_generator(manifest),
        actions=tuple(actions),
        digital_source_types=tuple(dict.fromkeys(source_types)),
        ingredients=tuple(_ingredients(manifest.get("ingredients") or [])),
        assertion_labels=tuple(labels),
        soundstage=ours,
        soft_bindings=tuple(soft_bindings),
        watermark=watermark,
        training_mining=training,
        signer_issuer=signature.get("issuer"),
        signer_common_name=signature.get("common_name"),
        signing_time=signature.get("time"),
        store=store,
    )


# --------------------------------------------------------------------------- what a reading means

class ExplanationKind(StrEnum):
    """Why a reading is what it is, from its status codes (C2PA 2.2 §15 validation codes)."""

    TRUSTED = "trusted"  # intact, signer chains to a trust anchor
    UNTRUSTED_SIGNER = "untrusted_signer"  # intact, signer not among the reader's trust anchors
    TAMPERED = "tampered"  # a hash or the claim signature no longer matches: something changed
    EXPIRED_NO_TIMESTAMP = "expired_no_timestamp"  # certificate expired, no trusted time-stamp
    SIGNED_OUTSIDE_VALIDITY = "signed_outside_validity"  # a trusted time-stamp puts signing outside the cert
    REVOKED = "revoked"  # the signing certificate was revoked (OCSP)
    BAD_CREDENTIAL = "bad_credential"  # a certificate no C2PA validator accepts
    INCOMPLETE = "incomplete"  # parts of the manifest are missing or malformed
    INVALID = "invalid"  # something else failed
    ABSENT = "absent"  # no manifest


@dataclass(frozen=True)
class Explanation:
    kind: ExplanationKind
    text: str  # one plain clause, for a person
    codes: tuple[str, ...]  # the codes it rests on
    timestamp: str | None = None  # "trusted", "untrusted", "invalid", "unchecked" or None (none seen)


_TAMPER_CODES = frozenset({
    "claimSignature.mismatch", "assertion.hashedURI.mismatch", "assertion.dataHash.mismatch",
    "assertion.bmffHash.mismatch", "assertion.boxesHash.mismatch", "assertion.collectionHash.mismatch",
    "assertion.collectionHash.incorrectFileCount", "assertion.boxesHash.unknownBox", "hashedURI.mismatch",
    "assertion.action.ingredientMismatch", "assertion.action.redactionMismatch",
})
_BAD_CREDENTIAL_CODES = frozenset({"signingCredential.invalid", "algorithm.unsupported", "algorithm.deprecated"})
_INCOMPLETE_SUFFIXES = (".missing", ".malformed", ".invalid", ".inaccessible", ".undeclared", ".multiple",
                        ".outsideManifest", ".multipleHardBindings", ".unreferenced")
_TEXT = {
    ExplanationKind.TRUSTED: "intact and signed by a signer in your trust anchors",
    ExplanationKind.UNTRUSTED_SIGNER: "intact, but the signer is not among your trust anchors",
    ExplanationKind.TAMPERED: "the file or its manifest changed after signing",
    ExplanationKind.SIGNED_OUTSIDE_VALIDITY: "its trusted time-stamp shows it was signed while the signing "
                                             "certificate was not valid",
    ExplanationKind.REVOKED: "the signing certificate was revoked",
    ExplanationKind.BAD_CREDENTIAL: "the signing certificate is not one a C2PA validator accepts",
    ExplanationKind.INCOMPLETE: "the manifest is malformed or parts of it are missing",
    ExplanationKind.INVALID: "a validation check failed",
    ExplanationKind.ABSENT: "no Content Credentials",
}


def timestamp_status(codes: Iterable[str]) -> str | None:
    """What the codes say of the signature's RFC 3161 time-stamp: "trusted" (its TSA chains to a
    trust anchor), "untrusted", "invalid" (does not match or cannot be read), "unchecked"
    (validated without a trust check), or None (no time-stamp code at all)."""
    seen = set(codes)
    if "timeStamp.trusted" in seen:
        return "trusted"
    if seen & {"timeStamp.mismatch", "timeStamp.malformed", "timeStamp.outsideValidity"}:
        return "invalid"
    if "timeStamp.untrusted" in seen:
        return "untrusted"
    if "timeStamp.validated" in seen:
        return "unchecked"
    return None


def explain_codes(state: str, failure_codes: Sequence[str] = (), status_codes: Sequence[str] = (),
                  timestamp_codes: Sequence[str] | None = None) -> Explanation:
    """Pure: why a reading in `state` with these codes is what it is. `failure_codes` are the active
    manifest's failures (preferred), `status_codes` the store's; `timestamp_codes` any success and
    informational codes, which is where c2pa-rs reports time-stamps (None: not known)."""
    codes = tuple(failure_codes) or tuple(status_codes)
    stamp = timestamp_status(timestamp_codes) if timestamp_codes is not None else timestamp_status(codes)
    if state == CredentialState.ABSENT:
        return Explanation(ExplanationKind.ABSENT, _TEXT[ExplanationKind.ABSENT], (), None)

    def found(kind: ExplanationKind, matching: Iterable[str], text: str | None = None) -> Explanation:
        return Explanation(kind, text or _TEXT[kind], tuple(dict.fromkeys(matching)), stamp)

    tampered = [c for c in codes if c in _TAMPER_CODES]
    if tampered:
        return found(ExplanationKind.TAMPERED, tampered)
    if "signingCredential.ocsp.revoked" in codes:
        return found(ExplanationKind.REVOKED, ["signingCredential.ocsp.revoked"])
    if "signingCredential.expired" in codes:
        if stamp == "trusted":  # the TSA vouches for the time, and the certificate was not valid then
            return found(ExplanationKind.SIGNED_OUTSIDE_VALIDITY, ["signingCredential.expired"])
        why = {"untrusted": "its time-stamp comes from an authority that is not among your trust anchors",
               "invalid": "its time-stamp does not verify",
               }.get(stamp or "", "it carries no trusted time-stamp")
        return found(ExplanationKind.EXPIRED_NO_TIMESTAMP, ["signingCredential.expired"],
                     "the signing certificate has expired and " + why + ", so nothing proves it was signed "
                     "while the certificate was valid (no hash or signature mismatch was found: this is not "
                     "evidence of tampering)")
    if "claimSignature.outsideValidity" in codes:
        return found(ExplanationKind.SIGNED_OUTSIDE_VALIDITY, ["claimSignature.outsideValidity"])
    bad = [c for c in codes if c in _BAD_CREDENTIAL_CODES]
    if bad:
        return found(ExplanationKind.BAD_CREDENTIAL, bad)
    incomplete = [c for c in codes if c.endswith(_INCOMPLETE_SUFFIXES) and not c.startswith("timeStamp.")]
    if incomplete:
        return found(ExplanationKind.INCOMPLETE, incomplete)
    if state == CredentialState.TRUSTED:
        return found(ExplanationKind.TRUSTED, [])
    if state == CredentialState.VALID or set(codes) == {"signingCredential.untrusted"}:
        return found(ExplanationKind.UNTRUSTED_SIGNER, [c for c in codes if c == "signingCredential.untrusted"])
    return found(ExplanationKind.INVALID, codes)


def timestamp_codes(credentials: Credentials) -> tuple[str, ...]:
    """The active manifest's time-stamp codes (success, informational and failure), in order."""
    results = (credentials.store.get("validation_results") or {}).get("activeManifest") or {}
    codes = [str(item.get("code")) for key in ("success", "informational", "failure")
             for item in results.get(key) or [] if isinstance(item, dict)]
    return tuple(code for code in dict.fromkeys([*codes, *credentials.status_codes])
                 if code.startswith("timeStamp."))


def explain(credentials: Credentials) -> Explanation:
    """`explain_codes` for a reading, with the time-stamp codes from its validation results."""
    return explain_codes(credentials.state.value, credentials.failure_codes, credentials.status_codes,
                         timestamp_codes(credentials))


def _generator(manifest: dict[str, Any]) -> str | None:
    if manifest.get("claim_generator"):
        return str(manifest["claim_generator"])
    infos = manifest.get("claim_generator_info") or []
    if infos and isinstance(infos[0], dict) and infos[0].get("name"):
        first = infos[0]
        return f"{first['name']} {first['version']}" if first.get("version") else str(first["name"])
    return None


def _ingredients(items: Iterable[dict[str, Any]]) -> Iterable[IngredientReading]:
    for item in items:
        yield IngredientReading(
            title=str(item.get("title", "")),
            relationship=str(item.get("relationship", "")),
            has_manifest=bool(item.get("active_manifest") or item.get("manifest_data")),
            format=item.get("format"),
        )


def _c2pa_message(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def backend_error(exc: Exception, doing: str) -> BackendError:
    return BackendError(f"C2PA library failed while {doing}: {_c2pa_message(exc)}")
