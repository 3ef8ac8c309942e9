"""The page model: lengths in eighths, page breaks, (MORE)/(CONT'D) speech splits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from soundstage.domain.screenplay import ElementKind
from soundstage.script.fountain import parse_fountain
from soundstage.script.pagination import (
    LINES_PER_PAGE,
    estimate_screen_seconds,
    paginate,
    wrap,
)

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "soundstage" / "samples" / "the_last_take.fountain"
DATA = Path(__file__).resolve().parents[1] / "data"


def _action_lines(n: int) -> str:
    """n one-line action paragraphs: each is 1 line plus a blank separator."""
    return "".join(f"Line {i} of the action.\n\n" for i in range(n))


def test_wrap_respects_width_and_hard_breaks() -> None:
    text = "word " * 30
    lines = wrap(text.strip(), 35)
    assert all(len(ln) <= 35 for ln in lines) and len(lines) == 5
    assert wrap("a\nb", 60) == ["a", "b"]
    assert wrap("x" * 70, 60) == ["x" * 60, "x" * 10]


def test_one_line_scene_is_one_eighth_and_full_page_scene_is_eight() -> None:
    # Scene 1: heading + 26 action paragraphs = 1 + 26*2 = 53 lines, + the blank before scene 2.
    script = "INT. BIG ROOM - DAY\n\n" + _action_lines(26) + "EXT. TINY YARD - NIGHT\n\nINT. NEXT - DAY\n\nEnd.\n"
    pg = paginate(parse_fountain(script))
    assert pg.scene_lines[0] == 54
    assert pg.scene_eighths(0) == 8
    assert pg.scene_eighths(1) == 1  # a heading alone is the minimum, 1/8
    assert pg.scene_page_start(0) == 1


def test_scene_eighths_sum_matches_pages() -> None:
    sp = parse_fountain(SAMPLE.read_text(encoding="utf-8"))
    pg = paginate(sp)
    eighths = [pg.scene_eighths(i) for i in range(len(sp.scenes()))]
    assert 6 <= pg.page_count <= 8
    total = sum(eighths)
    # Scenes cover the pages except the opening lines before scene 1 and the unused end of the
    # last page; per-scene rounding adds at most half an eighth each.
    assert 8 * (pg.page_count - 1) - len(eighths) <= total <= 8 * pg.page_count + len(eighths) / 2
    assert abs(total - pg.used_eighths) <= len(eighths) / 2 + 1
    starts = [pg.scene_page_start(i) for i in range(len(eighths))]
    assert starts == sorted(starts) and starts[0] == 1 and starts[-1] == pg.page_count


def test_long_script_page_count_scales() -> None:
    one = paginate(parse_fountain("INT. A - DAY\n\n" + _action_lines(200)))
    # 1 heading + 200 paragraphs of 1 line each, separated by blank lines = 401 lines.
    assert one.page_count == pytest.approx(401 / LINES_PER_PAGE, abs=1)
    assert all(len(page) <= LINES_PER_PAGE for page in one.pages)
    assert one.scene_eighths(0) == pytest.approx(401 * 8 / LINES_PER_PAGE, abs=8)


def test_forced_page_break_starts_a_new_page() -> None:
    sp = parse_fountain("INT. A - DAY\n\nShort.\n\n===\n\nINT. B - DAY\n\nAlso short.\n")
    pg = paginate(sp)
    assert pg.page_count == 2
    assert pg.scene_page_start(1) == 2
    assert pg.scene_eighths(0) == 8  # the rest of the page belongs to the scene before a break
    assert pg.element_position(len(sp.elements) - 1) == (2, 2)


def test_scene_heading_is_kept_with_the_next_element() -> None:
    # 27 paragraphs fill lines 0..52 (with blanks); a heading at line 54 could not keep its action.
    script = "INT. A - DAY\n\n" + _action_lines(26) + "INT. B - NIGHT\n\nAction of B.\n"
    pg = paginate(parse_fountain(script))
    assert pg.scene_page_start(1) == 2
    assert pg.pages[1][0].startswith("INT. B - NIGHT")
    assert not any("INT. B" in ln for ln in pg.pages[0])


def test_dialogue_splits_at_sentence_with_more_and_contd() -> None:
    sentences = [f"Sentence number {i} is here and it is long enough to wrap a bit." for i in range(14)]
    script = ("INT. A - DAY\n\n" + _action_lines(18) + "MAYA (V.O.)\n" + " ".join(sentences) + "\n\nBOB\nOkay.\n")
    sp = parse_fountain(script)
    pg = paginate(sp)
    assert pg.page_count == 2
    first, second = pg.pages[0], pg.pages[1]
    assert first[-1].strip() == "(MORE)"
    assert second[0].strip() == "MAYA (V.O.) (CONT'D)"
    before = " ".join(ln.strip() for ln in first[first.index(" " * 22 + "MAYA (V.O.)") + 1:-1])
    after = " ".join(ln.strip() for ln in second[1:second.index("")])
    # never mid-sentence: the page ends on a full stop and the next starts a new sentence
    assert before.endswith(".") and re.match(r"Sentence number \d+ ", after)
    assert (before + " " + after).split() == " ".join(sentences).split()
    dialogue_index = next(i for i, e in enumerate(sp.elements) if e.kind is ElementKind.DIALOGUE)
    pieces = [p for p in pg.placements if p.element_index == dialogue_index]
    assert [(p.page, p.continued) for p in pieces] == [(1, False), (2, True)]


def test_dialogue_without_sentence_break_moves_whole() -> None:
    speech = " ".join(["words without any stop"] * 30)
    script = "INT. A - DAY\n\n" + _action_lines(24) + "MAYA\n" + speech + "\n"
    pg = paginate(parse_fountain(script))
    assert not any("(MORE)" in ln for page in pg.pages for ln in page)
    assert pg.pages[1][0].strip() == "MAYA"


def test_estimate_screen_seconds() -> None:
    assert estimate_screen_seconds(8) == 60
    assert estimate_screen_seconds(1) == 7.5


def test_every_element_paginates() -> None:
    sp = parse_fountain((DATA / "every_element.fountain").read_text(encoding="utf-8"))
    pg = paginate(sp)
    assert pg.page_count == 2  # the === forces the second page
    assert all(pg.scene_eighths(i) >= 1 for i in range(len(sp.scenes())))
    assert any("(CONT'D)" not in ln and "MAYA (V.O.)" in ln for ln in pg.pages[0])
