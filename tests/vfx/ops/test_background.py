import cv2
import numpy as np
import pytest
from PIL import Image

from soundstage.errors import InputError, SpecError
from soundstage.vfx.contract import OpContext
from soundstage.vfx.ops import make_operation


@pytest.fixture(scope="module")
def plate(tmp_path_factory) -> str:
    import skimage.data

    p = tmp_path_factory.mktemp("plate") / "rocket.png"
    Image.fromarray(skimage.data.rocket()).save(p)
    return str(p)


def test_person_pixels_kept_and_background_replaced(plate, pics):
    frame = pics.shot(pics.astronaut(), 1.4)
    op = make_operation(OpContext(operation="background", extra_inputs={"background": plate}))
    out = op.process_chunk([frame], 0, 0)[0]
    alpha = op.alpha(frame)
    interior = cv2.erode((alpha > 0.999).astype(np.uint8), np.ones((31, 31), np.uint8)) > 0
    assert interior.sum() > 50_000
    assert np.abs(out[interior].astype(int) - frame[interior]).max() <= 1
    corner = (slice(20, 200), slice(20, 300))  # coffee backdrop, far from the person
    assert np.abs(out[corner].astype(int) - frame[corner]).mean() > 30


def test_green_screen_key_with_spill_suppression(plate, pics):
    rng = np.random.default_rng(0)
    frame = np.clip(rng.normal((40, 190, 60), 6, (720, 1280, 3)), 0, 255).astype(np.uint8)
    person = pics.astronaut()[:400, 100:400]
    frame[320:720, 500:800] = person
    frame[318:322, 500:800, 1] = 200  # green spill along the top edge
    op = make_operation(OpContext(operation="background", params={"key": "green"},
                                  extra_inputs={"background": plate}))
    out = op.process_chunk([frame], 0, 0)[0]
    inner = (slice(340, 700), slice(520, 780))
    assert np.abs(out[inner].astype(int) - person[20:380, 20:280]).mean() < 3
    from soundstage.vfx.ops.background import fit_plate

    bg = fit_plate(np.asarray(Image.open(plate).convert("RGB")), 1280, 720)
    far = (slice(20, 200), slice(20, 300))
    assert np.abs(out[far].astype(int) - bg[far]).mean() < 6
    edge = out[316:324, 520:780].astype(int)
    assert (edge[..., 1] - np.maximum(edge[..., 0], edge[..., 2]) < 10).all()  # no green fringe left


def test_bad_background_inputs(plate):
    with pytest.raises(InputError):
        make_operation(OpContext(operation="background"))
    with pytest.raises(SpecError):
        make_operation(OpContext(operation="background", params={"key": "red"}, extra_inputs={"background": plate}))
