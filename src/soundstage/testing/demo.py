"""`make demo`: run the whole pipeline that exists so far on the bundled sample production.

Each step is a real ``soundstage`` command, printed before it runs, so the demo doubles as a
tour of the CLI. Output goes to one directory (default ``demo-output``), replaced on each run.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from importlib import resources
from pathlib import Path

from rich.console import Console

from soundstage.interfaces.cli.app import main as cli

console = Console(highlight=False)
MARKER = ".soundstage-demo"


def sample_script_path() -> Path:
    return Path(str(resources.files("soundstage").joinpath("samples", "the_last_take.fountain")))


def revised_draft(text: str) -> str:
    """A second draft the way writers make them: a scene inserted, one cut, one rewritten."""
    from soundstage.script.fountain import parse_fountain

    sp = parse_fountain(text)
    headings = [el for el in sp.elements if el.kind.value == "scene_heading"]
    lines = text.splitlines()
    # cut the second-to-last scene: from its heading to the next heading
    cut_start = headings[-2].line - 1
    cut_end = headings[-1].line - 1
    # insert a new scene before the third scene
    insert_at = headings[2].line - 1
    new_scene = ["EXT. STUDIO BACKLOT - NIGHT", "",
                 "Rain machines hiss. A GRIP hauls cable past a parked golf cart.", ""]
    out = lines[:insert_at] + new_scene + lines[insert_at:cut_start] + lines[cut_end:]
    rewritten = "\n".join(out)
    # rewrite a line of action in the first scene so it counts as changed
    first = headings[0].line
    body = rewritten.splitlines()
    for i in range(first, min(first + 12, len(body))):
        if body[i].strip() and not body[i].isupper():
            body[i] = body[i] + " Somewhere, a phone rings and nobody answers it."
            break
    return "\n".join(body) + "\n"


def run(argv: list[str]) -> None:
    console.print(f"\n[bold cyan]$ soundstage {' '.join(shlex.quote(a) for a in argv)}[/]")
    code = cli(argv)
    if code != 0:
        console.print(f"[bold red]demo step failed with exit code {code}[/]")
        sys.exit(code)


def main(out_dir: str = "demo-output") -> int:
    out = Path(out_dir).resolve()
    if out.exists():
        if not (out / MARKER).exists():
            console.print(f"[red]{out} exists and was not made by the demo; refusing to replace it[/]")
            return 2
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("made by make demo; safe to delete\n")
    ws = out / "production"
    script = sample_script_path()
    started = time.perf_counter()

    console.rule("[bold]soundstage demo: The Last Take")
    run(["init", str(ws), "--title", "The Last Take"])
    w = ["--workspace", str(ws)]
    run(w + ["script", "import", str(script)])
    run(w + ["script", "breakdown"])
    run(w + ["script", "edit", "add", "--scene", "1", "--category", "props",
             "--name", "clapperboard", "--note", "the 2nd AD wants it on the list"])
    run(w + ["script", "report", "--out", str(out / "reports")])
    run(w + ["script", "export", "--format", "fdx", "--out", str(out / "the_last_take.fdx")])

    draft2 = out / "the_last_take_draft2.fountain"
    draft2.write_text(revised_draft(script.read_text(encoding="utf-8")), encoding="utf-8")
    run(w + ["script", "import", str(draft2)])
    run(w + ["script", "drafts"])
    run(w + ["audit", "log", "--limit", "12"])
    run(w + ["audit", "verify"])

    console.rule("[bold]outputs")
    console.print(f"workspace (config, ledger, content-addressed assets): {ws}")
    console.print(f"breakdown sheets PDF:   {out / 'reports' / 'breakdown_sheets.pdf'}")
    console.print(f"cast/location/scene lists (CSV, JSON): {out / 'reports'}")
    console.print(f"Final Draft export:     {out / 'the_last_take.fdx'}")
    console.print(f"second draft (numbers locked, changes listed above): {draft2}")
    console.print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
