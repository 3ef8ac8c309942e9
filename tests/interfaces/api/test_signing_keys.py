"""The API's queue worker signs only with the keys the audit log records, and /api/audit/verify
names a certificate in keys/ that is not one of them (red-team finding k1)."""

from __future__ import annotations

import shutil

from api_helpers import IDEATION, auth, run_queue

from soundstage.safeguards import keys


def test_a_worker_does_not_sign_with_another_cas_chain_and_verify_says_so(client, production, tmp_path):
    producer = auth(production, "producer")
    assert client.get("/api/audit/verify", headers=producer).json()["ok"] is True
    other = keys.create_production_ca(tmp_path / "other", "Somebody Else", None)
    job = client.post("/api/jobs", headers=auth(production, "vfx_supervisor"), json=IDEATION).json()
    for name in ("chain.pem", "signer.key"):
        shutil.copy(other.directory / name, production["ws"].settings.keys_dir / name)
    run_queue(production)
    shown = client.get(f"/api/jobs/{job['job']}", headers=producer).json()
    assert shown["status"] == "failed" and not client.get("/api/assets?kind=image", headers=producer).json()
    failed = client.get("/api/audit", params={"action": "job.failed"}, headers=producer).json()[-1]
    assert failed["subject"] == job["job"]
    assert "IntegrityError" in failed["payload"]["error"] and "CA the audit log does not record" in failed["payload"]["error"]
    report = client.get("/api/audit/verify", headers=producer).json()
    assert report["ok"] is False and report["chain_ok"] is True
    assert {d["field"] for d in report["state"]["differences"]} == {"ca_sha256", "leaf_sha256"}
    assert all(d["table"] == "keys" and d["row"].endswith("chain.pem") for d in report["state"]["differences"])
