"""POST /api/verify with sidecars (issue 13 item 2): a file and its sidecar, a sidecar alone, a
sequence's frames and their sidecar; every size bounded; errors one line, no server paths.
GET /api/assets/{id}/provenance of a file output reads it with its stored sidecar."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from api_helpers import auth
from soundstage.safeguards import keys
from soundstage.safeguards.provenance import (
    ManifestSpec, Operation, SoftwareAgent, SoundstageRecord, sign_sequence, sign_sidecar,
)


def _spec(production) -> ManifestSpec:
    ws = production["ws"]
    return ManifestSpec(Operation.PROCEDURAL, "depth.png", SoftwareAgent("blender", "5.0.1"),
                        record=SoundstageRecord(ws.production_id, "job-x", "00000000000000e1", ()))


def _signed_depth(production, tmp_path: Path, name: str = "depth.png", seed: int = 1) -> tuple[bytes, bytes]:
    path = tmp_path / name
    Image.fromarray(np.random.default_rng(seed).integers(0, 65535, (16, 24), dtype=np.uint16)).save(path)
    signer = keys.load_production_signer(production["ws"].settings.keys_dir)
    sidecar = sign_sidecar(path, tmp_path / (name + ".c2pa"), _spec(production), signer).path
    return path.read_bytes(), sidecar.read_bytes()


def _signed_sequence(production, tmp_path: Path, names: list[str], sidecar: str) -> tuple[list[Path], bytes]:
    """Frames named ``names`` (EXR-looking bytes) and the sequence sidecar the production signed for them."""
    frames = []
    for index, name in enumerate(names):
        frame = tmp_path / name
        frame.write_bytes(b"\x76\x2f\x31\x01" + bytes([index]) * 100)
        frames.append(frame)
    signer = keys.load_production_signer(production["ws"].settings.keys_dir)
    return frames, sign_sequence(frames, tmp_path / sidecar, _spec(production), signer).path.read_bytes()


def _sequence_parts(frames: list[Path], sidecar_name: str, sidecar: bytes) -> list:
    return [("frames", (f.name, f.read_bytes())) for f in frames] + [("sidecar", (sidecar_name, sidecar))]


def _error(response, status: int) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]["message"]
    assert "\n" not in message and "Traceback" not in message and "soundstage-upload-" not in message
    return message


def test_a_file_with_its_sidecar_part(client, production, tmp_path):
    depth, sidecar = _signed_depth(production, tmp_path)
    headers = auth(production, "producer")
    response = client.post("/api/verify", headers=headers,
                           files={"file": ("depth.png", depth), "sidecar": ("depth.png.c2pa", sidecar)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["c2pa"]["state"] == "Trusted" and body["file"] == "depth.png" and body["sidecar"] == "depth.png.c2pa"
    assert set(body) >= {"verdict", "c2pa", "watermark", "ledger", "identity"}

    other, _ = _signed_depth(production, tmp_path, "other.png", seed=2)
    swapped = client.post("/api/verify", headers=headers,
                          files={"file": ("other.png", other), "sidecar": ("depth.png.c2pa", sidecar)}).json()
    assert swapped["c2pa"]["state"] == "Invalid" and "assertion.dataHash.mismatch" in swapped["c2pa"]["failure_codes"]

    # the file alone, as before: no credentials (the sidecar was not sent), same shape
    plain = client.post("/api/verify", headers=headers, files={"file": ("depth.png", depth)}).json()
    assert plain["c2pa"]["state"] == "Absent" and plain["sidecar"] is None


def test_a_sidecar_alone(client, production, tmp_path):
    depth, sidecar = _signed_depth(production, tmp_path)
    headers = auth(production, "producer")
    for files in ({"sidecar": ("depth.png.c2pa", sidecar)}, {"file": ("depth.png.c2pa", sidecar)}):
        body = client.post("/api/verify", headers=headers, files=files).json()
        assert body["c2pa"]["state"] == "Trusted" and body["binding"]["checked"] is False, body
        assert body["sidecar"] == "depth.png.c2pa" and "not checked" in body["verdict"]
    import hashlib

    assert body["binding"]["sha256"] == hashlib.sha256(depth).hexdigest()


def test_frames_with_their_sidecar(client, production, tmp_path):
    frames, sidecar = _signed_sequence(production, tmp_path, [f"plate.{i:04d}.exr" for i in (1, 2, 3)], "plate.c2pa")
    headers = auth(production, "producer")
    body = client.post("/api/verify", headers=headers, files=_sequence_parts(frames, "plate.c2pa", sidecar)).json()
    assert body["c2pa"]["state"] == "Trusted" and body["sequence"]["frames_found"] == 3, body
    assert body["sidecar"] == "plate.c2pa" and body["file"] == "3 uploaded frames"

    parts = [("frames", (frames[0].name, frames[0].read_bytes())), ("frames", (frames[1].name, b"replaced")),
             ("sidecar", ("plate.c2pa", sidecar))]
    body = client.post("/api/verify", headers=headers, files=parts).json()
    assert body["sequence"]["changed"] == ["plate.0002.exr"] and body["sequence"]["missing"] == ["plate.0003.exr"]
    assert body["c2pa"]["state"] == "Invalid"


def test_frames_with_every_part_of_a_sequence_signed_in_parts(client, production, tmp_path):
    from soundstage.interfaces.api.routes import MAX_VERIFY_SIDECARS

    frames = []
    for index in range(5):
        frame = tmp_path / f"plate.{index + 1:04d}.exr"
        frame.write_bytes(b"\x76\x2f\x31\x01" + bytes([index]) * 100)
        frames.append(frame)
    signer = keys.load_production_signer(production["ws"].settings.keys_dir)
    parts = [p.path for p in sign_sequence(frames, tmp_path / "plate.c2pa", _spec(production), signer,
                                           part_frames=2).parts]
    headers = auth(production, "producer")
    sent = [("frames", (f.name, f.read_bytes())) for f in frames]
    sidecars = [("sidecar", (p.name, p.read_bytes())) for p in reversed(parts)]  # any order: each says which it is
    body = client.post("/api/verify", headers=headers, files=sent + sidecars).json()
    assert body["c2pa"]["state"] == "Trusted" and body["sequence"]["parts_expected"] == 3, body
    assert body["sequence"]["parts_missing"] == [] and body["sequence"]["frames_signed"] == 5
    assert sorted(body["sidecars"]) == [p.name for p in parts] and "soundstage-upload-" not in str(body)

    body = client.post("/api/verify", headers=headers, files=sent + sidecars[:2]).json()  # part 1 not sent
    assert body["sequence"]["parts_missing"] == [1] and body["sequence"]["unexpected"] == ["plate.0001.exr",
                                                                                          "plate.0002.exr"]
    assert "part 1 of 3 MISSING" in body["verdict"]
    altered = [("frames", (frames[2].name, b"\x76\x2f\x31\x01 painted"))] + sent[:2] + sent[3:]
    body = client.post("/api/verify", headers=headers, files=altered + sidecars).json()
    assert body["sequence"]["changed"] == ["plate.0003.exr"] and body["c2pa"]["state"] == "Invalid"
    assert [p["state"] for p in body["sequence"]["parts"]] == ["Trusted", "Invalid", "Trusted"]

    too_many = sent + [("sidecar", (f"s{i}.c2pa", b"x")) for i in range(MAX_VERIFY_SIDECARS + 1)]
    assert "part limit" in _error(client.post("/api/verify", headers=headers, files=too_many), 413)


def test_bad_requests_are_refused_in_one_line(client, production, tmp_path):
    from soundstage.interfaces.api.routes import MAX_VERIFY_FRAMES

    headers = auth(production, "producer")
    depth, sidecar = _signed_depth(production, tmp_path)
    assert "nothing to verify" in _error(client.post("/api/verify", headers=headers, data={"x": "1"}), 400)
    assert "frames are verified against their sidecar" in _error(
        client.post("/api/verify", headers=headers, files=[("frames", ("a.exr", b"x"))]), 400)
    assert "same file name" in _error(client.post("/api/verify", headers=headers, files=[
        ("frames", ("a.exr", b"x")), ("frames", ("a.exr", b"y")), ("sidecar", ("s.c2pa", sidecar))]), 400)
    too_many = [("frames", (f"f{i}.exr", b"x")) for i in range(MAX_VERIFY_FRAMES + 1)] + [("sidecar", ("s.c2pa", b"x"))]
    assert "frame limit" in _error(client.post("/api/verify", headers=headers, files=too_many), 413)
    # a file with damaged credentials is a finding about the file, not a bad request: Invalid, and read on
    garbage = client.post("/api/verify", headers=headers,
                          files={"file": ("depth.png", depth), "sidecar": ("depth.png.c2pa", b"garbage!")})
    assert garbage.status_code == 200 and garbage.json()["c2pa"]["state"] == "Invalid"
    assert garbage.json()["c2pa"]["failure_codes"] == ["general.error"] and "depth.png.c2pa" in garbage.json()["verdict"]
    assert "soundstage-upload-" not in garbage.text
    for part in ("file", "sidecar"):   # one part read and its twin dropped without a word: refused
        twice = [(part, ("a.png", depth)), (part, ("b.png", b"zz"))] + ([("file", ("depth.png", depth))]
                                                                      if part == "sidecar" else [])
        assert f"send one '{part}' part, not 2" in _error(client.post("/api/verify", headers=headers, files=twice), 400)
    truncated = _error(client.post("/api/verify", headers=headers,
                                   files={"sidecar": ("cut.c2pa", sidecar[: len(sidecar) // 2])}), 400)
    assert "cut.c2pa" in truncated


def test_an_oversized_sidecar_is_413(client, production, tmp_path, monkeypatch):
    """The sidecar part is bounded by the upload limit (2 MB here) and by SIDECAR_MAX_BYTES."""
    from soundstage.services import verify_service

    depth, sidecar = _signed_depth(production, tmp_path)
    headers = auth(production, "producer")
    monkeypatch.setattr(verify_service, "SIDECAR_MAX_BYTES", len(sidecar) - 1)
    _error(client.post("/api/verify", headers=headers,
                       files={"file": ("depth.png", depth), "sidecar": ("depth.png.c2pa", sidecar)}), 413)
    monkeypatch.undo()
    _error(client.post("/api/verify", headers=headers,
                       files={"file": ("depth.png", depth), "sidecar": ("big.c2pa", b"\x00" * (3 * 1024 * 1024))}), 413)


def test_provenance_of_a_file_output_reads_its_stored_sidecar(client, production, file_outputs_job):
    result = file_outputs_job(production["ws"])
    for asset in result["assets"]:
        body = client.get(f"/api/assets/{asset['id']}/provenance", headers=auth(production, "producer")).json()
        assert body["c2pa"]["state"] == "Trusted", body
        assert body["sidecar"] == asset["name"] + ".c2pa" and body["ledger"]["asset"] == asset["id"]


def test_names_in_any_script_are_kept_so_a_sequence_still_binds(client, production, tmp_path):
    """A sequence's frame names are part of what its credentials bind: names in Japanese or German
    must reach the reader as they were signed (they were cut to their ASCII letters: `撮影.0001.exr`
    became `0001.exr`, every frame read as missing)."""
    names = [f"{stem} A.{i + 1:04d}.exr" for i, stem in enumerate(("撮影", "Überstunden", "फ़िल्म"))]
    frames, sidecar = _signed_sequence(production, tmp_path, names, "撮影.c2pa")
    headers = auth(production, "producer")
    body = client.post("/api/verify", headers=headers, files=_sequence_parts(frames, "撮影.c2pa", sidecar)).json()
    assert body["c2pa"]["state"] == "Trusted" and body["sequence"]["frames_found"] == 3, body
    assert body["sidecar"] == "撮影.c2pa"

    depth, side = _signed_depth(production, tmp_path, "撮影.png")
    body = client.post("/api/verify", headers=headers,
                       files={"file": ("撮影.png", depth), "sidecar": ("撮影.png.c2pa", side)}).json()
    assert body["file"] == "撮影.png" and body["sidecar"] == "撮影.png.c2pa" and body["c2pa"]["state"] == "Trusted"


def _ndjson(response) -> list[dict]:
    import json

    return [json.loads(line) for line in response.text.splitlines() if line]


@pytest.mark.slow
def test_verify_follows_a_long_clip_when_asked_for_progress(client, production, tmp_path):
    """``Accept: application/x-ndjson``: progress lines while the clip is read past its head, then the
    result, the same JSON the plain request answers."""
    from soundstage.testing.sample_media import write_spliced_clip

    clip = write_spliced_clip(tmp_path / "film.mp4", 0x5EC0DE0F1A7E).read_bytes()
    headers = auth(production, "producer")
    plain = client.post("/api/verify", headers=headers, files={"file": ("film.mp4", clip)})
    streamed = client.post("/api/verify", headers={**headers, "Accept": "application/x-ndjson"},
                           files={"file": ("film.mp4", clip)})
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("application/x-ndjson")
    lines = _ndjson(streamed)
    assert [line["progress"] for line in lines[:-1]] == [[1, 5], [2, 5], [3, 5]]   # the 4th span found it
    assert lines[-1] == {"result": plain.json()}
    assert plain.json()["watermark"]["window"] == [6.0, 8.0]


def test_the_progress_answer_ends_with_the_error_shape_and_refusals_come_first(client, production):
    headers = {**auth(production, "producer"), "Accept": "application/x-ndjson"}
    empty = client.post("/api/verify", headers=headers, files={"file": ("take.mp4", b"")})
    assert empty.status_code == 200
    assert _ndjson(empty) == [{"error": {"type": "InputError", "message": "the uploaded file is empty",
                                         "rule_ids": [], "status": 400}}]
    # a request without a token, and a body over the limit, are refused before any line
    denied = client.post("/api/verify", headers={"Accept": "application/x-ndjson"}, files={"file": ("take.mp4", b"x")})
    assert denied.status_code == 401 and denied.json()["error"]["status"] == 401
    big = client.post("/api/verify", headers=headers, files={"file": ("big.png", b"x" * (3 * 1024 * 1024))})
    assert big.status_code == 413 and big.json()["error"]["status"] == 413


@pytest.mark.parametrize("stem", [unicodedata.normalize("NFD", "Überstunden A"), "撮影" * 35, "撮影" * 40, "x" * 236],
                         ids=["decomposed", "210-bytes", "249-bytes", "245-bytes-ascii"])
def test_a_sequence_keeps_its_signed_names_decomposed_or_long(client, production, tmp_path, stem):
    """A Mac names files decomposed (NFD), and the signer binds the names so; a name of up to 255
    bytes is legal everywhere. All still bind: an upload is saved under its whole name (red-team
    runs: the NFD names were composed and read INVALID; names over 200, then over 240 bytes were cut
    and no longer matched)."""
    frames, sidecar = _signed_sequence(production, tmp_path, [f"{stem}.{i:04d}.exr" for i in (1, 2, 3)], "seq.c2pa")
    response = client.post("/api/verify", headers=auth(production, "producer"),
                           files=_sequence_parts(frames, "seq.c2pa", sidecar))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["c2pa"]["state"] == "Trusted" and body["sequence"]["frames_found"] == 3, body


def test_an_unexpected_error_ends_the_progress_answer_as_the_plain_request_does(production, monkeypatch):
    """The plain request answers 500 InternalError; the progress answer (its 200 already sent) ends
    with the same error as its last line, not cut short (red-team run: the stream ended empty)."""
    import errno

    from fastapi.testclient import TestClient

    from soundstage.interfaces.api.app import create_app
    from soundstage.services import verify_service

    def disk_full(path, ws=None, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(verify_service, "verify_file", disk_full)
    app = create_app(production["ws"].settings.root, max_upload_bytes=2 * 1024 * 1024, auth_cache_seconds=0)
    headers = auth(production, "producer")
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        plain = client.post("/api/verify", headers=headers, files={"file": ("take.png", b"x" * 10)})
        streamed = client.post("/api/verify", headers={**headers, "Accept": "application/x-ndjson"},
                               files={"file": ("take.png", b"x" * 10)})
    assert plain.status_code == 500
    assert _ndjson(streamed) == [plain.json()] == [{"error": {
        "type": "InternalError", "message": "internal error: OSError", "rule_ids": [], "status": 500}}]
