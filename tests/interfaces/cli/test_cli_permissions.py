"""One permission matrix: every CLI command names an action of the matrix the API uses, and for
every command x role the CLI lets in exactly whom the API lets in for that action.

The CLI is run through its real entry point with each role's credential; the check is stopped
right after the matrix said yes (the command's body is not what is under test, and it would need
a real job, consent or file for every command). The API is asked over HTTP, on every route that
requires the same action."""

from __future__ import annotations

import pytest

from soundstage.domain.permissions import ALL_ROLES, PERMISSIONS
from soundstage.interfaces.cli import access
from soundstage.interfaces.cli.app import app, main

ROLE_HOLDERS = {"producer": "Pia Prod", "vfx_supervisor": "Vic Effects", "rights_clearance": "Rhea Rights",
                "legal": "Lou Legal", "performer_rep": "Rory Rep"}
#: commands a person runs without a credential: reviewed here, so a new one cannot slip in unnoticed
#: (``worker`` is a server-side process like ``serve``: it runs only what the guard clears, and the
#: guard proves every job again from the ledger when the worker claims it)
EXPECTED_NO_CREDENTIAL = {"init", "serve", "vfx probe", "worker"}


def _typer_paths(typer_app, prefix=()) -> dict[str, object]:
    """Every command as registered with Typer (path -> callback), group callbacks that run on their own included."""
    import typer

    out = {}
    for info in typer_app.registered_commands:
        name = info.name or typer.main.get_command_name(info.callback.__name__)
        out[" ".join((*prefix, name))] = info.callback
    for group in typer_app.registered_groups:
        path = (*prefix, group.name)
        callback = group.typer_instance.registered_callback
        if callback is not None and callback.invoke_without_command:
            out[" ".join(path)] = callback.callback
        out.update(_typer_paths(group.typer_instance, path))
    return out


def _click_paths() -> dict[str, object]:
    """Every command of the built command line (what a person can type), with its click object."""
    import typer

    out = {}

    def walk(command, path=()):
        subs = getattr(command, "commands", None)
        if subs is None:
            out[" ".join(path)] = command
            return
        if getattr(command, "invoke_without_command", False) and path:
            out[" ".join(path)] = command
        for name, sub in subs.items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app))
    return out


def test_every_command_is_in_the_table_and_runs_through_it():
    typed, built = _typer_paths(app), _click_paths()
    assert set(built) == set(typed)
    assert set(built) == set(access.COMMANDS), "add the command to COMMANDS in interfaces/cli/access.py"
    for path, callback in typed.items():  # each one enters access.authorized(path) before its body runs
        assert getattr(callback, "__soundstage_command__", None) == path, path
    actions = set(access.COMMANDS.values()) - {access.NO_CREDENTIAL, access.AUTHENTICATED}
    assert actions <= set(PERMISSIONS), "a CLI command names an action the matrix does not have"
    assert {p for p, a in access.COMMANDS.items() if a is access.NO_CREDENTIAL} == EXPECTED_NO_CREDENTIAL


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """A production with one person per role, each with a credential."""
    from soundstage.services import people_service
    from soundstage.services.workspace import init_workspace
    from soundstage.testing.identity import token_for

    ws = init_workspace(tmp_path_factory.mktemp("matrix") / "production", "The Last Take")
    try:
        for role, name in ROLE_HOLDERS.items():
            people_service.add_crew(ws, name, [role], actor="setup")
        tokens = {role: token_for(ws, name) for role, name in ROLE_HOLDERS.items()}
    finally:
        ws.close()
    return {"root": ws.settings.root, "tokens": tokens}


@pytest.fixture(scope="module")
def api_verdicts(production):
    """action -> role -> refused by the API (403 naming the action), over every route requiring it."""
    from fastapi.testclient import TestClient

    from soundstage.interfaces.api.app import create_app

    from soundstage.interfaces.api.review_routes import router as review_router
    from soundstage.interfaces.api.routes import router

    application = create_app(production["root"], auth_cache_seconds=0)
    routes: dict[str, list[tuple[str, str]]] = {}
    for route in [*router.routes, *review_router.routes]:  # every /api route, as declared (each names its action with require)
        for dependency in getattr(getattr(route, "dependant", None), "dependencies", []):
            name = getattr(dependency.call, "__name__", "")
            action = next((a for a in PERMISSIONS if name == "require_" + a.replace(".", "_")), None)
            if action is not None:
                for method in route.methods:
                    routes.setdefault(action, []).append((method, route.path))
    verdicts: dict = {}  # action -> role -> refused; and (method, path) -> role -> refused
    with TestClient(application, base_url="http://127.0.0.1") as client:
        for action, endpoints in routes.items():
            for role, token in production["tokens"].items():
                refused = set()
                for method, path in endpoints:
                    url = path.replace("{", "").replace("}", "")  # path parameters: any value
                    response = client.request(method, url, headers={"Authorization": f"Bearer {token}"})
                    said_no = response.status_code == 403 and f"may not {action}" in response.text
                    verdicts.setdefault((method, path), {})[role] = said_no
                    refused.add(said_no)
                assert len(refused) == 1, f"the routes requiring {action} disagree for {role}: {endpoints}"
                verdicts.setdefault(action, {})[role] = refused.pop()
    return verdicts


