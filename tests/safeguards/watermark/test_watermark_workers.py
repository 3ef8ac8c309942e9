"""The embed works in row bands (DR015, tenth pass: `workers.py`, `masking.block_stats` /
`FrameMask.block_rows`, `spread._apply`): a mask and a mark made band by band, in any number of
bands, must be the bytes one pass over the whole frame makes. The whole-frame mask is written
here the plain way (per-pixel erosions sampled per block, split channels, an area resize for the
mean colour, one upsampling of the whole grid) and compared exactly."""

from __future__ import annotations

import multiprocessing
import threading

import cv2
import numpy as np
import pytest

from soundstage.safeguards.watermark import masking, samples, workers
from soundstage.safeguards.watermark.masking import (_CLIP, _DARK, _LIFT, _NEIGHBOURS, A_FLAT, A_GAIN, A_GAIN_BUSY, A_MAX,
                                                      BLOCK, BUSY_REACH, GRAIN_SHARE, SKIN_CAP, SKIN_DENSE_REACH,
                                                      SKIN_DENSE_SHARE, SKIN_HD_SIDE, TEXTURE_FLOOR, TEXTURE_KNEE)
from soundstage.safeguards.watermark.spread import SpreadSpectrumWatermark, add_mark, lift_mark

PAYLOAD = 0x1234_5678_9ABC_DEF0


