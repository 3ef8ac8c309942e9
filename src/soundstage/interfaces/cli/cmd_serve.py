"""serve / token: run the API and web app (and its queue workers), and issue or revoke the tokens
that open it."""

from __future__ import annotations

import gc
import ipaddress
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import typer

from soundstage.errors import InputError, PermissionDeniedError
from soundstage.interfaces.cli import common
from soundstage.interfaces.cli.cmd_queue import PARENT_ENV

WORKSPACE_FOR_WORKERS = "SOUNDSTAGE_SERVE_WORKSPACE"
MAX_UPLOAD_FOR_WORKERS = "SOUNDSTAGE_SERVE_MAX_UPLOAD"

token_app = typer.Typer(no_args_is_help=True, help="Access tokens for the API and the web app.")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(token_app, name="token", help="Create, list and revoke API / web access tokens.")


def serve(host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind (loopback by default)."),
          port: int = typer.Option(8000, "--port", min=0, max=65535),
          workers: int = typer.Option(1, "--workers", min=0, max=32,
                                      help="Queue workers started with the server (soundstage worker processes, "
                                           "one job at a time each); 0: none - jobs wait for workers started "
                                           "elsewhere."),
          http_workers: int = typer.Option(1, "--http-workers", min=1, max=32,
                                           help="HTTP server (uvicorn) processes."),
          max_upload_mb: int = typer.Option(200, "--max-upload-mb", min=1, max=100_000),
          stop_timeout: float = typer.Option(60.0, "--stop-timeout", min=0.0, max=3600.0,
                                             help="On shutdown, seconds the queue workers get to finish their "
                                                  "chunks and hand their jobs back before they are killed."),
          allow_remote: bool = typer.Option(False, "--allow-remote",
                                            help="Permit a non-loopback --host (put TLS in front of it).")) -> None:
    """Serve the REST API (OpenAPI at /docs) and the web review app for this workspace, with a queue
    worker that runs the submitted jobs (--workers). SIGTERM stops the server gracefully: the workers
    hand their jobs back to the queue and every process it started is reaped."""
    import uvicorn

    from soundstage.services.workspace import open_workspace

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not allow_remote:
        raise InputError(f"refusing to listen on {host}: tokens and session cookies would cross the network "
                         "in clear", hint="use a loopback address, or --allow-remote behind a TLS proxy")
    ws_dir = common.workspace_dir().resolve()
    open_workspace(ws_dir).close()  # fail now, with the workspace error, not inside a worker
    os.environ[WORKSPACE_FOR_WORKERS] = str(ws_dir)
    os.environ[MAX_UPLOAD_FOR_WORKERS] = str(max_upload_mb * 1024 * 1024)
    queue = JobWorkers(ws_dir, workers, stop_timeout)
    if http_workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        port = _free_port_or_refuse(host, port)
        listener = _reuseport_socket(host, port)  # holds the port until the workers have theirs
        common.err_console.print(f"soundstage serving {ws_dir} on http://{host}:{port} ({http_workers} HTTP "
                                 f"workers, {workers} queue worker(s))")
        with queue:
            code = _supervise(host, port, http_workers, listener)
        raise typer.Exit(code)
    port = _free_port_or_refuse(host, port)  # before any worker starts: a busy port is a one-line error
    common.err_console.print(f"soundstage serving {ws_dir} on http://{host}:{port} ({workers} queue worker(s))")
    # uvicorn handles SIGTERM/SIGINT while it serves and raises the signal again once it has stopped:
    # this handler then only notes it, so the queue workers are stopped and reaped below
    stopped = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with queue:
            uvicorn.run("soundstage.interfaces.cli.cmd_serve:app_from_environment", factory=True, host=host,
                        port=port, workers=http_workers, log_level="warning", access_log=False,
                        timeout_graceful_shutdown=10)
    finally:
        for sig, handler in stopped.items():
            signal.signal(sig, handler)


