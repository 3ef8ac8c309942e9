"""`soundstage verify`: what is this file, who made it, and can the answer be trusted?

Three independent witnesses, combined into one plain verdict:
1. the C2PA manifest (Trusted / Valid / Invalid / Absent, with the spec's status codes);
2. the invisible watermark, which survives when the manifest is stripped;
3. the ledger, when a workspace is open: job, approvals, consents, quarantine, and the
   original manifest of a file whose credentials were stripped.

The ledger is searched by the watermark's asset id, and by the asset id in our own manifest
assertion only when that manifest validates: the contents of an invalid manifest are never
believed, only compared with the watermark so that a disagreement is reported (``identity``).
"""

from __future__ import annotations

from pathlib import Path

from soundstage.errors import InputError, NotFoundError, SoundstageError
from soundstage.safeguards.guard import format_asset_id

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}
IPTC_LABELS = {
    "trainedAlgorithmicMedia": "AI-generated",
    "compositeWithTrainedAlgorithmicMedia": "AI-edited",
    "algorithmicMedia": "procedurally generated (no trained model)",
    "algorithmicallyEnhanced": "edited by classical image processing (no trained model)",
    "digitalCapture": "camera original",
}


def trust_anchors(ws) -> list[bytes]:
    if ws is None:
        return []
    anchors = []
    ca = ws.settings.keys_dir / "ca.pem"
    if ca.is_file():
        anchors.append(ca.read_bytes())
    for extra in ws.settings.trust_anchors:
        if not extra.is_file():
            raise InputError(f"configured trust anchor not found: {extra}")
        anchors.append(extra.read_bytes())
    return anchors


def detect_watermark(path: Path, key: bytes | None = None) -> dict | None:
    """Look for a mark on a still, or on up to 48 frames of a clip: with the production's secret
    ``key`` first, then with the public default key (workspaces made before production keys)."""
    from soundstage.safeguards.watermark import default_engine

    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        from soundstage.media.video import iter_frames

        frames = list(iter_frames(path, max_frames=48))
    elif suffix in IMAGE_SUFFIXES:
        from soundstage.media.images import read_image

        frames = [read_image(path)]
    else:
        return None
    candidates = ([("production", key)] if key else []) + [("public default", None)]
    for name, candidate in candidates:
        engine = default_engine(candidate)
        detection = engine.detect_frames(frames) if len(frames) > 1 else engine.detect(frames[0])
        if detection.found:
            break
    return {"engine": detection.engine, "found": detection.found, "key": name if detection.found else None,
            "payload": format_asset_id(detection.payload) if detection.payload is not None else None,
            "confidence": detection.confidence, "false_positive_rate": detection.false_positive_rate}


def verify_file(path: Path, ws=None) -> dict:
    from soundstage.safeguards.provenance import read_credentials

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"file not found: {path.name}")
    anchors = trust_anchors(ws)
    trust_list = ws.settings.trust_list if ws is not None else None
    if trust_list is not None and not trust_list.is_file():
        raise InputError(f"configured trust list not found: {trust_list}")
    creds = read_credentials(path, trust_anchors=anchors or None, trust_list=trust_list)
    result: dict = {
        "file": str(path),
        "c2pa": {
            "state": creds.state.value if hasattr(creds.state, "value") else str(creds.state),
            "status_codes": list(creds.status_codes), "failure_codes": list(creds.failure_codes),
            "active_manifest": creds.active_manifest, "generator": creds.generator,
            "actions": list(creds.actions), "digital_source_types": list(creds.digital_source_types),
            "signer": creds.signer_common_name, "issuer": creds.signer_issuer,
            "soundstage": creds.soundstage,
        },
    }
    try:
        result["watermark"] = detect_watermark(path, ws.watermark_key if ws is not None else None)
    except SoundstageError as exc:
        result["watermark"] = {"found": False, "error": exc.one_line()}
    result["identity"] = identify(result)
    asset_ref = result["identity"]["asset"]
    result["ledger"] = _ledger_record(ws, asset_ref, anchors) if (ws is not None and asset_ref) else None
    if result["ledger"] is not None:
        result["ledger"]["found_by"] = result["identity"]["source"]
    result["verdict"] = verdict(result)
    return result


def manifest_validates(c2pa: dict) -> bool:
    """Only a manifest whose signature and hashes verify may be believed about anything."""
    return c2pa.get("state") in ("Trusted", "Valid")


def identify(result: dict) -> dict:
    """Which asset the file is, from the witnesses that can be believed.

    The watermark payload comes first: it is not in the file's metadata, so editing the manifest
    cannot change it. The manifest's own record (our assertion's ``asset_id``) is used only when the
    manifest validates; an invalid manifest's contents are never looked up, only compared with
    the watermark so that a disagreement is reported.
    """
    wm = result.get("watermark") or {}
    c2pa = result["c2pa"]
    watermark_ref = _normalised_ref(wm.get("payload")) if wm.get("found") else None
    record = c2pa.get("soundstage")
    claim = record.get("asset_id") if isinstance(record, dict) else None
    claim = claim if isinstance(claim, str) else None
    manifest_ref = _normalised_ref(claim)
    valid = manifest_validates(c2pa)
    if watermark_ref is not None:
        asset, source = watermark_ref, "watermark"
    elif manifest_ref is not None and valid:
        asset, source = manifest_ref, "manifest"
    else:
        asset, source = None, None
    agree = None if watermark_ref is None or claim is None else watermark_ref == manifest_ref
    return {"asset": asset, "source": source, "watermark": watermark_ref, "manifest": claim,
            "manifest_valid": valid, "agree": agree}