def _plain_amplitude(frame: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """The mask in one pass over the whole frame (sides whole blocks)."""
    h, w = frame.shape[:2]
    gain = gain * masking.size_gain(h, w)
    size = (w // BLOCK, h // BLOCK)
    kernel = np.ones((BLOCK, BLOCK), np.uint8)

    def per_block(img: np.ndarray) -> np.ndarray:
        return cv2.resize(img, size, interpolation=cv2.INTER_NEAREST)

    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    r, g, b = cv2.split(frame)
    y_lo = cv2.erode(per_block(cv2.erode(gray, kernel, anchor=(0, 0))), _NEIGHBOURS)
    c_lo = cv2.erode(per_block(cv2.erode(cv2.min(cv2.min(r, g), b), kernel, anchor=(0, 0))), _NEIGHBOURS)
    c_hi = cv2.dilate(per_block(cv2.dilate(cv2.max(cv2.max(r, g), b), kernel, anchor=(0, 0))), _NEIGHBOURS)
    cap = cv2.min(cv2.min(cv2.LUT(y_lo, _LIFT), cv2.LUT(c_lo, _CLIP)), cv2.LUT(cv2.bitwise_not(c_hi), _CLIP))
    small = cv2.resize(cv2.pyrDown(cv2.pyrDown(gray)), size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    band = small - cv2.GaussianBlur(small, (0, 0), 1.0)
    contrast = cv2.erode(cv2.sqrt(cv2.GaussianBlur(band * band, (0, 0), 2.0)),
                         np.ones((2 * BUSY_REACH + 1,) * 2, np.uint8))
    texture = cv2.max(contrast - TEXTURE_FLOOR, 0.0) * A_GAIN + A_FLAT
    texture += cv2.max(contrast - TEXTURE_KNEE, 0.0) * (A_GAIN_BUSY - A_GAIN)
    every_other = np.ascontiguousarray(gray[::2, ::2])
    grain = cv2.absdiff(every_other, cv2.blur(every_other, (3, 3))).astype(np.float32)
    grain = cv2.erode(cv2.resize(grain, size, interpolation=cv2.INTER_AREA), np.ones((2 * BUSY_REACH + 1,) * 2, np.uint8))
    texture = cv2.min(cv2.min(cv2.max(texture, grain * GRAIN_SHARE), A_MAX), cap)
    amp = cv2.multiply(texture, cv2.LUT(y_lo, _DARK), scale=float(gain))
    on_skin = masking.skin_blocks(frame, size).astype(bool)
    skin_cap = np.full(amp.shape, float(SKIN_CAP * gain), np.float32)
    if min(h, w) >= SKIN_HD_SIDE:
        wide = cv2.erode(contrast, np.ones((2 * SKIN_DENSE_REACH + 1,) * 2, np.uint8))
        dense = (cv2.max(wide - TEXTURE_FLOOR, 0.0) * A_GAIN + A_FLAT) * SKIN_DENSE_SHARE
        skin_cap = cv2.max(skin_cap, cv2.multiply(dense, cv2.LUT(y_lo, _DARK), scale=float(gain)))
    amp[on_skin] = np.minimum(amp[on_skin], skin_cap[on_skin])
    return cv2.resize(amp, (w, h), interpolation=cv2.INTER_LINEAR)


def _plain_embed(frame: np.ndarray, pattern: np.ndarray, gain: float = 1.0) -> np.ndarray:
    amp = _plain_amplitude(frame, gain)
    plus = cv2.multiply(cv2.max(pattern, 0.0), amp, dtype=cv2.CV_8U)
    minus = cv2.multiply(cv2.max(-pattern, 0.0), amp, dtype=cv2.CV_8U)
    return cv2.subtract(cv2.add(frame, cv2.merge((plus,) * 3)), cv2.merge((minus,) * 3))


@pytest.fixture
def threads():
    before = cv2.getNumThreads()
    yield cv2.setNumThreads
    cv2.setNumThreads(before)


@pytest.mark.parametrize("width,height,variant", [(1920, 1080, 13), (1280, 720, 4), (640, 360, 0), (320, 192, 21),
                                                  (72, 68, 5)])
def test_banded_mask_and_mark_are_the_plain_pass_in_any_number_of_bands(threads, width, height, variant) -> None:
    frame = samples.natural_frame(width, height, variant)
    pattern = SpreadSpectrumWatermark().pattern(PAYLOAD, height, width)
    plain = _plain_embed(frame, pattern, 1.3)
    assert np.array_equal(masking.amplitude(frame, 1.3), _plain_amplitude(frame, 1.3))
    for count in (1, 2, 3, 5):
        threads(count)
        assert np.array_equal(add_mark(frame, pattern, 1.3), plain), count
        mask = masking.frame_mask(frame, 1.3, workers.bands(height // BLOCK, count))
        whole = mask.block_rows(0, mask.rows)[0]
        for b0, b1 in workers.bands(mask.rows, count + 1):       # cut differently from the statistics
            amp, first = mask.block_rows(b0, b1)
            assert np.array_equal(amp[b0 - first:b1 - first], whole[b0:b1]), (count, b0, b1)


def test_remove_is_the_same_in_any_number_of_bands(threads) -> None:
    engine = SpreadSpectrumWatermark()
    frame = samples.natural_frame(1280, 720, 7)
    marked = engine.embed(frame, PAYLOAD)
    threads(1)
    one = engine.remove(marked, PAYLOAD)
    threads(3)
    assert np.array_equal(engine.remove(marked, PAYLOAD), one)
    assert np.array_equal(lift_mark(marked, engine.pattern(PAYLOAD, 720, 1280), 1.0), one)


@pytest.mark.parametrize("width,height", [(854, 480), (1918, 1078), (101, 67)])
def test_a_partial_block_counts_as_a_whole_one(width, height) -> None:
    """Sides that are not whole blocks: the frame is extended by its last row and column, so a
    dark edge keeps no mark and a saturated one no step past its level."""
    frame = samples.natural_frame(width, height, 3)
    frame[-1, :] = 0                       # a black last row and column (a partial block each)
    frame[:, -1] = 255
    amp = masking.amplitude(frame)
    assert amp.shape == (height, width)
    assert float(amp[-1].max()) == 0.0 and float(amp[:, -1].max()) == 0.0
    marked = SpreadSpectrumWatermark().embed(frame, PAYLOAD)
    assert np.array_equal(marked[-1], frame[-1]) and np.array_equal(marked[:, -1], frame[:, -1])


def test_bands_cover_the_rows_and_errors_reach_the_caller() -> None:
    for rows in (1, 7, 270):
        for count in (1, 2, 3, 100):
            spans = workers.bands(rows, count)
            assert spans[0][0] == 0 and spans[-1][1] == rows
            assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
            assert len(spans) <= min(count, workers.MAX_BANDS, rows)

    def work(b0: int, b1: int) -> None:
        if b0 > 0:
            raise ValueError(f"band {b0}")

    with pytest.raises(ValueError, match="band"):
        workers.run(work, workers.bands(10, 3))


def _embed_in_child(queue) -> None:
    cv2.setNumThreads(2)
    frame = samples.natural_frame(640, 360, 2)
    queue.put(SpreadSpectrumWatermark().embed(frame, PAYLOAD).tobytes())


def test_a_forked_child_gets_a_pool_of_its_own(threads) -> None:
    """A fork keeps the pool object but not its threads: a child that used the parent's would wait
    for ever (render workers are forked)."""
    threads(2)
    frame = samples.natural_frame(640, 360, 2)
    expected = SpreadSpectrumWatermark().embed(frame, PAYLOAD)        # the parent's pool now exists
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_embed_in_child, args=(queue,))
    child.start()
    got = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert got == expected.tobytes()


# ---------------------------------------------------------------- the perspective search, ahead

def test_work_ahead_is_the_same_call_wherever_it_runs(threads) -> None:
    calls = []

    def work(x: int, ahead: workers.Ahead) -> int:
        calls.append(threading.current_thread().name)
        return x * 2

    threads(1)
    kept = workers.Ahead(work, 21)
    kept.start()                                   # one thread: nothing starts ...
    assert not calls
    assert kept.result() == 42 and calls == [threading.current_thread().name]   # ... it runs when asked
    threads(2)
    started = workers.Ahead(work, 5)
    started.start()
    assert started.result() == 10 and calls[-1].startswith("soundstage-watermark")


def test_work_ahead_stops_at_its_next_check(threads) -> None:
    threads(2)
    entered, release = threading.Event(), threading.Event()

    def work(ahead: workers.Ahead) -> str:
        entered.set()
        release.wait(10)
        ahead.check()
        return "finished"

    job = workers.Ahead(work)
    job.start()
    assert entered.wait(10)
    job.stop()
    release.set()
    with pytest.raises(workers.Stopped):
        job.result()


def _reads(engine: SpreadSpectrumWatermark, pictures: list[np.ndarray]) -> list[tuple]:
    out = []
    for picture in pictures:
        d = engine.detect(picture)
        out.append((d.found, d.payload, d.details.get("geometry"), d.details.get("sync_z"), d.details.get("validation_z")))
    return out


def test_detection_with_the_perspective_ahead_reads_as_one_thread(threads, monkeypatch) -> None:
    """The perspective search starts beside the rotation search once the first read fails: the
    reads (found, id, geometry, the sync and validation z) are those of one thread, where it runs
    last; on a frame the first read decodes, it never starts."""
    pytest.importorskip("skimage.data", reason="scikit-image provides the natural test photos")
    from soundstage.safeguards.watermark import attacks

    engine = SpreadSpectrumWatermark()
    payload = 0x6FD0_996B_A47D_139A
    marked = engine.embed(samples.natural_frame(1920, 1080, variant=5), payload)
    pictures = [attacks.perspective(marked, 0.03, seed=21),          # read by the perspective search
                attacks.STILL_ATTACKS["rot5"](marked),              # by the first read
                samples.natural_frame(1280, 720, variant=11)]        # unmarked: every step runs
    threads(1)
    one = _reads(engine, pictures)
    assert [r[1] for r in one] == [payload, payload, None]
    assert one[0][2].startswith("perspective")

    started = []
    start = workers.Ahead.start

    def counting_start(self):
        started.append(self)
        start(self)

    monkeypatch.setattr(workers.Ahead, "start", counting_start)
    threads(2)
    assert _reads(engine, pictures[1:2]) == one[1:2] and not started      # decoded at once: never started
    assert _reads(engine, pictures[:1]) == one[:1]
    assert len(started) == 1 and started[0]._future is not None           # ran in the pool
    assert _reads(engine, pictures) == one