class JobWorkers:
    """The server's queue workers: ``soundstage worker`` processes started with it (each hands its job
    back and exits if the server is gone), restarted if one dies, and stopped with it - SIGTERM,
    ``stop_timeout`` seconds to finish the chunks being computed and hand the job back, then SIGKILL
    (the job's lease then lapses and the next worker resumes it). A context manager."""

    def __init__(self, ws_dir: Path, count: int, stop_timeout: float) -> None:
        self.ws_dir, self.count, self.stop_timeout = ws_dir, count, stop_timeout
        self.procs: list[subprocess.Popen] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen:
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
        # its own session: a Ctrl-C at the terminal reaches the server, which then stops it (one signal)
        return subprocess.Popen([sys.executable, "-m", "soundstage", "--workspace", str(self.ws_dir), "worker"],
                                env=env, stdin=subprocess.DEVNULL, start_new_session=True)

    def __enter__(self) -> "JobWorkers":
        with self._lock:
            self.procs = [self._start() for _ in range(self.count)]
        if self.count:
            threading.Thread(target=self._watch, name="queue-workers", daemon=True).start()
        return self

    def _watch(self) -> None:
        restarts: list[float] = []
        while not self._stopping.wait(1.0):
            with self._lock:
                for index, proc in enumerate(self.procs):
                    if proc.poll() is None or self._stopping.is_set():
                        continue
                    now = time.monotonic()
                    restarts = [t for t in restarts if now - t < 60] + [now]
                    if len(restarts) > 3 * self.count:
                        common.err_console.print("[red]error:[/] queue workers keep exiting; not restarting them")
                        return
                    common.err_console.print(f"queue worker {proc.pid} exited ({proc.returncode}); starting another")
                    self.procs[index] = self._start()

    def __exit__(self, *_exc) -> None:
        self._stopping.set()
        with self._lock:
            procs = list(self.procs)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # finish the chunks in flight, hand the job back, reap the pool
        deadline = time.monotonic() + self.stop_timeout
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()  # its pool processes follow it (they exit with their parent)
                proc.wait(10)


def app_from_environment():
    """uvicorn worker entry point: the settings the ``serve`` command resolved, passed by environment
    because worker processes are started by import string."""
    from soundstage.interfaces.api.app import create_app

    app = create_app(Path(os.environ[WORKSPACE_FOR_WORKERS]),
                     max_upload_bytes=int(os.environ.get(MAX_UPLOAD_FOR_WORKERS, 200 * 1024 * 1024)))
    gc.collect()
    gc.freeze()  # the app, routes and ORM mappings live for the whole process: keep them out of every GC pass
    return app


# ---------------------------------------------------------------- several workers, one port

