"""Importing drafts (services/script_service.py ``import_script``) under a race: two drafts imported
at the same moment both read the same latest draft; one takes the next version, the other is refused
with a one-line error (StateConflictError, 409) and leaves nothing behind."""

from __future__ import annotations

import threading

from sqlalchemy import select

from soundstage.errors import SoundstageError, StateConflictError
from soundstage.services import script_service
from soundstage.services.workspace import open_workspace
from soundstage.store.models import Asset, ScreenplayDraft
from soundstage.testing.demo import sample_script_path


def test_two_drafts_imported_at_once_get_one_version_each_or_a_one_line_conflict(sqlite_workspace, tmp_path):
    ws = sqlite_workspace
    script_service.import_script(ws, sample_script_path(), actor="Priya Shah")
    text = sample_script_path().read_text()
    paths = []
    for k in range(2):
        path = tmp_path / f"draft{k}.fountain"
        path.write_text(text + f"\n\nINT. ROOM {k} - DAY\n\nA chair.\n")
        paths.append(path)
    start = threading.Barrier(2)
    outcomes: dict[int, object] = {}

    def run(k: int) -> None:
        mine = open_workspace(ws.settings.root)  # a second request: its own session and store writes
        try:
            start.wait()
            outcomes[k] = script_service.import_script(mine, paths[k], actor="Priya Shah")["draft"]
        except BaseException as exc:  # what the caller would see
            outcomes[k] = exc
        finally:
            mine.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    errors = [o for o in outcomes.values() if isinstance(o, BaseException)]
    assert all(isinstance(e, StateConflictError) for e in errors), errors  # never a database error
    assert all(isinstance(e, SoundstageError) and "\n" not in e.one_line() for e in errors)
    won = sorted(o for o in outcomes.values() if isinstance(o, int))
    assert won == list(range(2, 2 + len(won))) and len(won) + len(errors) == 2
    with ws.unit_of_work() as s:  # one row per version, each with its script in the store
        drafts = s.scalars(select(ScreenplayDraft).order_by(ScreenplayDraft.version)).all()
        assert [d.version for d in drafts] == list(range(1, 2 + len(won)))
        for d in drafts:
            assert ws.store.read_bytes(s.get(Asset, d.asset_id).sha256)
        assert len(s.scalars(select(Asset).where(Asset.kind == "screenplay")).all()) == len(drafts)  # no orphan row
