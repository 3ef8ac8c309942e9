"""The marking capability a worker holds gives the very pixels the keyed engine gives."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from soundstage.compute.marking import marker_for
from soundstage.errors import BackendError
from soundstage.safeguards.watermark import PREVIZ_STRENGTH, default_engine

KEY = bytes(range(32))


@pytest.mark.parametrize("size", [(288, 512), (100, 300), (1080 // 4, 1920 // 4)])
def test_marker_equals_keyed_engine_and_is_read_back_with_the_key(size):
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    marker = pickle.loads(pickle.dumps(marker_for(KEY, 0xABCDEF, *size)))  # as a worker receives it
    marked = marker.embed(frame)
    assert np.array_equal(marked, default_engine(KEY).embed(frame, 0xABCDEF))
    assert np.array_equal(marker.remove(marked), default_engine(KEY).remove(marked, 0xABCDEF))
    assert KEY not in pickle.dumps(marker) and KEY.hex().encode() not in pickle.dumps(marker)


def test_a_frame_marked_by_the_capability_is_read_with_the_production_key_only():
    from soundstage.safeguards.watermark.samples import natural_frame

    frame = natural_frame(512, 288)
    marked = marker_for(KEY, 0x5EED, 288, 512).embed(frame)
    assert default_engine(KEY).detect(marked).payload == 0x5EED
    assert not default_engine(None).detect(marked).found  # the public key cannot read it


def test_marker_refuses_frames_of_another_size():
    marker = marker_for(KEY, 7, 288, 512)
    with pytest.raises(BackendError, match="prepared for 512x288"):
        marker.embed(np.zeros((200, 512, 3), np.uint8))



def test_marker_at_previz_strength_equals_the_engine_at_that_strength():
    from soundstage.safeguards.watermark.samples import natural_frame

    frame = natural_frame(320, 192)
    marker = pickle.loads(pickle.dumps(marker_for(KEY, 0x1234, 192, 320, strength=PREVIZ_STRENGTH)))
    marked = marker.embed(frame)
    assert np.array_equal(marked, default_engine(KEY, PREVIZ_STRENGTH).embed(frame, 0x1234))
    assert not np.array_equal(marked, default_engine(KEY).embed(frame, 0x1234))  # the strength is carried
    assert np.array_equal(marker.remove(marked), default_engine(KEY, PREVIZ_STRENGTH).remove(marked, 0x1234))


def test_lifting_with_the_capability_removes_the_mark_it_added():
    from soundstage.safeguards.watermark.samples import natural_frame

    frame = natural_frame(512, 288)
    marker = marker_for(KEY, 0xC0FFEE, 288, 512)
    lifted = marker.remove(marker.embed(frame))
    assert not default_engine(KEY).detect(lifted).found
    residue = np.abs(lifted.astype(int) - frame.astype(int))
    added = np.abs(marker.embed(frame).astype(int) - frame.astype(int))
    # measured: the mark moves 56 % of the values by 1.75 levels on average; after the lift 93 % are
    # exact and the mean residue is 0.12 (the mask is re-estimated from the marked picture)
    assert (residue == 0).mean() > 0.85 and residue.mean() < 0.1 * added.mean()


def test_a_tile_for_one_id_does_not_mark_another():
    from soundstage.safeguards.watermark.samples import natural_frame

    frame = natural_frame(512, 288)
    marked = marker_for(KEY, 41, 288, 512).embed(frame)
    assert default_engine(KEY).detect(marked).payload == 41  # never 42: the worker cannot choose the id
