"""A production whose content lives in object storage: soundstage.toml's [store] table points the
workspace at the real S3 server, and the guarded path, verify and the ledger's state proof all go
through it — nothing lands in the local assets folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from soundstage.testing import s3server
from tests.store.conftest import BUCKET

pytestmark = pytest.mark.slow


def sh(*args: str, env: dict) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SOUNDSTAGE_")}
    return subprocess.run([sys.executable, "-m", "soundstage", *args], env={**full, **env},
                          capture_output=True, text=True, timeout=300)


def stored_keys(server, prefix: str) -> list[str]:
    client = server.client()
    try:
        listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return [item["Key"] for item in listed.get("Contents", [])]
    finally:
        client.close()


def test_a_production_on_s3_runs_a_guarded_job_and_verifies(s3_server, tmp_path):
    ws = tmp_path / "prod"
    env = {"STUDIO_S3_KEY": s3_server.access_key, "STUDIO_S3_SECRET": s3_server.secret_key}
    r = sh("init", str(ws), "--title", "Object Storage", "--owner", "Priya Shah", env=env)
    assert r.returncode == 0, r.stderr
    env["SOUNDSTAGE_TOKEN"] = r.stdout.strip().splitlines()[-1]
    prefix = f"ws-{tmp_path.name}/"
    with open(ws / "soundstage.toml", "a", encoding="utf-8") as cfg:
        cfg.write(f'\n[store]\nbackend = "s3"\nendpoint = "{s3_server.endpoint}"\nbucket = "{BUCKET}"\n'
                  f'region = "{s3_server.region}"\nprefix = "{prefix}"\naccess_key_env = "STUDIO_S3_KEY"\n'
                  'secret_key_env = "STUDIO_S3_SECRET"\n')
    w = ["--workspace", str(ws)]

    job = tmp_path / "card.yaml"
    job.write_text("operation: ideation\nmodel_id: soundstage.procedural-card\nprompt: a rain-soaked alley\n"
                   "scene: '1'\n", encoding="utf-8")
    r = sh(*w, "job", "submit", str(job), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    keys = stored_keys(s3_server, prefix)
    assert keys, "the signed output should be in the bucket"
    local = [p for p in (ws / "assets").rglob("*") if p.is_file() and "tmp" not in p.parts] \
        if (ws / "assets").exists() else []
    assert local == [], f"content written to the local folder instead of S3: {local}"

    listing = json.loads(sh(*w, "asset", "list", "--json", env=env).stdout)
    asset = listing[-1]
    out = tmp_path / "delivered.png"
    r = sh(*w, "asset", "export", asset["id"], "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    r = sh(*w, "verify", str(out), "--json", env=env)
    assert r.returncode == 0, r.stderr
    verdict = json.loads(r.stdout)
    assert verdict["c2pa"]["state"] == "Trusted" and verdict["ledger"]["found"]

    r = sh(*w, "audit", "verify", "--deep", env=env)
    assert r.returncode == 0, r.stdout + r.stderr

    # an object replaced behind the store's back is found by the deep state proof
    key = f"{prefix}{asset['sha256'][:2]}/{asset['sha256'][2:]}"
    assert key in keys
    client = s3_server.client()
    try:
        client.put_object(Bucket=BUCKET, Key=key, Body=b"forged")
    finally:
        client.close()
    r = sh(*w, "audit", "verify", "--deep", env=env)
    assert r.returncode != 0 and "stored file" in (r.stdout + r.stderr)


def test_a_missing_credential_is_one_line(s3_server, tmp_path):
    ws = tmp_path / "prod"
    r = sh("init", str(ws), "--title", "Object Storage", "--owner", "Priya Shah", env={})
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip().splitlines()[-1]
    with open(ws / "soundstage.toml", "a", encoding="utf-8") as cfg:
        cfg.write(f'\n[store]\nbackend = "s3"\nendpoint = "{s3_server.endpoint}"\nbucket = "{BUCKET}"\n'
                  'access_key_env = "NOT_SET_ANYWHERE"\nsecret_key_env = "NOT_SET_EITHER"\n')
    r = sh("--workspace", str(ws), "info", env={"SOUNDSTAGE_TOKEN": token})
    assert r.returncode != 0 and r.stderr.count("\n") <= 2 and "NOT_SET_ANYWHERE" in r.stderr


assert s3server  # the fixture's module: CI fails rather than skips when the server cannot run
