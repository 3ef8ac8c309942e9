"""Lettering over the render: sky, name tags, voices, POV and INSERT labels - measured on pixels."""

from __future__ import annotations

import numpy as np

from soundstage.previz.panel_art import compose, font_for, letter_panel, wrap_pixels

W, H = 320, 180
NIGHT_SKY = [[0.03, 0.05, 0.16], [0.16, 0.22, 0.42]]


def render_with_hole() -> np.ndarray:
    """An RGBA render: grey ground in the bottom half, transparent (sky) above."""
    px = np.zeros((H, W, 4), np.uint8)
    px[H // 2:, :, :3] = 120
    px[H // 2:, :, 3] = 255
    return px


def test_the_sky_fills_what_the_set_leaves_open():
    rgb = compose(render_with_hole(), NIGHT_SKY)
    assert rgb.shape == (H, W, 3)
    top, horizon = rgb[1].mean(axis=0), rgb[H // 2 - 2].mean(axis=0)
    assert top[2] > top[0] and horizon.sum() > top.sum()  # blue above, lighter toward the horizon
    assert (rgb[H - 1] == 120).all()  # the ground is untouched
    opaque = np.full((H, W, 3), 77, np.uint8)
    assert (compose(opaque, None) == 77).all()  # an interior has no sky


def test_tags_voices_and_labels_are_lettered_inside_the_panel():
    shot = {"size": "WS", "tags": [{"text": "MAYA", "kind": "person", "x": 100, "y": 60, "color": [0.902, 0.624, 0.0]},
                                   {"text": "X" * 400, "kind": "person", "x": 315, "y": 60, "color": [0.0, 0.447, 0.698]}],
            "voices": [{"name": "DAD", "kind": "V.O."}], "pov": None, "props": []}
    out = letter_panel(np.full((H, W, 3), 200, np.uint8), shot, {"sky": None})
    orange = np.linalg.norm(out.astype(float) - [230, 159, 0], axis=-1) < 30
    ys, xs = np.nonzero(orange)
    assert orange.sum() > 100 and ys.max() < 60 and abs(xs.mean() - 100) < 25  # the tag sits above (100, 60)
    blue = np.linalg.norm(out.astype(float) - [0, 114, 178], axis=-1) < 30
    assert blue.any() and np.nonzero(blue)[1].max() < W  # a 400-letter name is cut, not run off the frame
    corner = out[H - 40:, W - 120:]
    assert (corner < 60).any() and (out[H - 40:, :60] == 200).all()  # the voice mark: bottom right only


def test_pov_masks_and_labels_the_frame():
    plain = np.full((H, W, 3), 200, np.uint8)
    scope = letter_panel(plain, {"size": "WS", "pov": {"viewer": "NELL", "mask": "scope"}}, {"sky": None})
    vignette = letter_panel(plain, {"size": "WS", "pov": {"viewer": "", "mask": "vignette"}}, {"sky": None})
    assert scope[H - 2, 2].max() < 10 and scope[H // 2 + 10, W // 2 + 10].min() > 150  # black outside the circle
    assert vignette[H - 2, W - 2].max() < 120 and vignette[H // 2, W // 2].min() > 190
    assert (scope[2:25, 2:90] < 60).any()  # the "POV - NELL" label
    insert = letter_panel(plain, {"size": "INSERT", "props": [{"name": "folded letter"}]}, {"sky": None})
    assert (insert[2:25, 2:150] < 60).any()


def test_any_script_is_drawn_with_real_glyphs_and_wrapped():
    for text in ("МАША", "ΕΛΕΝΗ", "美咲", "ליאת", "سارة"):
        font = font_for(text, 14)
        assert font.getbbox(text)[2] > 10
        ink = np.asarray(font.getmask(text))
        tofu = np.asarray(font.getmask("\U000f0000"))  # a private-use character: the font's missing-glyph box
        assert ink.size and (ink.shape != tofu.shape or not np.array_equal(ink, tofu))
    lines = wrap_pixels("one two three four five six seven eight nine ten", font_for("a", 12), 60)
    assert len(lines) > 2 and all(font_for("a", 12).getlength(line) <= 60 for line in lines)