def _normalised_ref(value: str | None) -> str | None:
    """An asset id as the ledger spells it, or None for anything that is not one."""
    from soundstage.safeguards.guard import parse_asset_id

    if value is None:
        return None
    try:
        return format_asset_id(parse_asset_id(value))
    except InputError:
        return None


def _ledger_record(ws, asset_ref: str, anchors: list[bytes]) -> dict | None:
    from sqlalchemy import select

    from soundstage.safeguards.guard import parse_asset_id
    from soundstage.safeguards.provenance import read_credentials
    from soundstage.store.models import Approval, Asset, Job, Person, Production

    with ws.unit_of_work() as s:
        asset = s.get(Asset, parse_asset_id(asset_ref))
        if asset is None:
            return {"found": False, "asset": asset_ref}
        prod = s.get(Production, asset.production_id)
        record = {"found": True, "asset": format_asset_id(asset.id), "name": asset.name, "status": asset.status,
                  "production": prod.title if prod else asset.production_id, "production_id": asset.production_id,
                  "job": asset.job_id, "sha256": asset.sha256, "approved_by": []}
        if asset.job_id:
            job = s.get(Job, asset.job_id)
            record["operation"] = job.kind if job else None
            record["requested_by"] = job.requested_by if job else None
            for a in s.scalars(select(Approval).where(Approval.job_id == asset.job_id, Approval.verdict == "approve")):
                person = s.get(Person, a.person_id)
                record["approved_by"].append({"name": person.name if person else a.person_id,
                                              "role": a.role.split(":")[0]})
        stored = ws.store.path_for(asset.sha256)
    if stored.is_file():
        original = read_credentials(stored, trust_anchors=anchors or None)
        record["original_manifest"] = {"state": str(getattr(original.state, "value", original.state)),
                                       "label": original.active_manifest,
                                       "digital_source_types": list(original.digital_source_types)}
    return record


def _kind_label(types: list[str]) -> str | None:
    for t in types:
        term = t.strip().rsplit("/", 1)[-1]
        if term in IPTC_LABELS:
            return IPTC_LABELS[term]
    return None


def verdict(result: dict) -> str:
    c2pa = result["c2pa"]
    wm = result.get("watermark") or {}
    ledger = result.get("ledger") or {}
    state = c2pa["state"]
    identity = result.get("identity") or {}
    parts: list[str] = []
    # what an invalid manifest says about how the file was made is not evidence of anything
    kind = (_kind_label(c2pa["digital_source_types"]) if manifest_validates(c2pa) else None) or (
        _kind_label(ledger.get("original_manifest", {}).get("digital_source_types", [])) if ledger else None)
    if ledger.get("found"):
        who = f"by production {ledger['production']}"
        if ledger.get("job"):
            who += f", job {ledger['job']}"
        if ledger.get("approved_by"):
            who += ", approved by " + ", ".join(f"{a['name']} ({a['role']})" for a in ledger["approved_by"])
        parts.append(f"{kind or 'made'} {who}")
        if ledger.get("status") == "quarantined":
            parts.append("QUARANTINED: a consent it relied on was revoked; do not use")
    elif kind:
        parts.append(kind)
    if identity.get("agree") is False:
        parts.append(f"the watermark carries asset {identity['watermark']} but the manifest names asset "
                     f"{identity['manifest']}" + ("" if identity.get("manifest_valid") else
                                                  " (not believed: the manifest failed validation)"))
    if state in ("Trusted", "Valid"):
        trust = "credentials intact and signed by a trusted production" if state == "Trusted" else \
            "credentials intact (signer not in your trust list)"
        parts.append(trust)
    elif state == "Invalid":
        codes = ", ".join(c2pa["failure_codes"] or c2pa["status_codes"])
        parts.append(f"credentials INVALID ({codes}): the file changed after signing or the signature is bad")
    else:
        if wm.get("found") and ledger.get("found"):
            original = ledger.get("original_manifest", {})
            parts.append(f"Content Credentials were stripped; the watermark recovered asset {ledger['asset']} "
                         f"and its original manifest ({original.get('state', 'unknown')})")
        elif wm.get("found"):
            parts.append(f"no Content Credentials, but a soundstage watermark is present (payload "
                         f"{wm.get('payload')}, false-positive rate {wm.get('false_positive_rate', 1):.1e})")
        else:
            parts.append("no Content Credentials and no soundstage watermark found")
    text = "; ".join(parts)
    return text[0].upper() + text[1:]
