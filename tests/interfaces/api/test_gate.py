"""Heavy verify reads share the server fairly (interfaces/api/gate.py): at most N at once in a process
(a request waits, then 503 with Retry-After) and one per person (429); a slot is always given back,
and the rest of the server answers while every slot is taken."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from api_helpers import auth
from soundstage.errors import BusyError, TooManyRequestsError
from soundstage.interfaces.api.app import create_app
from soundstage.interfaces.api.gate import WorkGate
from soundstage.services import verify_service


def test_one_slot_a_person_and_a_bounded_number_in_all():
    gate = WorkGate(2, wait_seconds=0.2)
    with gate.slot("ana"):
        with pytest.raises(TooManyRequestsError, match="already verifying"):
            with gate.slot("ana"):
                pass
        with gate.slot("ken"):
            started = time.monotonic()
            with pytest.raises(BusyError, match="busy"):
                with gate.slot("lena"):
                    pass
            assert time.monotonic() - started >= 0.2          # it waited for a slot first
    with gate.slot("lena"), gate.slot("ana"):                  # every slot was given back
        pass


def test_a_slot_is_given_back_when_the_work_fails():
    gate = WorkGate(1, wait_seconds=0.1)
    with pytest.raises(RuntimeError):
        with gate.slot("ana"):
            raise RuntimeError("the read failed")
    with gate.slot("ana"):
        pass


def test_a_waiting_request_gets_the_slot_as_soon_as_it_is_free():
    gate = WorkGate(1, wait_seconds=5.0)
    release, got = threading.Event(), []

    def first():
        with gate.slot("ana"):
            release.wait(5)

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(0.1)
    threading.Timer(0.3, release.set).start()
    with gate.slot("ken"):
        got.append(True)
    thread.join()
    assert got == [True]


def test_the_api_answers_429_and_503_while_reads_run_and_everything_else_still_answers(production, monkeypatch):
    """One slot: Priya's read holds it (a verify that blocks until released); her second read is
    429, Ken's waits and gets 503 (Retry-After), and both as progress answers end with the same
    error; meanwhile other requests answer. Once her read ends, Ken's goes through."""
    release, entered = threading.Event(), threading.Event()
    real = verify_service.verify_file

    def slow(path, ws=None, **kw):
        entered.set()
        release.wait(10)
        return real(path, ws, **kw)

    monkeypatch.setattr(verify_service, "verify_file", slow)
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
        streamed = client.post("/api/verify", headers={**ken, "Accept": "application/x-ndjson"}, files=still)
        assert streamed.json()["error"]["status"] == 503
        assert client.get("/api/me", headers=ken).status_code == 200    # the rest of the server answers
        release.set()
        first.join(20)
        assert answers[0].status_code == 200
        assert client.post("/api/verify", headers=ken, files=still).status_code == 200


def _png() -> bytes:
    import numpy as np

    from soundstage.media.images import encode_image

    return encode_image(np.full((64, 96, 3), 128, np.uint8), "png")
