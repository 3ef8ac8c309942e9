"""PUT /api/plates/{name}: a plate streamed into the store, hash-checked, through the same guarded
ingest as `asset add`; bounded (413), refused to those without assets.add (403), a forged hash
(409) or a non-video (400) stores nothing."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from api_helpers import auth

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "vfx"))
import vfx_helpers as h  # noqa: E402


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("clip") / "A007_C002.mp4"
    return h.make_clip(path, h.astronaut_frames(4, 256, 144)).read_bytes()


def _put(client, production, body, *, who="vfx_supervisor", name="A007_C002.mp4", sha=None, params=None):
    headers = {**auth(production, who), "X-Content-SHA256": sha or hashlib.sha256(
        body if isinstance(body, bytes) else b"").hexdigest()}
    return client.put(f"/api/plates/{name}", content=body, headers=headers, params=params or {})


def _assets(client, production) -> list[dict]:
    return client.get("/api/assets", headers=auth(production, "producer")).json()


def test_a_plate_streams_in_and_is_ingested_like_asset_add(client, production, clip):
    r = _put(client, production, clip, params={"scene": "7", "shot": "7B"})
    assert r.status_code == 201, r.text
    asset = r.json()
    assert asset["sha256"] == hashlib.sha256(clip).hexdigest() and asset["kind"] == "plate"
    assert asset["name"] == "A007_C002.mp4" and asset["media_type"] == "video/mp4" and asset["size"] == len(clip)
    assert asset["details"]["scene"] == "7" and asset["details"]["size"] == [256, 144]
    ws = production["ws"]
    assert ws.store.read_bytes(asset["sha256"]) == clip
    download = client.get(f"/api/assets/{asset['id']}/download", headers=auth(production, "producer"))
    assert download.status_code == 200 and download.content == clip
    # a client's path in the name is only a label
    r = _put(client, production, clip, name="..%2F..%2Fetc%2Fpasswd.mp4")
    assert r.status_code in (201, 404), r.text
    if r.status_code == 201:
        assert "/" not in r.json()["name"]


def test_a_body_that_is_not_what_the_client_hashed_is_not_stored(client, production, clip):
    before = len(_assets(client, production))
    r = _put(client, production, clip, sha=hashlib.sha256(clip + b"x").hexdigest())
    assert r.status_code == 409 and "nothing was stored" in r.json()["error"]["message"]
    r = _put(client, production, clip, sha="not-a-hash")
    assert r.status_code == 400
    garbage = b"\x00not a video" * 100
    r = _put(client, production, garbage, sha=hashlib.sha256(garbage).hexdigest())
    assert r.status_code == 400, r.text
    r = _put(client, production, clip, name="notes.txt")
    assert r.status_code == 400 and "not a plate file" in r.json()["error"]["message"]
    assert len(_assets(client, production)) == before


def test_over_the_limit_is_413_streamed_or_declared_and_nothing_is_kept(client, production, clip):
    before = len(_assets(client, production))
    big = clip + b"\x00" * (2 * 1024 * 1024)  # the server's limit in this fixture: 2 MiB
    r = _put(client, production, big, sha=hashlib.sha256(big).hexdigest())
    assert r.status_code == 413

    def chunked():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"\x00" * 65536

    r = client.put("/api/plates/long.mp4", content=chunked(),
                   headers={**auth(production, "vfx_supervisor"), "X-Content-SHA256": "0" * 64})
    assert r.status_code == 413
    assert len(_assets(client, production)) == before


def test_the_production_can_lower_the_plate_limit(production, clip):
    from fastapi.testclient import TestClient

    from soundstage.interfaces.api.app import create_app

    root = production["ws"].settings.root
    with open(root / "soundstage.toml", "a", encoding="utf-8") as cfg:
        cfg.write("\n[api]\nmax_plate_mib = 1\n")
    app = create_app(root, max_upload_bytes=2 * 1024 * 1024, auth_cache_seconds=0, web=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        body = clip + b"\x00" * (1024 * 1024)  # under the server's 2 MiB, over the production's 1 MiB
        r = _put(client, production, body, sha=hashlib.sha256(body).hexdigest())
        assert r.status_code == 413 and "1 MB limit" in r.json()["error"]["message"]
        assert _put(client, production, clip).status_code == 201


def test_only_people_who_may_add_assets_upload(client, production, clip):
    before = len(_assets(client, production))
    r = _put(client, production, clip, who="performer_rep")
    assert r.status_code == 403
    r = _put(client, production, clip, who="legal")
    assert r.status_code == 403
    r = client.put("/api/plates/A.mp4", content=clip, headers={"X-Content-SHA256": hashlib.sha256(clip).hexdigest()})
    assert r.status_code == 401
    assert len(_assets(client, production)) == before


def test_an_audio_plate_uploads_probed_and_forged_audio_stores_nothing(client, production, tmp_path):
    """A production track (WAV) or temp music (M4A, kind audio) goes through the same ingest as
    `asset add`: decoded whole first, so a file named .wav that is not audio is refused (400)."""
    import numpy as np

    from soundstage.media.audio import encode_audio

    tone = (0.1 * np.sin(2 * np.pi * 220 * np.arange(24000) / 48000)).astype(np.float32)[:, None]
    wav = encode_audio(np.repeat(tone, 2, axis=1), 48000, ".wav")
    r = _put(client, production, wav, name="sc12_boom.wav", params={"scene": "12"})
    assert r.status_code == 201, r.text
    asset = r.json()
    assert asset["kind"] == "plate" and asset["media_type"] == "audio/wav"
    assert asset["details"]["sample_rate"] == 48000 and asset["details"]["channels"] == 2
    assert asset["details"]["seconds"] == pytest.approx(0.5)
    m4a = encode_audio(tone, 48000, ".m4a")
    r = _put(client, production, m4a, name="temp_music.m4a", params={"kind": "audio"})
    assert r.status_code == 201 and r.json()["media_type"] == "audio/mp4" and r.json()["kind"] == "audio"
    before = len(_assets(client, production))
    forged = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(200)
    r = _put(client, production, forged, name="forged.wav")
    assert r.status_code == 400, r.text
    r = _put(client, production, wav, name="track.ogg")
    assert r.status_code == 400 and "not a plate file" in r.json()["error"]["message"]
    r = _put(client, production, wav, name="sc12.wav", params={"kind": "voice_reference"})  # never by upload
    assert r.status_code in (400, 422)
    assert len(_assets(client, production)) == before


def test_a_plate_named_in_another_script_keeps_its_name_and_downloads_under_it(client, production, clip):
    from urllib.parse import quote

    r = _put(client, production, clip, name=quote("Überstunden 撮影.mp4"))
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Überstunden 撮影.mp4"
    download = client.get(f"/api/assets/{r.json()['id']}/download", headers=auth(production, "producer"))
    assert download.status_code == 200 and download.content == clip
    disposition = download.headers["content-disposition"]
    assert 'filename="Uberstunden download.mp4"' not in disposition and "filename*=UTF-8''" in disposition
    assert quote("Überstunden 撮影.mp4", safe="") in disposition
