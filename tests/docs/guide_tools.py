"""What the guide tests share: the generated parameter tables, the examples, a plug-in installer.

Parameter tables. A guide holds one block per built-in backend or VFX operation::

    <!-- params: KEY -->
    | parameter | type | bounds | default | description |
    ...
    <!-- /params -->

and the block's body must equal what the registry generates for KEY (``expected_tables``):

* ``write-a-generator.md``, KEY = a backend name in ``soundstage.generate.registry.BACKENDS``
  (all but ``vfx``, whose tables are per operation): ``markdown_table(operation_params(
  get_generator("docs.<name>", <name>, {}), "*"))`` - what a job on a model of that backend may set
  (the seed included). A backend that declares per-operation tables instead gets one block per
  operation, KEY = ``"<name> <operation>"``.
* ``write-a-vfx-operation.md``, KEY = ``vfx:<operation>`` for each ``BUILTIN_OPERATIONS`` entry:
  ``markdown_table(operation_params(get_generator("docs.vfx", "vfx", {"operation": <name>}),
  <its first job operation>))`` - what a job on a model configured with that operation may set
  (the operation's own parameters, then ``codec`` and ``seed``).

Only built-ins are tabled (plug-ins installed in the environment are not the guides' business).
To regenerate the tables after changing a declaration::

    .venv/bin/python tests/docs/guide_tools.py

which rewrites the body of every block in both guides (a new backend or operation needs its
section and an empty block added by hand first; the test names the missing key).

Examples. A runnable example is the fenced block right after ``<!-- example: FILE -->``
(``example(text, "colour_card.py")``); the tests run it through the real guard.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

GUIDES = Path(__file__).resolve().parents[2] / "docs" / "guides"
GENERATOR_GUIDE = GUIDES / "write-a-generator.md"
VFX_GUIDE = GUIDES / "write-a-vfx-operation.md"

BLOCK = re.compile(r"<!-- params: (?P<key>[^>]+?) -->\n(?P<body>.*?)<!-- /params -->", re.S)
EXAMPLE = re.compile(r"<!-- example: (?P<name>\S+) -->\n```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)


def backend_tables() -> dict[str, str]:
    """KEY -> table for every built-in backend but ``vfx`` (see the module docstring for the rule)."""
    from soundstage.domain.params import markdown_table
    from soundstage.generate.registry import BACKENDS, declared_operations, get_generator, operation_params

    tables = {}
    for name in BACKENDS:
        if name == "vfx":
            continue
        if name == "voice":  # one table per engine and voice operation (issue 17, docs/guides/voice.md)
            from soundstage.voice.registry import ENGINES

            for engine, definition in ENGINES.items():
                generator = get_generator("docs.voice", "voice", {"engine": engine, **definition.example_config})
                for operation in sorted(declared_operations(generator)):
                    tables[f"voice:{engine} {operation}"] = markdown_table(operation_params(generator, operation))
            continue
        generator = get_generator(f"docs.{name}", name, {})
        for operation in sorted(declared_operations(generator)):
            key = name if operation == "*" else f"{name} {operation}"
            tables[key] = markdown_table(operation_params(generator, operation))
    return tables


def vfx_tables() -> dict[str, str]:
    """``vfx:<name>`` -> table for every built-in VFX operation."""
    from soundstage.domain.params import markdown_table
    from soundstage.generate.registry import get_generator, operation_params
    from soundstage.vfx.registry import BUILTIN_OPERATIONS

    tables = {}
    for name, definition in BUILTIN_OPERATIONS.items():
        generator = get_generator("docs.vfx", "vfx", {"operation": name})
        tables[f"vfx:{name}"] = markdown_table(operation_params(generator, definition.kinds[0].value))
    return tables


def expected_tables(guide: Path) -> dict[str, str]:
    return backend_tables() if guide.name == GENERATOR_GUIDE.name else vfx_tables()


def blocks(text: str) -> dict[str, str]:
    """KEY -> the table text in the guide's block (without the trailing newline)."""
    found: dict[str, str] = {}
    for match in BLOCK.finditer(text):
        key = match.group("key").strip()
        assert key not in found, f"two parameter blocks for {key}"
        found[key] = match.group("body").rstrip("\n")
    return found


def render(text: str, tables: dict[str, str]) -> str:
    """The guide with every known block's body replaced by its generated table."""
    def body(match: re.Match) -> str:
        key = match.group("key").strip()
        table = tables.get(key, match.group("body").rstrip("\n"))
        return f"<!-- params: {key} -->\n{table}\n<!-- /params -->"

    return BLOCK.sub(body, text)


def example(text: str, name: str) -> str:
    """The fenced block right after ``<!-- example: NAME -->``."""
    matches = [m for m in EXAMPLE.finditer(text) if m.group("name") == name]
    assert len(matches) == 1, f"expected one example {name!r}, found {len(matches)}"
    return matches[0].group("body")


def install_plugin(site: Path, modules: dict[str, str], pyproject: str) -> None:
    """Install modules plus the entry points of a ``pyproject.toml`` excerpt as a distribution in
    ``site`` - what ``pip install`` of the guide's package would leave - without the network.
    The caller puts ``site`` on sys.path and clears the registries' caches."""
    site.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (site / name).write_text(source)
    groups = tomllib.loads(pyproject)["project"]["entry-points"]
    info = site / "soundstage_guide_example-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: soundstage-guide-example\nVersion: 1.0\n")
    lines = []
    for group, entries in groups.items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {target}" for name, target in entries.items())
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines))


def main() -> int:
    missing = []
    for guide in (GENERATOR_GUIDE, VFX_GUIDE):
        text = guide.read_text()
        tables = expected_tables(guide)
        new = render(text, tables)
        if new != text:
            guide.write_text(new)
            print(f"rewrote the parameter tables in {guide.name}")
        missing += [(guide.name, key) for key in sorted(set(tables) - set(blocks(new)))]
    for name, key in missing:
        print(f"{name}: no block for {key}; add '<!-- params: {key} -->' and '<!-- /params -->' to its section "
              "and run again", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
