"""Who may run which command: the CLI acts as an authenticated person and asks the same permission
matrix as the API (``soundstage.domain.permissions``).

``COMMANDS`` maps every command to the matrix action it needs; it is the one place the CLI grants
anything, and a test holds every registered command to it. ``guard_commands`` wraps every command
so that, before its body runs, the workspace is opened, the credential (``SOUNDSTAGE_TOKEN`` or
``--token-file``) is resolved to a person by ``auth_service.authenticate`` - the API's own code -
and ``check_allowed`` is asked. A command missing from the table refuses to run.

Identity is never a name typed on a command line: the old ``--as`` and ``SOUNDSTAGE_USER`` are
gone. ``SOUNDSTAGE_SINGLE_USER=1`` (without a credential) is a laptop mode that says so in every
event it writes (``single-user:<login>``), signs nothing and never requests a final deliverable.
"""

from __future__ import annotations

import functools
import getpass
import os
from contextlib import contextmanager
from typing import Iterator

import typer

from soundstage.domain.permissions import PERMISSIONS, check_allowed, check_performer_scope, is_scoped_rep
from soundstage.errors import InputError
from soundstage.interfaces.cli import common
from soundstage.settings import CONFIG_NAME

#: the command needs no credential: it creates a production, serves one (every request is then
#: authenticated on its own), or reads a file without touching a ledger
NO_CREDENTIAL = None
#: any authenticated person, whatever their role (their own credential: ``token rotate``)
AUTHENTICATED = "authenticated"

COMMANDS: dict[str, str | None] = {
    "init": NO_CREDENTIAL,
    "info": "production.read",
    "verify": "verify.file",                 # outside a workspace: a file check, no credential
    "serve": NO_CREDENTIAL,
    "script import": "script.import",
    "script breakdown": "script.read",
    "script edit": "script.edit",
    "script assist": "script.assist",
    "script edits": "script.read",
    "script drafts": "script.read",
    "script report": "script.read",
    "script export": "script.read",
    "audit log": "audit.read",
    "audit verify": "audit.read",
    "audit head": "audit.read",
    "audit checkpoint": "audit.read",  # signs the (verified) head with the production key: states no more than it reads
    "asset list": "assets.read",
    "asset show": "assets.read",
    "asset add": "assets.add",
    "asset export": "assets.read",
    "talent add": "performers.add",
    "talent show": "people.read",
    "talent represent": "performers.add",
    "talent list": "people.read",
    "talent enroll": "performers.enroll",
    "crew add": "crew.add",
    "crew list": "people.read",
    "consent grant": "consents.grant",
    "consent show": "consents.read",
    "consent list": "consents.read",
    "consent revoke": "consents.revoke",
    "consent suspend": "consents.suspend",
    "consent resume": "consents.suspend",
    "model add": "models.add",
    "model list": "models.read",
    "policy check": "policy.check",
    "job submit": "jobs.submit",
    "job approve": "jobs.decide",
    "job preview": "jobs.decide",  # renders a guarded preview for the approver (as the API's POST /preview)
    "job reject": "jobs.decide",
    "job override": "jobs.override",
    "job show": "jobs.read",
    "job list": "jobs.read",
    "job resume": "jobs.submit",
    "job retry": "jobs.submit",
    "job cancel": "jobs.cancel",
    "worker": NO_CREDENTIAL,     # a server-side process, like serve: it runs what the guard clears
    "gc": "jobs.cancel",         # removing a failed job's chunks means its resume starts over
    "keys init": "keys.manage",
    "keys watermark": "keys.manage",
    "keys import": "keys.manage",
    "keys renew": "keys.manage",
    "disclosure report": "disclosure.read",
    "previz shots": "previz.read",
    "previz shots build": "previz.plan",
    "previz shots export": "previz.read",
    "previz shots import": "previz.plan",
    "previz board": "jobs.submit",
    "previz lookbook": "jobs.submit",
    "vfx deage": "jobs.submit",
    "vfx cosmetic": "jobs.submit",
    "vfx background": "jobs.submit",
    "vfx cleanup": "jobs.submit",
    "vfx place": "jobs.submit",
    "vfx track": "assets.read",
    "vfx probe": NO_CREDENTIAL,
    "voice enroll": "performers.enroll",
    "voice reference": "people.read",
    "voice adr": "jobs.submit",
    "voice dub": "jobs.submit",
    "voice line": "jobs.submit",
    "voice jobs": "jobs.read",
    "token create": "tokens.issue",
    "token list": "tokens.issue",
    "token revoke": "tokens.issue",
    "token rotate": AUTHENTICATED,
}
#: commands that need a credential only when they run inside a workspace
WORKSPACE_OPTIONAL = frozenset({"verify"})

assert all(a in (NO_CREDENTIAL, AUTHENTICATED) or a in PERMISSIONS for a in COMMANDS.values())

