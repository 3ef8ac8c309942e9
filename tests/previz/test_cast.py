"""Who the boards draw: colour-blind-safe colours, children's heights from the script, voices unseen."""

from __future__ import annotations

import itertools
import math

import pytest

from soundstage.previz.cast import (
    PALETTE, adult_height, cast_looks, character_intros, height_for_age, height_from_intro, is_device,
    offscreen_extension, palette_colour,
)
from soundstage.script.fountain import parse_fountain


def _lab(rgb):
    """sRGB (0..1) -> CIELAB (D65)."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047
    y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883
    f = [t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x, y, z)]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def _deuteranope(rgb):
    """Vienot, Brettel & Mollon (1999) dichromat simulation (deuteranopia), in linear RGB."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    sim = [0.29275 * lin[0] + 0.70725 * lin[1], 0.29275 * lin[0] + 0.70725 * lin[1],
           -0.02234 * lin[0] + 0.02234 * lin[1] + lin[2]]
    return [12.92 * c if c <= 0.0031308 else 1.055 * max(c, 0) ** (1 / 2.4) - 0.055 for c in sim]


def test_the_first_seven_characters_are_distinct_even_to_a_colour_blind_reader():
    colours = [palette_colour(i) for i in range(7)]
    assert len(set(colours)) == 7
    normal = min(math.dist(_lab(a), _lab(b)) for a, b in itertools.combinations(colours, 2))
    deut = min(math.dist(_lab(_deuteranope(a)), _lab(_deuteranope(b))) for a, b in itertools.combinations(colours, 2))
    assert normal > 20  # measured: 26.4 (CIE76 delta-E)
    assert deut > 14  # measured: 17.1 under simulated deuteranopia
    # seven evenly spaced rainbow hues (the old look) are further apart for normal vision but
    # collapse for a deuteranope: the reason for the palette
    import colorsys

    rainbow = [colorsys.hsv_to_rgb(i / 7, 0.85, 0.85) for i in range(7)]
    assert min(math.dist(_lab(_deuteranope(a)), _lab(_deuteranope(b)))
               for a, b in itertools.combinations(rainbow, 2)) < 10  # measured: 8.5
    assert palette_colour(7) != palette_colour(0) and palette_colour(14) != palette_colour(7)
    assert all(palette_colour(i) == PALETTE[i] for i in range(7))


@pytest.mark.parametrize("intro, name, child", [
    ("LILY (7), gap-toothed, clutching a jar", "LILY", True),
    ("SAM, 9, on a bike", "SAM", True),
    ("a seven-year-old girl, ZOE, hides", "ZOE", True),
    ("a 10 year old boy", "", True),
    ("her baby, NOAH", "NOAH", True),
    ("the KID", "KID", True),
    ("MAYA REYES (68), silver hair pinned back", "MAYA", False),
    ("PRIYA NAIR (30s, first assistant director)", "PRIYA", False),
    ("JONAH ABARA (40s, the director)", "JONAH", False),
    ("DETECTIVE REYES, 40s,", "REYES", False),
    ("", "X", False),
])
def test_a_height_is_read_from_the_introduction(intro, name, child):
    height = height_from_intro(intro, name)
    assert (height is not None) == child
    if child:
        assert height < 1.45


def test_child_heights_grow_with_age_and_stop_at_adult():
    heights = [height_for_age(a) for a in range(0, 18)]
    assert heights == sorted(heights) and heights[7] == pytest.approx(1.22)
    assert height_for_age(18) is None and height_for_age(40) is None
    assert height_from_intro("LILY (7)", "LILY") < height_from_intro("LILY (12)", "LILY") < adult_height("LILY")


SCRIPT = """INT. KITCHEN - NIGHT

MAYA (40s) washes up. Her daughter LILY (7) and the family dog watch. DEV OKAFOR (30s) leans in.

MAYA
Bed.

LILY
No.

MESSAGE MACHINE
You have one new message.

MOM (V.O.)
It's me. Call back.
"""


def test_intros_are_cut_between_names_so_one_persons_age_is_not_anothers():
    sp = parse_fountain(SCRIPT)
    intros = character_intros(sp, ["MAYA", "LILY", "DEV OKAFOR"])
    assert "(7)" in intros["LILY"] and "(7)" not in intros["MAYA"] and "(30s)" in intros["DEV OKAFOR"]
    looks = cast_looks(["MAYA", "LILY", "DEV OKAFOR", "MESSAGE MACHINE"], sp)
    assert looks["LILY"].child and looks["LILY"].height == pytest.approx(1.22)
    assert not looks["MAYA"].child and looks["MAYA"].height >= 1.62
    assert looks["MESSAGE MACHINE"].voice_only and not looks["MAYA"].voice_only
    assert len({look.colour for look in looks.values()}) == 4


@pytest.mark.parametrize("name, device", [
    ("PRINTER", True), ("INTERCOM", True), ("MESSAGE MACHINE", True), ("RADIO", True), ("TV", True),
    ("MAYA", False), ("JONAH ABARA", False), ("THE BOY", False),
])
def test_devices_are_voices(name, device):
    assert is_device(name) is device


def test_offscreen_extensions():
    assert offscreen_extension(["V.O."]) == "V.O." and offscreen_extension(["CONT'D", "O.S."]) == "O.S."
    assert offscreen_extension(["ON PHONE"]) == "ON PHONE" and offscreen_extension(["CONT'D"]) == ""
