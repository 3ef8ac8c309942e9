"""`audit checkpoint` against a time-stamp authority that misbehaves at the HTTP level
(services/audit_anchor.py). The red team's finding: a TSA sending one byte every 2 s held the command
for minutes (httpx's timeout is per read), and the reply was read with no size limit. The exchange
now has one overall deadline and a size bound; either way nothing is written."""

from __future__ import annotations

import socket
import threading
import time
import tomllib

import pytest
import tomli_w

from soundstage.errors import BackendError
from soundstage.services import audit_anchor
from soundstage.services.audit_anchor import ask_tsa, write_checkpoint
from soundstage.services.ledger import audit_log
from soundstage.services.workspace import open_workspace
from soundstage.testing.tsa import running_tsa

DEADLINE = 1.0  # seconds: the tests lower the 30 s so they stay fast
REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\n"


class HostileTsa:
    """A loopback HTTP server that reads the request, then answers as `mode` says."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/tsr"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(2)
            try:
                conn.recv(65536)
                self._answer(conn)
            except OSError:  # the client gave up and closed: what the tests want
                pass
            self.stop.wait(10)

    def _answer(self, conn: socket.socket) -> None:
        if self.mode == "drip_body":  # headers at once, then a byte at a time, slower than any deadline
            conn.sendall(REPLY + b"Content-Length: 4000\r\n\r\n")
            self._drip(conn, b"0" * 4000)
        elif self.mode == "drip_headers":  # every byte of the status line and headers trickles in
            self._drip(conn, REPLY + b"X-Padding: " + b"a" * 4000 + b"\r\n\r\n")
        elif self.mode == "silent":
            self.stop.wait(10)
        elif self.mode == "declared_huge":
            conn.sendall(REPLY + b"Content-Length: 10000000\r\n\r\n" + b"0" * 1000)
        elif self.mode == "undeclared_huge":  # chunked, no length: only counting the bytes catches it
            conn.sendall(REPLY + b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"0" * 16384
            for _ in range(64):  # 1 MB
                conn.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            conn.sendall(b"0\r\n\r\n")

    def _drip(self, conn: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if self.stop.is_set():
                return
            conn.sendall(data[i:i + 1])
            time.sleep(0.2)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def hostile():
    servers: list[HostileTsa] = []

    def make(mode: str) -> HostileTsa:
        servers.append(HostileTsa(mode))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _with_tsa_url(ws, url: str):
    path = ws.settings.root / "soundstage.toml"
    cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    cfg["provenance"] = {"tsa_url": url}
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    return open_workspace(ws.settings.root)


@pytest.mark.parametrize("mode", ["drip_body", "drip_headers", "silent"])
def test_a_slow_tsa_is_given_up_on_at_the_deadline_and_nothing_is_written(sqlite_workspace, tmp_path, hostile,
                                                                            monkeypatch, mode):
    monkeypatch.setattr(audit_anchor, "TSA_DEADLINE_SECONDS", DEADLINE)
    server = hostile(mode)
    ws = _with_tsa_url(sqlite_workspace, server.url)
    before = audit_log(ws, action="audit.checkpointed")
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    took = time.monotonic() - started
    assert took < DEADLINE + 1.5, f"gave up after {took:.1f} s, the deadline is {DEADLINE} s"
    line = caught.value.one_line()
    assert "\n" not in line and server.url in line
    assert "did not send a complete answer within 1 s" in line and "no checkpoint was written" in line
    assert not (tmp_path / "cp.json").exists()
    assert audit_log(ws, action="audit.checkpointed") == before
    assert not list(tmp_path.glob("*cp.json*"))  # no temporary file left behind either


@pytest.mark.parametrize(("mode", "words"), [
    ("declared_huge", "offered a 10000000-byte answer, over the 65536-byte limit"),
    ("undeclared_huge", "sent more than the 65536-byte limit"),
])
def test_an_oversized_tsa_reply_is_refused_and_nothing_is_written(sqlite_workspace, tmp_path, hostile, mode, words):
    server = hostile(mode)
    ws = _with_tsa_url(sqlite_workspace, server.url)
    before = audit_log(ws, action="audit.checkpointed")
    with pytest.raises(BackendError) as caught:
        write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    line = caught.value.one_line()
    assert words in line and server.url in line and "\n" not in line
    assert not (tmp_path / "cp.json").exists() and audit_log(ws, action="audit.checkpointed") == before


def test_the_limits_are_parameters(hostile):
    server = hostile("drip_body")
    started = time.monotonic()
    with pytest.raises(BackendError, match=r"within 0\.5 s"):
        ask_tsa(server.url, b"\x30\x00", deadline=0.5)
    assert time.monotonic() - started < 2
    with pytest.raises(BackendError, match="over the 100-byte limit"):
        ask_tsa(hostile("drip_body").url, b"\x30\x00", max_bytes=100)


def test_a_working_tsa_still_stamps_within_the_deadline(sqlite_workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(audit_anchor, "TSA_DEADLINE_SECONDS", DEADLINE)
    with running_tsa() as server:
        ws = _with_tsa_url(sqlite_workspace, server.url)
        made = write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    assert made["timestamped"] and (tmp_path / "cp.json").is_file()


def _with_tsa(ws, server, *, anchor_of=None):
    """[provenance] naming `server` and trusting the CA of `anchor_of` (default: the server's own)."""
    anchor = (anchor_of or server.authority).write_ca(ws.settings.keys_dir / "tsa-ca.pem")
    path = ws.settings.root / "soundstage.toml"
    cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    cfg["provenance"] = {"tsa_url": server.url, "tsa_trust_anchor": str(anchor.relative_to(ws.settings.root))}
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
    return open_workspace(ws.settings.root)


@pytest.mark.parametrize(("fault", "words", "fix"), [
    ("nonce", "the time-stamp from {url} does not verify: the time-stamp's nonce is not the one asked for",
     "answers in its place"),
    ("imprint", "the time-stamp from {url} does not verify: the time-stamp is for other data", "answers in its place"),
    ("refuse", "the time-stamp authority {url} refused (rejection: clock not synchronised)", "TSA is up"),
    ("other_ca", "the time-stamp from {url} is not signed under [provenance] tsa_trust_anchor", "tsa_trust_anchor names"),
])
def test_a_bad_checkpoint_stamp_names_the_tsa_the_cause_and_the_fix(sqlite_workspace, tmp_path, fault, words, fix):
    """Against a real loopback TSA that misbehaves at the protocol level: each refusal of its answer is
    one line that begins with the TSA (its URL), says what was wrong with its answer, and carries the
    hint to fix it (a refusal used to read "http://…: the time-stamp authority refused …", and none
    had a hint); nothing is written."""
    from soundstage.testing.tsa import TimeStampAuthority

    with running_tsa() as server:
        ws = _with_tsa(sqlite_workspace, server, anchor_of=TimeStampAuthority() if fault == "other_ca" else None)
        if fault == "refuse":
            server.authority.refuse("clock not synchronised")
        elif fault != "other_ca":
            server.authority.misanswer(fault)
        before = audit_log(ws, action="audit.checkpointed")
        with pytest.raises(BackendError) as caught:
            write_checkpoint(ws, tmp_path / "cp.json", actor="legal")
    line = caught.value.one_line()
    assert line.startswith(words.format(url=server.url)) and "no checkpoint was written" in line
    assert caught.value.hint and fix in caught.value.hint and "\n" not in line
    assert not (tmp_path / "cp.json").exists() and audit_log(ws, action="audit.checkpointed") == before