def _free_port_or_refuse(host: str, port: int) -> int:
    """Bind without SO_REUSEPORT first: that fails if anything listens on the port, including
    another ``soundstage serve`` (whose reuse-port group would otherwise silently take a share of
    this server's connections for a different workspace). Resolves --port 0."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine, a listener is not
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                             hint="is another server running? choose another --port") from None
        return probe.getsockname()[1]


def _reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket in the port's SO_REUSEPORT group. Each worker listens on its own such socket,
    so the kernel spreads new connections across workers. (uvicorn's --workers shares one socket:
    whichever worker wakes first accepts a whole burst of connections, and under keep-alive one
    worker served every request of the benchmark while the other idled.) Only processes of the
    same user can join the group."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                         hint="choose another --port") from None
    return sock


def _worker_main(host: str, port: int) -> None:
    """One worker process: its own listening socket in the group, one uvicorn server. It exits when
    the supervisor is gone (killed with -9), instead of serving on as an orphan."""
    import uvicorn

    supervisor = os.getppid()

    def exit_with_supervisor() -> None:
        while os.getppid() == supervisor:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=exit_with_supervisor, name="exit-with-supervisor", daemon=True).start()
    sock = _reuseport_socket(host, port)
    sock.listen(2048)
    config = uvicorn.Config("soundstage.interfaces.cli.cmd_serve:app_from_environment", factory=True,
                            log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def _supervise(host: str, port: int, workers: int, listener: socket.socket) -> int:
    """Start the workers, restart one that dies (unless workers keep dying at start: then stop and
    say so), and on SIGTERM/SIGINT stop them all gracefully. Returns the exit code."""
    spawn = multiprocessing.get_context("spawn")
    stopping = False

    def request_stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def start() -> tuple:
        proc = spawn.Process(target=_worker_main, args=(host, port), name="soundstage-worker")
        proc.start()
        return proc, time.monotonic()

    procs = [start() for _ in range(workers)]
    listener.close()  # the workers' own sockets now hold the port
    early_deaths = 0
    code = 0
    try:
        while not stopping:
            time.sleep(0.2)
            for index, (proc, started) in enumerate(procs):
                if proc.is_alive() or stopping:
                    continue
                if time.monotonic() - started < 10:
                    early_deaths += 1
                if early_deaths > 2 * workers:
                    common.err_console.print("[red]error:[/] soundstage workers keep failing at start; stopping")
                    stopping, code = True, 1
                    break
                procs[index] = start()
    finally:
        for proc, _ in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: uvicorn finishes in-flight requests
        deadline = time.monotonic() + 15
        for proc, _ in procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def _issuer():
    """The key certifying a new credential: the running person's (None only for a credential from
    before signing keys, or single-user mode: then only a production without an identity root -
    one made before signed approvals - accepts it, and the credential becomes that root)."""
    try:
        return common.signer()
    except PermissionDeniedError:
        return None


def _hand_over(out: dict, target, json_out: bool) -> None:
    if target is not None:
        common.write_secret(target, out["token"] + "\n")
        out = {**out, "token": f"written to {target}"}
    if json_out:
        common.emit_json(out)
        return
    common.err_console.print(f"token {out['id']} for {out['person']} ({', '.join(out['roles'])}), "
                             f"expires {out['expires_at']}, key {out['key_id']}"
                             + (f"; written to {target} (owner-only)" if target is not None
                                else "; it will not be shown again:"))
    if target is None:
        print(out["token"])


@token_app.command("create")
def token_create(person: str = typer.Option(..., "--person", help="Crew member (name or id)."),
                 expires: str = typer.Option("30d", "--expires", help="Lifetime: 90m, 12h, 30d, 2w (max 366d)."),
                 label: str = typer.Option("", "--label"),
                 out: Path = typer.Option(None, "--out", help="Write the token to this new file (owner-only) "
                                                              "instead of printing it."),
                 json_out: bool = typer.Option(False, "--json")) -> None:
    """Issue a credential, certified with your key. It is printed once and stored only as a hash: hand
    it over now. Its holder should then run `soundstage token rotate`, so that nobody else (you)
    ever held the key their approvals are signed with."""
    from soundstage.services.auth_service import create_token, parse_duration

    with common.open_ws() as ws:
        made = create_token(ws, person, expires_in=parse_duration(expires), actor=common.actor(), label=label,
                            issuer=_issuer())
    _hand_over(made, out, json_out)


@token_app.command("rotate")
def token_rotate(expires: str = typer.Option("30d", "--expires", help="Lifetime of the new credential."),
                 out: Path = typer.Option(None, "--out", help="Write the new token to this new file (owner-only)."),
                 json_out: bool = typer.Option(False, "--json")) -> None:
    """Replace your own credential: a new one certified by your current key, and the current one
    revoked. Do it when you receive a credential someone else issued: from then on only you ever
    held the key your approvals and consents are signed with."""
    from soundstage.services.auth_service import parse_duration, rotate_token

    common.signer()  # refuses single-user mode and credentials without a key, with the reason
    with common.open_ws() as ws:
        made = rotate_token(ws, common.STATE.token, expires_in=parse_duration(expires))
    _hand_over(made, out, json_out)
    common.err_console.print(f"{made['replaces']} is revoked.")


@token_app.command("list")
def token_list(json_out: bool = typer.Option(False, "--json")) -> None:
    from soundstage.services.auth_service import list_tokens

    with common.open_ws() as ws:
        rows = list_tokens(ws)
    if json_out:
        common.emit_json(rows)
        return
    for r in rows:
        common.console.print(f"{r['id']}  {r['person']:<24} {r['status']:<8} expires {r['expires_at']}")


@token_app.command("revoke")
def token_revoke(token_id: str = typer.Argument(..., help="Token id (tk-...), from `token list`.")) -> None:
    from soundstage.services.auth_service import revoke_token

    with common.open_ws() as ws:
        out = revoke_token(ws, token_id, actor=common.actor())
    common.console.print(f"{out['id']} ({out['person']}): {out['status']}")
