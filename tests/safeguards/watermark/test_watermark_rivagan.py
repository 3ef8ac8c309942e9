"""RivaGAN through onnxruntime (the ONNX files come from the invisible-watermark wheel)."""

from __future__ import annotations

import numpy as np
import pytest

from soundstage.errors import BackendError
from soundstage.safeguards.watermark import WatermarkEngine, samples


@pytest.fixture(scope="module")
def riva():
    from soundstage.safeguards.watermark.rivagan import RivaGanWatermark

    try:
        return RivaGanWatermark()
    except BackendError as exc:
        pytest.skip(str(exc))


def test_rivagan_round_trip_small_still(riva) -> None:
    pytest.importorskip("skimage.data")
    import cv2

    still = cv2.resize(samples.natural_images()["astronaut"], (256, 256), interpolation=cv2.INTER_AREA)
    assert isinstance(riva, WatermarkEngine) and riva.payload_bits == 32
    marked = riva.embed(still, 0xCAFEBABE)
    assert 10 * np.log10(255**2 / np.mean((marked.astype(float) - still) ** 2)) >= 38.0
    result = riva.detect(marked)
    assert result.found and result.payload == 0xCAFEBABE
    assert not riva.detect(still).found


def test_missing_models_is_a_backend_error(tmp_path) -> None:
    from soundstage.safeguards.watermark.rivagan import RivaGanWatermark

    with pytest.raises(BackendError):
        RivaGanWatermark(model_dir=tmp_path)
