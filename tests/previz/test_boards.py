"""Storyboard sheets: page count, and the ids and the previz label printed on them."""

from __future__ import annotations

import numpy as np
from PIL import Image

from soundstage.domain.shots import Shot
from soundstage.previz.boards import BoardPanel, write_storyboard_pdf


def test_seven_panels_make_two_pages_with_ids_and_label(tmp_path):
    frame = tmp_path / "panel"
    Image.fromarray(np.full((540, 960, 3), 120, np.uint8)).save(frame, format="PNG")
    panels = [BoardPanel(Shot(scene="3", number=f"3-{c}", size="MCU", description=f"Single on MAYA {c}",
                              dialogue_excerpt="MAYA: Again."), frame, asset_id=f"{i:016x}",
                         manifest_label=f"urn:c2pa:{i:04d}") for i, c in enumerate("ABCDEFG", start=1)]
    out = tmp_path / "board.pdf"
    pages = write_storyboard_pdf(out, panels, title="The Last Take", compress=False)
    data = out.read_bytes()
    assert pages == 2 and data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 2
    assert data.count(b"TEMPORARY PREVIZ MEDIA") >= 7 + 2
    for p in panels:
        assert p.asset_id.encode() in data and p.manifest_label.encode() in data and p.shot.number.encode() in data
    assert not list(tmp_path.glob(".board.pdf*"))  # nothing half-written left behind
