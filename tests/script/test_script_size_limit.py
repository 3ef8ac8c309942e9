"""The screenplay size limit: an oversized script is refused in one line, before anything is read or written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from soundstage.errors import InputError, UnsafeInputError
from soundstage.script.loader import MAX_SCREENPLAY_BYTES, load_screenplay, parse_screenplay_bytes, refuse_oversized
from soundstage.services.script_service import import_script
from soundstage.store.models import Asset, AuditEvent, ScreenplayDraft


def oversized(tmp_path: Path) -> Path:
    path = tmp_path / "season.fountain"
    with open(path, "wb") as fh:  # sparse: the size is checked before a byte is read
        fh.truncate(MAX_SCREENPLAY_BYTES + 1)
    return path


def test_limit_fits_a_season_and_the_bench_script_but_not_more() -> None:
    assert MAX_SCREENPLAY_BYTES == 16 * 1024 * 1024
    refuse_oversized("bench.fountain", MAX_SCREENPLAY_BYTES)  # at the limit: fine
    with pytest.raises(UnsafeInputError) as info:
        refuse_oversized("big.fountain", MAX_SCREENPLAY_BYTES + 1)
    assert info.value.one_line() == ("big.fountain: file is 16.1 MB, larger than the 16 MB limit for a screenplay "
                                     "(a feature script is about 0.2 MB; check the file, or split it into episodes)")


def test_loader_refuses_an_oversized_file_and_bytes(tmp_path: Path) -> None:
    path = oversized(tmp_path)
    with pytest.raises(UnsafeInputError, match="larger than the 16 MB limit"):
        load_screenplay(path)
    with pytest.raises(UnsafeInputError, match="larger than the 16 MB limit"):
        parse_screenplay_bytes(b"INT. ROOM - DAY\n\n" + b" " * MAX_SCREENPLAY_BYTES, "big.fountain")


def test_import_refuses_an_oversized_script_and_writes_nothing(sqlite_workspace, sample_script: Path,
                                                                  tmp_path: Path) -> None:
    ws = sqlite_workspace
    import_script(ws, sample_script, actor="tester")

    def state() -> tuple:
        with ws.unit_of_work() as s:
            counts = tuple(s.scalar(select(func.count()).select_from(model))
                           for model in (ScreenplayDraft, Asset, AuditEvent))
        return counts, sorted(p.relative_to(ws.store.root) for p in ws.store.root.rglob("*"))

    before = state()
    with pytest.raises(InputError) as info:
        import_script(ws, oversized(tmp_path), actor="tester")
    assert isinstance(info.value, UnsafeInputError) and info.value.exit_code == 2
    line = info.value.one_line()
    assert "\n" not in line and line.startswith("season.fountain: file is 16.1 MB, larger than the 16 MB limit")
    assert state() == before
