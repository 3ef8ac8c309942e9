"""Heavy verify reads share the server fairly (interfaces/api/gate.py): at most N at once in a process
(a request waits, then 503 with Retry-After) and one per person (429); a slot is always given back,
and the rest of the server answers while every slot is taken."""

from __future__ import annotations

import asyncio
import gc
import re
import threading
import time

import pytest
from fastapi.testclient import TestClient

from api_helpers import auth
from soundstage.errors import BusyError, TooManyRequestsError
from soundstage.interfaces.api.app import create_app
from soundstage.interfaces.api.gate import WorkGate
from soundstage.interfaces.api.progress import progress_response
from soundstage.services import verify_service


def test_one_slot_a_person_and_a_bounded_number_in_all():
    async def run() -> None:
        gate = WorkGate(2, wait_seconds=0.2)
        ana = await gate.acquire("ana")
        with pytest.raises(TooManyRequestsError, match="already verifying"):
            await gate.acquire("ana")
        ken = await gate.acquire("ken")
        started = time.monotonic()
        with pytest.raises(BusyError, match="busy"):
            await gate.acquire("lena")
        assert time.monotonic() - started >= 0.2           # it waited for a slot first
        with pytest.raises(BusyError):
            with gate.try_slot("lena"):                     # a synchronous caller does not wait
                pass
        ana.release()
        ana.release()                                       # once only: a second call gives back nothing
        ken.release()
        for who in ("lena", "ana"):                         # every slot was given back
            (await gate.acquire(who)).release()

    asyncio.run(run())


def test_a_slot_is_given_back_when_the_work_fails():
    gate = WorkGate(1, wait_seconds=0.1)
    with pytest.raises(RuntimeError):
        with gate.try_slot("ana"):
            raise RuntimeError("the read failed")
    with gate.try_slot("ana"):
        pass


def test_a_waiting_request_gets_the_slot_as_soon_as_it_is_given_back_by_a_thread():
    async def run() -> None:
        gate = WorkGate(1, wait_seconds=5.0)
        first = await gate.acquire("ana")
        threading.Timer(0.3, first.release).start()         # the work ends in a worker thread
        started = time.monotonic()
        (await gate.acquire("ken")).release()
        assert 0.25 < time.monotonic() - started < 2.0

    asyncio.run(run())


def test_an_answer_dropped_before_its_work_started_gives_its_slot_back():
    """A progress answer whose client left before it began: its work never runs, and the slot goes
    back when the answer is dropped (a started work gives it back when it ends)."""
    async def run() -> None:
        gate = WorkGate(1, wait_seconds=0.1)
        slot = await gate.acquire("ana")
        response = progress_response(lambda progress: {}, lambda r: r, lambda e: {}, slot=slot)
        del response
        gc.collect()
        (await gate.acquire("ken")).release()

    asyncio.run(run())