TOKEN_ENV = "SOUNDSTAGE_TOKEN"
TOKEN_FILE_ENV = "SOUNDSTAGE_TOKEN_FILE"
SINGLE_USER_ENV = "SOUNDSTAGE_SINGLE_USER"


# ---------------------------------------------------------------- enforcement

def guard_commands(app: typer.Typer, prefix: tuple[str, ...] = ()) -> None:
    """Wrap every command of ``app`` (recursively) in ``authorized(its path)``."""
    for info in app.registered_commands:
        name = info.name or typer.main.get_command_name(info.callback.__name__)
        info.callback = _wrap(info.callback, " ".join((*prefix, name)), group=False)
    for group in app.registered_groups:
        sub = group.typer_instance
        path = (*prefix, group.name)
        callback = sub.registered_callback
        if callback is not None and callback.invoke_without_command and callback.callback is not None:
            callback.callback = _wrap(callback.callback, " ".join(path), group=True)
        guard_commands(sub, path)


def _wrap(fn, path: str, *, group: bool):
    if getattr(fn, "__soundstage_command__", None) == path:
        return fn  # already guarded

    @functools.wraps(fn)
    def run(*args, **kwargs):
        ctx = kwargs.get("ctx")
        if group and ctx is not None and ctx.invoked_subcommand is not None:
            return fn(*args, **kwargs)  # a subcommand follows: it is checked itself
        with authorized(path):
            return fn(*args, **kwargs)

    run.__soundstage_command__ = path  # type: ignore[attr-defined]
    return run


@contextmanager
def authorized(path: str) -> Iterator[None]:
    """Open the workspace, resolve the person behind the credential and ask the matrix for the
    command's action; the command then runs with ``common.principal()`` and ``common.open_ws()``."""
    if path not in COMMANDS:
        raise RuntimeError(f"command {path!r} is not in the CLI permission table (interfaces/cli/access.py)")
    action = COMMANDS[path]
    if action is NO_CREDENTIAL or (path in WORKSPACE_OPTIONAL
                                   and not (common.workspace_dir() / CONFIG_NAME).is_file()):
        yield
        return
    from soundstage.services.workspace import open_workspace

    ws = open_workspace(common.workspace_dir())
    try:
        principal, token = authenticate(ws)
        if action != AUTHENTICATED:
            check_allowed(principal, action)
        common.STATE.ws, common.STATE.principal, common.STATE.token = ws, principal, token
        yield
    finally:
        common.STATE.ws = common.STATE.principal = common.STATE.token = None
        ws.close()


def authenticate(ws):
    """(principal, credential) for this invocation: the credential from ``--token-file`` or
    ``SOUNDSTAGE_TOKEN``, resolved by the API's own ``auth_service.authenticate``; else the
    single-user mode when ``SOUNDSTAGE_SINGLE_USER=1``; else AuthenticationError."""
    from soundstage.services.auth_service import AuthenticationError, single_user_principal
    from soundstage.services.auth_service import authenticate as resolve

    token = read_credential()
    if token is not None:
        return resolve(ws, token), token
    if os.environ.get(SINGLE_USER_ENV) == "1":
        return single_user_principal(getpass.getuser()), None
    raise AuthenticationError("no credential: every command that reads or changes a production runs as an "
                              "authenticated person",
                              hint=f"export {TOKEN_ENV}=sst_... or pass --token-file FILE (from soundstage init or "
                                   f"soundstage token create); {SINGLE_USER_ENV}=1 for single-user laptop mode")


def read_credential() -> str | None:
    """``--token-file`` (or SOUNDSTAGE_TOKEN_FILE) first, else ``SOUNDSTAGE_TOKEN``. A token file
    others can read is refused, as ssh refuses such a key."""
    path = common.STATE.token_file
    if path is not None:
        path = path.expanduser()
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(f"cannot read the token file {path}: {exc.strerror or exc}") from None
        if mode & 0o077:
            raise InputError(f"the token file {path} can be read by others", hint=f"chmod 600 {path}")
        return text or None
    return (os.environ.get(TOKEN_ENV) or "").strip() or None


# ---------------------------------------------------------------- representatives see their own performers

def check_scope(performer_ids, what: str) -> None:
    """As the API: a representative without a staff role acts only on their own performers."""
    check_performer_scope(common.principal(), performer_ids, what)


def asset_performers(ws, asset: dict) -> list[str]:
    """As the API: the performer an asset shows (a reference face) and those its job named."""
    from soundstage.services.jobs_service import show_job

    performer = (asset.get("details") or {}).get("performer")
    named = list(show_job(ws, asset["job_id"])["spec"].get("performers", [])) if asset.get("job_id") else []
    return ([performer] if performer else []) + named


def visible(rows: list[dict], performers_of) -> list[dict]:
    """As the API's lists: a scoped representative sees the rows naming their performers."""
    principal = common.principal()
    if not is_scoped_rep(principal):
        return rows
    return [r for r in rows if principal.represents & set(performers_of(r))]
