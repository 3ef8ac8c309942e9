"""Leases on running jobs (SQLite and PostgreSQL): terms, the renewal's compare-and-set, the
heartbeat noticing a lost claim, and which leases count as lapsed."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from soundstage.domain.safeguards import job_spec_from_request
from soundstage.errors import SpecError
from soundstage.safeguards import guard
from soundstage.clock import utcnow
from soundstage.safeguards.lease import LeaseKeeper, LeaseTerms, lapsed, lease_terms, renew
from soundstage.services import jobs_service, people_service
from soundstage.store.models import Job


def queued_card(ws, prompt: str = "rain on the set") -> str:
    spec = job_spec_from_request({"operation": "ideation", "model_id": "soundstage.procedural-card", "prompt": prompt},
                                 production_id=ws.production_id, requested_by="Priya Shah")
    result = jobs_service.submit_job(ws, spec, actor="Priya Shah", wait=False)
    assert result["status"] == "queued"
    return result["job"]


@pytest.fixture
def ws(workspace):
    people_service.add_crew(workspace, "Priya Shah", ["producer"], actor="setup")
    return workspace


def claimed(ws, owner: str, seconds: float = 30.0) -> str:
    job_id = queued_card(ws)
    outcome, cleared = guard.claim(ws, guard.Claim(owner, LeaseTerms(seconds, min(5.0, seconds / 2))), job_id=job_id)
    assert outcome is None and cleared is not None and cleared.job_id == job_id
    return job_id


def test_terms_come_from_the_production_and_are_checked():
    assert lease_terms({}) == LeaseTerms(30.0, 5.0)
    assert lease_terms({"queue": {"lease_seconds": 6}}) == LeaseTerms(6.0, 1.0)
    assert lease_terms({"queue": {"lease_seconds": 60, "heartbeat_seconds": 10}}, seconds=4, heartbeat=1) == \
        LeaseTerms(4.0, 1.0)
    with pytest.raises(SpecError, match="at least twice per lease"):
        LeaseTerms(10, 6)
    with pytest.raises(SpecError, match="lease_seconds"):
        lease_terms({"queue": {"lease_seconds": "soon"}})


def test_only_the_holder_renews_and_only_while_running(ws):
    job_id = claimed(ws, "worker:a:1:aaaa")
    until = utcnow() + timedelta(seconds=30)
    with ws.db.transaction() as s:
        assert not renew(s, job_id, "worker:b:2:bbbb", until)  # not the holder
        assert renew(s, job_id, "worker:a:1:aaaa", until, {"frames_done": 1, "frames_total": 2})
    assert jobs_service.show_job(ws, job_id)["progress"] == {"frames_done": 1, "frames_total": 2}
    jobs_service.cancel_job(ws, job_id, actor="Priya Shah")
    with ws.db.transaction() as s:
        assert not renew(s, job_id, "worker:a:1:aaaa", until)  # cancelled: the claim is gone


def test_the_heartbeat_notices_a_cancel_and_reports_progress(ws):
    job_id = claimed(ws, "worker:a:1:cccc")
    with LeaseKeeper(ws.db.transaction, job_id, "worker:a:1:cccc", LeaseTerms(2.0, 0.1)) as keeper:
        keeper.report(3, 10)
        time.sleep(0.8)
        assert keeper.lost is None
        view = jobs_service.show_job(ws, job_id)
        assert view["progress"]["frames_done"] == 3 and view["lease"]["owner"] == "worker:a:1:cccc"
        jobs_service.cancel_job(ws, job_id, actor="Priya Shah")
        deadline = time.monotonic() + 5
        while keeper.lost is None and time.monotonic() < deadline:
            time.sleep(0.05)
    assert keeper.lost == "the job is cancelled" and keeper.should_stop()


def test_lapsed_is_a_lease_past_its_time_or_none_at_all(ws):
    live = claimed(ws, "worker:a:1:dddd", seconds=30)
    short = claimed(ws, "worker:a:1:eeee", seconds=0.5)
    bare = claimed(ws, "worker:a:1:ffff")
    with ws.db.transaction() as s:
        s.get(Job, bare).lease_expires_at = None  # a job left running by a soundstage without leases
    time.sleep(0.7)
    with ws.db.transaction() as s:
        found = {j.id for j in lapsed(s, ws.production_id, utcnow())}
    assert found == {short, bare}
    handed = guard.requeue_lapsed(ws, actor="worker:test")
    assert set(handed) == {short, bare}
    assert jobs_service.show_job(ws, live)["status"] == "running"
    for job_id in handed:
        view = jobs_service.show_job(ws, job_id)
        assert view["status"] == "queued" and view["lease"] is None
    with ws.db.transaction() as s:  # the old holder's renewal now fails: it cannot come back
        assert not renew(s, short, "worker:a:1:eeee", utcnow() + timedelta(seconds=30))