def _blocking_verify(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """verify_file blocks until released (a long read), and says when it has started."""
    release, entered = threading.Event(), threading.Event()
    real = verify_service.verify_file

    def slow(path, ws=None, **kw):
        entered.set()
        release.wait(30)
        return real(path, ws, **kw)

    monkeypatch.setattr(verify_service, "verify_file", slow)
    return release, entered


def test_the_api_answers_429_and_503_while_reads_run_and_everything_else_still_answers(production, monkeypatch):
    """One slot: Priya's read holds it (a verify that blocks until released); her second read is
    429, Ken's waits and gets 503, both with Retry-After - as plain answers also when progress was
    asked for (refused before the answer begins); meanwhile other requests answer. Once her read
    ends, Ken's goes through."""
    release, entered = _blocking_verify(monkeypatch)
    app = create_app(production["ws"].settings.root, max_upload_bytes=2 * 1024 * 1024, auth_cache_seconds=0,
                     verify_slots=1, verify_wait_seconds=0.3)
    priya, ken = auth(production, "producer"), auth(production, "vfx_supervisor")
    still = {"file": ("still.png", _png())}
    with TestClient(app, base_url="http://127.0.0.1") as client:
        answers: list = []
        first = threading.Thread(target=lambda: answers.append(client.post("/api/verify", headers=priya, files=still)))
        first.start()
        assert entered.wait(10)
        again = client.post("/api/verify", headers=priya, files=still)
        assert again.status_code == 429 and again.headers["retry-after"] == "30"
        assert "already verifying" in again.json()["error"]["message"]
        busy = client.post("/api/verify", headers=ken, files=still)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "30"
        for who, status in ((ken, 503), (priya, 429)):
            streamed = client.post("/api/verify", headers={**who, "Accept": "application/x-ndjson"}, files=still)
            assert (streamed.status_code, streamed.headers["retry-after"]) == (status, "30")
        assert client.get("/api/me", headers=ken).status_code == 200    # the rest of the server answers
        release.set()
        first.join(20)
        assert answers[0].status_code == 200
        assert client.post("/api/verify", headers=ken, files=still).status_code == 200


def _png() -> bytes:
    import numpy as np

    from soundstage.media.images import encode_image

    return encode_image(np.full((64, 96, 3), 128, np.uint8), "png")


def _login(client, token: str) -> str:
    page = client.get("/login")
    pre = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    assert client.post("/login", data={"csrf_token": pre, "token": token}, follow_redirects=False).status_code == 303
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/").text).group(1)


@pytest.mark.parametrize(("who", "status"), [("producer", 429), ("legal", 503)])
def test_the_web_form_shares_the_gate_and_its_pages_carry_retry_after(production, monkeypatch, who, status):
    """Priya's API read holds the one slot: her web-form read is 429 (a session and a token of one
    person are one person), Tom's is 503; both pages carry Retry-After (red-team run: they did not)."""
    release, entered = _blocking_verify(monkeypatch)
    app = create_app(production["ws"].settings.root, auth_cache_seconds=0, verify_slots=1, verify_wait_seconds=0.3)
    with TestClient(app, base_url="http://127.0.0.1") as api, TestClient(app, base_url="http://127.0.0.1") as web:
        holder = threading.Thread(target=lambda: api.post("/api/verify", headers=auth(production, "producer"),
                                                          files={"file": ("a.png", _png())}))
        holder.start()
        try:
            assert entered.wait(10)
            csrf = _login(web, production["tokens"][who])
            page = web.post("/verify", data={"csrf_token": csrf}, files={"file": ("b.png", _png(), "image/png")},
                            headers={"Accept": "text/html"})
            assert (page.status_code, page.headers.get("retry-after")) == (status, "30")
        finally:
            release.set()
            holder.join(20)


def test_requests_waiting_for_a_slot_hold_no_worker_thread(production, monkeypatch):
    """41 people verify at once with one slot: the 40 who wait do so on the event loop, so a route
    that needs one of Starlette's 40 worker threads still answers at once (red-team run: 3 s, and
    until the waiters gave up)."""
    from soundstage.services import people_service
    from soundstage.testing.identity import token_for

    ws = production["ws"]
    tokens = [token_for(ws, people_service.add_crew(ws, f"Extra {i}", ["legal"], actor="setup")["name"])
              for i in range(41)]
    release, entered = _blocking_verify(monkeypatch)
    app = create_app(ws.settings.root, auth_cache_seconds=0, verify_slots=1, verify_wait_seconds=4.0)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        def post(token: str) -> None:
            client.post("/api/verify", headers={"Authorization": f"Bearer {token}"}, files={"file": ("a.png", _png())})

        threads = [threading.Thread(target=post, args=(tokens[0],))]
        threads[0].start()
        assert entered.wait(10)
        threads += [threading.Thread(target=post, args=(token,)) for token in tokens[1:]]
        for thread in threads[1:]:
            thread.start()
        time.sleep(1.0)
        try:
            started = time.monotonic()
            assert client.get("/api/people", headers=auth(production, "producer")).status_code == 200
            assert time.monotonic() - started < 1.0
        finally:
            release.set()
            for thread in threads:
                thread.join(30)


def test_an_assets_provenance_read_passes_the_gate(production, monkeypatch):
    """GET /api/assets/{id}/provenance reads the stored file's watermark as verify does: one at a time
    for a person (here 4 at once: one runs, the others are refused), never waiting (red-team run: all
    four ran at once on a one-slot gate)."""
    running, peak, lock, release = [0], [0], threading.Lock(), threading.Event()
    real = verify_service.verify_file

    def slow(path, ws=None, **kw):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(5)
        with lock:
            running[0] -= 1
        return real(path, ws, **kw)

    monkeypatch.setattr(verify_service, "verify_file", slow)
    app = create_app(production["ws"].settings.root, auth_cache_seconds=0, verify_slots=1, verify_wait_seconds=0.3)
    plate = production["plate"]["id"]
    with TestClient(app, base_url="http://127.0.0.1") as client:
        answers: list = []
        threads = [threading.Thread(target=lambda: answers.append(client.get(
            f"/api/assets/{plate}/provenance", headers=auth(production, "producer")).status_code)) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        release.set()
        for thread in threads:
            thread.join(20)
    assert peak[0] == 1 and sorted(answers) == [200, 429, 429, 429]
