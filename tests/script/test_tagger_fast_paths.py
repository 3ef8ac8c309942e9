"""The tagger's fast paths find exactly what the plain rules find (docs/benchmarks.md, "rules.4 made
faster with no change of output"): case-sensitive scans of lower-cased ASCII text stand in for
re.IGNORECASE ones, and memos stand in for lookups."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import zlib

import pytest

from soundstage.script import breakdown as breakdown_module
from soundstage.script import tagger
from soundstage.script.breakdown import break_down, scene_fingerprint
from soundstage.script.fountain import parse_fountain

SENTENCES = [
    "He SLAMS Ray against the wall and she falls, sliding down the ice.",
    "The car crashes into a guardrail. Maya JUMPS into the Porsche and floors it.",
    "Two THUGS knock him off his feet; he hits the floor hard and is winched up.",
    "She Trips And Falls Down the stairs. THE TRUCK SKIDS, FLIPS OVER and rams a van.",
    "Kate dives through the window, hangs upside down in a harness, then somersaults.",
    "The fight spills out. A brawl. Nell swings at him, kicks in the door, topples over.",
]


@pytest.mark.parametrize("text", SENTENCES + [s.upper() for s in SENTENCES] + [s.swapcase() for s in SENTENCES])
def test_lower_cased_stunt_rules_find_the_same_spans(text: str) -> None:
    lowered_rules = [low for low in tagger._STUNT_RULES_LOWER if low is not None]
    assert len(lowered_rules) >= 20  # the fast path is in use for most rules
    for (pattern, _), low in zip(tagger._STUNT_RULES, tagger._STUNT_RULES_LOWER):
        if low is None:
            continue
        plain = [(m.span(), {k: m.span(k) for k in pattern.groupindex}) for m in pattern.finditer(text)]
        fast = [(m.span(), {k: m.span(k) for k in low.groupindex}) for m in low.finditer(text.lower())]
        assert fast == plain, pattern.pattern
    for end in range(0, len(text), 5):
        assert bool(tagger._AGENT_WORDS.search(text[:end])) == bool(tagger._AGENT_WORDS_LOWER.search(text[:end].lower()))


def test_case_free_refuses_patterns_whose_case_matters() -> None:
    assert tagger._case_free(r"(?P<v>slam(?:s|med)?)\s+\w+\b")
    assert tagger._case_free("fiancé")  # no ASCII letter matches é in any case
    assert not tagger._case_free("The")
    assert not tagger._case_free("ſlam")  # re.IGNORECASE matches ſ with s


def test_cast_mentions_are_the_same_with_and_without_the_ascii_pattern() -> None:
    cast = tagger.CastIndex.build({"MAYA": "MAYA", "JONAH": "JONAH", "DETECTIVE REYES": "DETECTIVE REYES",
                                   "GIRL": "GIRL", "KATE": "KATE"})
    slow = dataclasses.replace(cast, ascii_pattern=None)
    assert cast.ascii_pattern is not None
    for text in ["Maya watches Jonah. MAYA's photo of Kate; the girl waves at Detective Reyes.",
                 "In June, a Lily: ON THE MONITOR Kate's face. maya jonah KATE's grave. Jonah, Maya!"]:
        assert list(cast.mentions(text, [])) == list(slow.mentions(text, []))
        assert list(cast.mentions(text, [])), text


def test_a_script_breaks_down_the_same_twice_and_its_fingerprint_is_stable() -> None:
    text = ("INT. KITCHEN - NIGHT\n\nMAYA (30s) slides a gun across the table. A dog barks (O.S.).\n\n"
            "MAYA\n(beat)\nGive me the keys.\n\nINT. KITCHEN - NIGHT\n\nMAYA slides a gun across the table.\n\n"
            "MAYA\n(beat)\nGive me the keys.\n")
    sp = parse_fountain(text, "t.fountain")
    first, second = break_down(sp), break_down(sp)
    assert dataclasses.asdict(first) == dataclasses.asdict(second)
    for scene in sp.scenes():  # the memoised fingerprint is the plain one: sha256 and hashes of the words
        lines = [" ".join(scene.heading.text.split()).lower()] + [
            f"{el.kind.value}|{' '.join(breakdown_module._paragraph_text(el).split()).lower()}"
            for el in scene.elements if el.kind not in breakdown_module._NOT_FINGERPRINTED]
        whole = "\n".join(lines)
        words = re.findall(r"[\w']+", whole)
        assert scene_fingerprint(scene) == (hashlib.sha256(whole.encode("utf-8")).hexdigest(),
                                            [format(zlib.crc32(w.encode("utf-8")) & 0xFFFF, "04x") for w in words])
        assert len(words) > 10