#: CLI commands and the API route that does the same thing: a second, independent mapping, so a
#: command filed under the wrong action in the table is caught too
API_TWINS = {
    "info": ("GET", "/api/production"),
    "verify": ("POST", "/api/verify"),
    "script import": ("POST", "/api/script"),
    "script breakdown": ("GET", "/api/script/breakdown"),
    "script assist": ("POST", "/api/script/assist"),
    "script report": ("GET", "/api/script/reports/{kind}"),
    "audit log": ("GET", "/api/audit"),
    "audit verify": ("GET", "/api/audit/verify"),
    "asset list": ("GET", "/api/assets"),
    "asset show": ("GET", "/api/assets/{asset_id}"),
    "asset export": ("GET", "/api/assets/{asset_id}/download"),
    "talent add": ("POST", "/api/performers"),
    "talent represent": ("POST", "/api/performers/{performer_id}/representatives"),
    "talent show": ("GET", "/api/performers/{performer_id}"),
    "talent list": ("GET", "/api/people"),
    "crew list": ("GET", "/api/people"),
    "crew add": ("POST", "/api/crew"),
    "consent grant": ("POST", "/api/consents"),
    "consent show": ("GET", "/api/consents/{consent_id}"),
    "consent list": ("GET", "/api/consents"),
    "consent revoke": ("POST", "/api/consents/{consent_id}/revoke"),
    "consent suspend": ("POST", "/api/consents/{consent_id}/suspend"),
    "consent resume": ("POST", "/api/consents/{consent_id}/suspend"),
    "model add": ("POST", "/api/models"),
    "model list": ("GET", "/api/models"),
    "policy check": ("POST", "/api/policy/check"),
    "job submit": ("POST", "/api/jobs"),
    "job approve": ("POST", "/api/jobs/{job_id}/decision"),
    "job reject": ("POST", "/api/jobs/{job_id}/decision"),
    "job show": ("GET", "/api/jobs/{job_id}"),
    "job list": ("GET", "/api/jobs"),
    "disclosure report": ("GET", "/api/disclosure"),
    "vfx deage": ("POST", "/api/jobs"),
    "vfx cosmetic": ("POST", "/api/jobs"),
    "vfx background": ("POST", "/api/jobs"),
    "vfx cleanup": ("POST", "/api/jobs"),
    "vfx place": ("POST", "/api/jobs"),
    "vfx track": ("GET", "/api/assets"),
    "previz board": ("POST", "/api/jobs"),
    "previz lookbook": ("POST", "/api/jobs"),
}


class _Allowed(Exception):
    """Raised right after the matrix allowed a command (the test stops it there)."""


CASES = sorted((path, role) for path, action in access.COMMANDS.items()
               if action not in (access.NO_CREDENTIAL, access.AUTHENTICATED) for role in sorted(ALL_ROLES))


@pytest.mark.parametrize("path,role", CASES, ids=[f"{p} as {r}" for p, r in CASES])
def test_the_cli_allows_and_refuses_exactly_as_the_api(production, api_verdicts, path, role, monkeypatch, capsys):
    action = access.COMMANDS[path]
    real = access.check_allowed

    def check_then_stop(principal, wanted):
        real(principal, wanted)
        assert wanted == action and principal.name == ROLE_HOLDERS[role]  # the credential's person, this action
        raise _Allowed()

    monkeypatch.setattr(access, "check_allowed", check_then_stop)
    monkeypatch.setenv("SOUNDSTAGE_TOKEN", production["tokens"][role])
    monkeypatch.setenv("SOUNDSTAGE_USER", "Somebody Else")  # has no effect
    monkeypatch.delenv("SOUNDSTAGE_TOKEN_FILE", raising=False)
    command = _click_paths()[path]
    args = []
    for param in command.params:  # any value for what is required: the check comes before the body
        if param.required:
            args += ["x"] if param.param_type_name == "argument" else [param.opts[0], "x"]
    capsys.readouterr()
    code = main(["-w", str(production["root"]), *path.split(), *args])
    err = capsys.readouterr().err
    cli_refused = f"may not {action}" in err
    assert cli_refused or "_Allowed" in err, err  # the matrix was asked, and answered
    assert code == 1
    assert cli_refused == (role not in PERMISSIONS[action])
    if action in api_verdicts:
        assert cli_refused == api_verdicts[action][role], f"CLI and API disagree on {action} for {role}"
    if path in API_TWINS:
        assert cli_refused == api_verdicts[API_TWINS[path]][role], f"`{path}` and {API_TWINS[path]} disagree for {role}"


def test_every_api_action_is_checked_over_http(api_verdicts):
    """The API routes cover the matrix's HTTP actions (the rest are CLI-only and say so in the matrix)."""
    cli_only = {a for a in PERMISSIONS if a not in api_verdicts}
    assert all(twin in api_verdicts for twin in API_TWINS.values())
    api_verdicts = {k: v for k, v in api_verdicts.items() if isinstance(k, str)}
    assert cli_only == {"script.edit", "assets.add", "performers.enroll", "previz.read", "previz.plan",
                        "jobs.override", "keys.manage", "tokens.issue"}
    for action, by_role in api_verdicts.items():
        assert {r for r, refused in by_role.items() if not refused} == set(PERMISSIONS[action]), action
