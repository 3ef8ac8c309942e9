"""`soundstage verify` on real signed outputs: which witness the ledger look-up may believe."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import pytest

from soundstage.domain.safeguards import JobSpec, OperationKind
from soundstage.safeguards.provenance import read_credentials
from soundstage.services import jobs_service as jobs
from soundstage.services.verify_service import verify_file


def _ideation(ws, prompt: str) -> dict:
    spec = JobSpec(id="", production_id=ws.production_id, operation=OperationKind.IDEATION,
                   requested_by="Priya Shah", model_id="soundstage.procedural-card", prompt=prompt)
    result = jobs.submit_job(ws, spec, actor="Priya Shah")
    assert result["status"] == "done", result
    return {"job": result["job"], **result["assets"][0]}


def _swap_asset_id_in_our_assertion(path: Path, old: str, new: str) -> None:
    """Rewrite the asset id inside our io.soundstage.production assertion in place (same length),
    then repair the PNG chunk CRC so the picture still decodes: only the C2PA hashes can tell."""
    data = bytearray(path.read_bytes())
    key = b"hasset_id" + bytes([0x60 + len(old)]) + old.encode()  # CBOR: text "asset_id", text(16) id
    assert data.count(key) == 1 and len(old) == len(new) == 16
    where = data.find(key) + len(key) - len(old)
    data[where:where + len(new)] = new.encode()
    pos = 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"caBX":
            data[pos + 8 + length:pos + 12 + length] = struct.pack(">I", zlib.crc32(data[pos + 4:pos + 8 + length]))
        pos += 12 + length
    path.write_bytes(bytes(data))


def test_a_tampered_manifest_is_not_believed_the_watermark_finds_the_record(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    ours, other = _ideation(ws, "rainy street at dusk"), _ideation(ws, "sunny beach at noon")
    path = tmp_path / "ours.png"
    shutil.copyfile(ws.store.path_for(ours["sha256"]), path)
    intact = verify_file(path, ws)
    assert intact["c2pa"]["state"] == "Trusted" and intact["ledger"]["job"] == ours["job"]

    _swap_asset_id_in_our_assertion(path, ours["id"], other["id"])
    reading = read_credentials(path, trust_anchors=[(ws.settings.keys_dir / "ca.pem").read_bytes()])
    assert reading.state.value == "Invalid" and reading.has_code("assertion.hashedURI.mismatch")
    assert reading.soundstage["asset_id"] == other["id"]  # what the forger wanted us to look up

    result = verify_file(path, ws)
    assert result["c2pa"]["state"] == "Invalid"
    assert result["watermark"]["found"] and result["watermark"]["payload"] == ours["id"]
    ledger = result["ledger"]
    assert ledger["found"] and ledger["asset"] == ours["id"] and ledger["job"] == ours["job"]
    assert ledger["found_by"] == "watermark"
    assert result["identity"] == {"asset": ours["id"], "source": "watermark", "watermark": ours["id"],
                                  "manifest": other["id"], "manifest_valid": False, "agree": False,
                                  "watermark_key": "production", "attributed": True}
    text = result["verdict"]
    assert other["job"] not in text and ours["job"] in text
    assert "credentials INVALID (assertion.hashedURI.mismatch)" in text
    assert f"the watermark carries asset {ours['id']} but the manifest names asset {other['id']}" in text
    assert "not believed" in text
    assert intact["identity"] == {"asset": ours["id"], "source": "watermark", "watermark": ours["id"],
                                  "manifest": ours["id"], "manifest_valid": True, "agree": True,
                                  "watermark_key": "production", "attributed": True}
    assert "manifest names" not in intact["verdict"]


def _reading(state: str, manifest_id: str | None, watermark_id: str | None) -> dict:
    return {"c2pa": {"state": state, "soundstage": {"asset_id": manifest_id} if manifest_id else None},
            "watermark": {"found": watermark_id is not None, "payload": watermark_id}}


@pytest.mark.parametrize(("state", "manifest_id", "watermark_id", "asset", "source", "agree"), [
    ("Trusted", "00000000000000aa", None, "00000000000000aa", "manifest", None),
    ("Trusted", "A-00000000000000AA", None, "00000000000000aa", "manifest", None),
    ("Valid", "00000000000000aa", None, None, None, None),      # an untrusted signer names no record
    ("Invalid", "00000000000000aa", None, None, None, None),
    ("Invalid", "00000000000000aa", "00000000000000bb", "00000000000000bb", "watermark", False),
    ("Trusted", "00000000000000aa", "00000000000000bb", "00000000000000bb", "watermark", False),
    ("Invalid", "not an id", "00000000000000bb", "00000000000000bb", "watermark", False),
    ("Absent", None, "00000000000000bb", "00000000000000bb", "watermark", None),
])
def test_identity_uses_the_manifest_record_only_when_it_is_trusted(state, manifest_id, watermark_id, asset,
                                                                  source, agree):
    from soundstage.services.verify_service import identify

    found = identify(_reading(state, manifest_id, watermark_id))
    assert (found["asset"], found["source"], found["agree"]) == (asset, source, agree)
