"""Boolean masks with more than one dimension in reads (masks.py): values, gradients, errors."""

import numpy as np
import pytest

import srcgrad
from srcgrad.errors import UnsupportedError
from srcgrad.testing import check_grad


def _masked_sum(x):
    return np.sum(np.exp(x[x > 0.2]) * 2.0) + np.sum(x[x < -0.5] ** 2)


def _masked_other(x, y):
    sel = y[x > 0.0]  # mask from one array applied to another of the same shape
    return np.sum(sel * sel) + np.mean(x[x > 0.0])


def _masked_store(x):
    a = np.zeros_like(x)
    a[x > 0.0] = 1.0
    return np.sum(a * x)


def _data(shape, seed=0, dtype=np.float64, order="C"):
    return np.asarray(np.random.default_rng(seed).uniform(-1, 1, shape), dtype=dtype, order=order)


@pytest.mark.parametrize("order", ["C", "F"])
def test_values_match_numpy_and_gradient_matches_fd(order):
    x = _data((3, 4), order=order)
    assert np.isclose(srcgrad.jit(_masked_sum)(x), _masked_sum(x))
    g = srcgrad.grad(_masked_sum)(x)
    expect = np.where(x > 0.2, 2.0 * np.exp(x), 0.0) + np.where(x < -0.5, 2.0 * x, 0.0)
    np.testing.assert_allclose(g, expect, rtol=1e-12)
    check_grad(_masked_sum, x)


def test_three_dimensions_float32_and_a_mask_from_another_array():
    x = _data((2, 3, 4), seed=1)
    y = _data((2, 3, 4), seed=2)
    check_grad(_masked_other, x, y, argnums=(0, 1))
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    gx, gy = srcgrad.grad(_masked_other, argnums=(0, 1))(x32, y32)
    assert gx.dtype == np.float32 and gy.dtype == np.float32
    np.testing.assert_allclose(gy, np.where(x32 > 0, 2.0 * y32, 0.0), rtol=1e-6)


def test_store_through_a_2d_mask_is_rejected_at_its_line():
    with pytest.raises(UnsupportedError, match=r"test_masks.py:\d+.*boolean mask"):
        srcgrad.grad(_masked_store)(_data((3, 3)))


def test_forward_mode_through_a_2d_mask():
    x, v = _data((3, 4), seed=3), _data((3, 4), seed=4)
    out, tangent = srcgrad.jvp(_masked_sum, (x,), (v,), backend="python")
    h = 1e-6
    fd = (_masked_sum(x + h * v) - _masked_sum(x - h * v)) / (2 * h)
    assert np.isclose(out, _masked_sum(x)) and np.isclose(tangent, fd, rtol=1e-6)
