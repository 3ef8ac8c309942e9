import numpy as np

from soundstage.vfx.ops.smoothing import OneEuroFilter, smooth_sequence, smooth_window


def test_constant_input_is_returned_unchanged():
    values = [np.full((4, 2), 7.5)] * 10
    assert np.allclose(smooth_sequence(values, 24.0)[-1], 7.5)


def test_noise_on_a_still_point_is_reduced_at_least_2_5_fold():
    rng = np.random.default_rng(0)
    raw = [np.array([100.0, 50.0]) + rng.normal(0, 1.0, 2) for _ in range(200)]
    smooth = smooth_sequence(raw, 24.0, min_cutoff=0.8, beta=0.02)
    raw_rms = np.sqrt(np.mean([(r - [100, 50]) ** 2 for r in raw[20:]]))
    smooth_rms = np.sqrt(np.mean([(s - [100, 50]) ** 2 for s in smooth[20:]]))
    assert smooth_rms < raw_rms / 2.5


def test_fast_motion_is_followed_with_little_lag():
    # 10 px/frame pan: the speed term must open the cutoff (a plain 1 Hz low-pass lags ~40 px)
    xs = [np.array([10.0 * i]) for i in range(60)]
    out = smooth_sequence(xs, 24.0, min_cutoff=0.8, beta=0.02)
    assert abs(out[-1][0] - xs[-1][0]) < 12.0
    slow = smooth_sequence(xs, 24.0, min_cutoff=0.8, beta=0.0)
    assert abs(slow[-1][0] - xs[-1][0]) > 25.0


def test_window_equals_sequence_restarted_at_window_start():
    rng = np.random.default_rng(3)
    xs = [rng.normal(0, 1, (3, 2)) for _ in range(30)]
    assert np.array_equal(smooth_window(xs[10:26], 24.0), smooth_sequence(xs[10:26], 24.0)[-1])
    f = OneEuroFilter(24.0)
    f(xs[0])
    f.reset()
    assert np.array_equal(f(xs[5]), xs[5])
