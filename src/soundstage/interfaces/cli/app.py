"""The ``soundstage`` command: noun-verb commands over the service layer.

Exit codes: 0 ok, 1 failure (including a safeguard saying no), 2 bad input. Errors are one line
on stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

import typer
from typer.exceptions import TyperException

from soundstage.errors import SoundstageError, exit_code_for
from soundstage.interfaces.cli import (
    access,
    cmd_assets,
    cmd_audit,
    cmd_consent,
    cmd_disclosure,
    cmd_jobs,
    cmd_keys,
    cmd_models,
    cmd_people,
    cmd_previz,
    cmd_production,
    cmd_queue,
    cmd_script,
    cmd_serve,
    cmd_verify,
    cmd_vfx,
    cmd_voice,
    common,
)

app = typer.Typer(
    name="soundstage",
    help="Generative AI for film and TV production, with consent, policy and provenance safeguards on by default.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    workspace: Path = typer.Option(
        None, "--workspace", "-w", envvar="SOUNDSTAGE_WORKSPACE",
        help="Production workspace directory (default: the current directory).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    token_file: Path = typer.Option(
        None, "--token-file", envvar="SOUNDSTAGE_TOKEN_FILE",
        help="File holding your credential (owner-only); default: the SOUNDSTAGE_TOKEN variable.",
    ),
) -> None:
    common.STATE.workspace = workspace
    common.STATE.debug = debug
    common.STATE.token_file = token_file


def _register() -> None:
    cmd_production.register(app)
    app.add_typer(cmd_script.app, name="script", help="Import screenplays, break them down, report.")
    app.add_typer(cmd_audit.app, name="audit", help="Read and verify the hash-chained audit log.")
    app.add_typer(cmd_assets.app, name="asset", help="List and inspect assets in the ledger.")
    for group in (cmd_people, cmd_consent, cmd_models, cmd_jobs, cmd_keys, cmd_disclosure):
        group.register(app)
    cmd_queue.register(app, cmd_jobs.job)  # worker, gc, job resume / retry / cancel
    cmd_verify.register(app)
    cmd_previz.register(app)
    cmd_vfx.register(app)
    cmd_voice.register(app)
    cmd_serve.register(app)
    access.guard_commands(app)  # every command runs as an authenticated person, checked by the matrix


_register()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    common.STATE.token_file = None  # per invocation (the demo and tests call main() repeatedly)
    debug = "--debug" in argv or os.environ.get("SOUNDSTAGE_DEBUG") == "1"
    try:
        result = app(args=argv, prog_name="soundstage", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except SoundstageError as exc:
        if debug:
            traceback.print_exc()
        common.err(exc.one_line())
        return exit_code_for(exc)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        common.err("aborted")
        return 1
    except TyperException as exc:  # usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            common.err(exc.format_message())
        return 2
    except KeyboardInterrupt:
        common.err("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, not a traceback
        if debug:
            traceback.print_exc()
        common.err(f"internal error: {exc.__class__.__name__}: {exc}".splitlines()[0]
                   + ("" if debug else " (run with --debug for details)"))
        return 1


def entry() -> None:  # pragma: no cover
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
