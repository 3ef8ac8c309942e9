"""The look-book of scripts in seven writing systems: sections planned by the real planner, every
name and location drawn from embedded glyphs, and no word off the page."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from soundstage.previz.lookbook import Frame, plan_looks, write_lookbook_pdf
from soundstage.script.breakdown import break_down
from soundstage.script.fountain import parse_fountain
from soundstage.testing.pdf_fonts import MULTILINGUAL_SCRIPTS, missing_chars, word_boxes

A4_W = 595.27


@pytest.mark.parametrize("language", sorted(MULTILINGUAL_SCRIPTS))
def test_lookbook_draws_every_script(tmp_path, language):
    source = MULTILINGUAL_SCRIPTS[language]
    bd = break_down(parse_fountain(source))
    characters, locations = plan_looks(bd, source.splitlines())
    looks = characters + locations
    assert characters and locations
    frame = tmp_path / "frame.png"
    Image.fromarray(np.full((256, 256, 3), 140, np.uint8)).save(frame)
    for i, look in enumerate(looks):
        look.frames = [Frame(f"{i + 1:016x}", f"urn:c2pa:{i}", frame)]
        look.prompt = f"{look.name}, {source.splitlines()[2]}"  # a long prompt in the script's language
    out = tmp_path / "book.pdf"
    title = looks[0].name + " / " + looks[-1].name
    write_lookbook_pdf(out, looks, title=title, subtitle=bd.scenes[0].heading)
    assert missing_chars(out, title + "".join(x.name for x in looks) + bd.scenes[0].heading) == set()
    assert all(30 <= w.x0 and w.x1 <= A4_W - 30 for w in word_boxes(out))
