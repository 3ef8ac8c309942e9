import numpy as np
import pytest
from PIL import Image

from soundstage.errors import InputError, RefusedError
from soundstage.vfx.contract import OpContext
from soundstage.vfx.ops import make_operation


def _mask_file(tmp_path, shape, box, name="mask.png") -> str:
    m = np.zeros(shape, np.uint8)
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = 255
    p = tmp_path / name
    Image.fromarray(m).save(p)
    return str(p)


def _ctx(mask, performers=None, **params):
    return OpContext(operation="cleanup", params=params, performers=performers or {}, width=1280, height=720,
                     extra_inputs={"mask": mask})


def test_masked_object_is_inpainted_and_nothing_else_changes(tmp_path, pics):
    clean = pics.backdrop()
    frame = clean.copy()
    frame[300:340, 100:150] = (0, 0, 255)  # a blue object on the table
    op = make_operation(_ctx(_mask_file(tmp_path, (720, 1280), (295, 345, 95, 155))))
    out = op.process_chunk([frame], 0, 0)[0]
    region = out[300:340, 100:150].astype(int)
    assert np.abs(region - clean[300:340, 100:150]).mean() < 30  # filled in from the surroundings
    assert region[..., 2].mean() < 200  # the blue object is gone
    keep = np.ones((720, 1280), bool)
    keep[295:345, 95:155] = False
    assert np.array_equal(out[keep], frame[keep])


def test_wrong_size_mask_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="640x360"):
        make_operation(_ctx(_mask_file(tmp_path, (360, 640), (10, 20, 10, 20))))


def test_guard_refuses_a_mask_over_an_unconsented_face(tmp_path, refs, pics):
    frame = pics.shot(pics.astronaut(), 1.0)
    mask = _mask_file(tmp_path, (720, 1280), (280, 390, 645, 760))  # over the face
    with pytest.raises(RefusedError, match="not a consented performer"):
        make_operation(_ctx(mask)).process_chunk([frame], 0, 0)
    with pytest.raises(RefusedError):
        make_operation(_ctx(mask, {"hopper": refs["hopper"]})).process_chunk([frame], 0, 0)
    out = make_operation(_ctx(mask, {"collins": refs["collins"]})).process_chunk([frame], 0, 0)[0]
    assert not np.array_equal(out, frame)


def test_guard_refuses_a_large_mask_on_a_watermarked_frame(tmp_path, pics):
    from soundstage.safeguards.watermark import default_engine

    marked = default_engine().embed(pics.backdrop(), 4242)
    big = _mask_file(tmp_path, (720, 1280), (0, 300, 0, 400), "big.png")  # 13% of the frame
    with pytest.raises(RefusedError, match="watermark"):
        make_operation(_ctx(big)).process_chunk([marked], 0, 0)
    make_operation(_ctx(big)).process_chunk([pics.backdrop()], 0, 0)  # unmarked: allowed
    small = _mask_file(tmp_path, (720, 1280), (100, 160, 100, 200), "small.png")  # 0.7%
    make_operation(_ctx(small)).process_chunk([marked], 0, 0)


@pytest.mark.slow
def test_generative_cleanup_paints_only_inside_the_mask_through_the_diffusers_backend(tmp_path, pics):
    pytest.importorskip("diffusers")
    from soundstage.generate.backends.diffusers_local import weights_digest
    from soundstage.testing.tiny_diffusers import build_tiny_sd

    path = build_tiny_sd(tmp_path / "tiny-sd")
    config = {"path": str(path), "weights_sha256": weights_digest(path)}
    frame = pics.backdrop()
    frame[300:340, 100:150] = (0, 0, 255)
    mask = _mask_file(tmp_path, (720, 1280), (295, 345, 95, 155))
    op = make_operation(_ctx(mask, method="generative", generative_config=config, steps=2, seed=3))
    out = op.process_chunk([frame, frame], 0, 0)
    keep = np.ones((720, 1280), bool)
    keep[295:345, 95:155] = False
    assert np.array_equal(out[0][keep], frame[keep])  # nothing outside the mask moves
    assert not np.array_equal(out[0][~keep], frame[~keep])  # the masked region was repainted
    assert np.array_equal(out[0], out[1])  # fixed seed: the same plate frame paints the same way
    # the weights are checked against the registered digest before anything loads
    with pytest.raises(RefusedError, match="do not match"):
        make_operation(_ctx(mask, method="generative", steps=2,
                            generative_config={"path": str(path), "weights_sha256": "0" * 64})).process_chunk(
            [frame], 0, 0)


def test_guard_finds_a_mark_made_with_the_production_key(tmp_path, pics):
    from soundstage.safeguards.watermark import default_engine

    key = bytes(range(32))
    marked = default_engine(key).embed(pics.backdrop(), 4242)
    big = _mask_file(tmp_path, (720, 1280), (0, 300, 0, 400), "big.png")
    ctx = OpContext(operation="cleanup", params={}, width=1280, height=720, extra_inputs={"mask": big},
                    watermark_key=key.hex())
    with pytest.raises(RefusedError, match="watermark"):
        make_operation(ctx).process_chunk([marked], 0, 0)
