"""verify TARGET... - Content Credentials, watermark and ledger in one plain verdict."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import TaskID

from soundstage.errors import InputError, SoundstageError
from soundstage.interfaces.cli import common
from soundstage.settings import CONFIG_NAME


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify(files: list[str] = typer.Argument(..., help="Files, sidecars (X.c2pa) or quoted frame-sequence "
                                                           "patterns ('plate.%04d.exr', 'plate.####.exr', "
                                                           "'plate.*.exr') to check."),
               sidecar: Path | None = typer.Option(None, "--sidecar", help="The .c2pa sidecar of the one file or "
                                                                            "sequence given (default: the one "
                                                                            "beside it)."),
               whole: bool = typer.Option(False, "--whole", help="Read the watermark over every 2 s span of a "
                                                                 "clip and every window of a sound file, however "
                                                                 "long (default: at most 16 spans and 160 windows, "
                                                                 "spread over a longer file)."),
               json_out: bool = typer.Option(False, "--json")) -> None:
        """Read C2PA credentials (embedded, or from the file's sidecar), detect the watermark (even when
        the manifest was stripped) and look the asset up in the ledger. A sidecar alone is read
        without its file; a sequence pattern is checked frame by frame against its sidecar. Exit 1
        when any credentials are invalid, a frame changed, went missing or appeared, or a watermark
        and manifest name different assets. A 2-hour film is read at 16 spans spread over it (~30 s);
        --whole reads all 3,600 (~1.5 s each at 1080p with two keys: about 90 minutes)."""
        from soundstage.services.verify_service import failed, not_found_line, verify_target, watermark_line

        if sidecar is not None and len(files) != 1:
            raise InputError("--sidecar goes with exactly one file or sequence pattern",
                             hint=f"{len(files)} were given; quote a pattern so the shell does not expand it")
        ws_dir = common.workspace_dir()
        with common.progress() as bar:
            # a bar while a clip or sound file is read past its head for a watermark (transient, on a terminal)
            tasks: dict[str, TaskID] = {}

            def run(target: str, ws) -> dict:
                def report(done: int, total: int) -> None:
                    if target not in tasks:
                        tasks[target] = bar.add_task(f"watermark scan of {escape(Path(target).name)}", total=total)
                    bar.update(tasks[target], completed=done, total=total)

                try:
                    return verify_target(target, ws, sidecar=sidecar, progress=report, whole=whole)
                finally:
                    if target in tasks:  # a scan stops at the read that finds the mark: its bar goes
                        bar.remove_task(tasks.pop(target))

            def each(ws) -> list[dict]:
                # one target's bad input (a missing file, a malformed pattern) does not lose the others'
                # verdicts: it is reported in its place, and the command exits 2 after them
                if len(files) == 1:
                    return [run(files[0], ws)]
                out: list[dict] = []
                for f in files:
                    try:
                        out.append(run(f, ws))
                    except SoundstageError as exc:
                        out.append({"file": f, "error": exc.one_line(), "exit_code": exc.exit_code})
                return out

            if (ws_dir / CONFIG_NAME).is_file():
                with common.open_ws() as ws:
                    results = each(ws)
            else:
                results = each(None)
        errors = [r for r in results if "error" in r]
        if json_out:
            common.emit_json(results if len(results) != 1 else results[0])
        else:
            for r in results:
                if "error" in r:
                    common.console.print(f"[bold]{escape(r['file'])}[/]: [red]error[/]: {escape(r['error'])}")
                    continue
                state = r["c2pa"]["state"]
                colour = {"Trusted": "green", "Valid": "green", "Invalid": "red"}.get(state, "yellow")
                via = f" (sidecar {Path(r['sidecar']).name})" if r.get("sidecar") and r["sidecar"] != r["file"] else ""
                if r.get("sidecars"):  # a sequence signed in parts
                    names = [Path(n).name for n in r["sidecars"]]
                    via = f" ({len(names)} part sidecars: {names[0]} to {names[-1]})" if len(names) > 1 \
                        else f" (part sidecar {names[0]})"
                common.console.print(f"[bold]{escape(r['file'] + via)}[/]: [{colour}]{state}[/]")
                common.console.print(f"  {escape(r['verdict'])}")
                wm = r.get("watermark") or {}
                if wm.get("found"):
                    common.console.print(f"  {escape(watermark_line(wm))}")
                elif wm.get("error"):
                    common.console.print(f"  watermark not read: {escape(wm['error'])}")
                elif wm.get("scan"):
                    common.console.print(f"  watermark {escape(not_found_line(wm))}")
        if errors:
            raise typer.Exit(max(int(r["exit_code"]) for r in errors))
        if any(failed(r) for r in results):
            raise typer.Exit(1)
