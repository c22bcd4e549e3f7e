"""An array made by arithmetic that does nothing (``x * 1.0``) and then written in place is a new
array, and a tangent array copied and then written in place keeps its writes: two folds that
turned such arrays into aliases (passes.fold) gave wrong primal values, gradients and tangents,
silently, and ``x * 1.0`` wrote into the caller's array."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def unit_scaled_then_written(x):
    c = x * 1.0
    for i in range(x.shape[0] - 1):
        c[i + 1] = c[i + 1] + c[i] * 0.3
    return c[::2]


def scaled_then_written(x):
    c = x * 2.0
    for i in range(x.shape[0] - 1):
        c[i + 1] = c[i + 1] + np.sin(c[i]) * 0.3
    return c[::2]


def zero_added_then_written(x):
    c = x + 0.0
    c[0] = c[1] * c[2]
    return np.sum(c * c)


@pytest.mark.parametrize("fn", [unit_scaled_then_written, scaled_then_written])
def test_primal_jacobian_and_tangents(fn):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 6)
    before = x.copy()
    want = fn(x.copy())
    np.testing.assert_allclose(sg.jit(fn)(x), want, rtol=1e-14)
    np.testing.assert_array_equal(x, before)  # the caller's array is not written into
    eps = 1e-6
    jfd = np.array([(fn(x + eps * e) - fn(x - eps * e)) / (2 * eps) for e in np.eye(6)]).T
    np.testing.assert_allclose(sg.jacobian(fn)(x), jfd, rtol=1e-6, atol=1e-8)
    t = rng.standard_normal(6)
    out, tangent = sg.jvp(fn, (x,), (t,))
    np.testing.assert_allclose(out, want, rtol=1e-14)
    np.testing.assert_allclose(tangent, jfd @ t, rtol=1e-6, atol=1e-8)
    out, pullback = sg.vjp(fn, x)
    ct = rng.standard_normal(want.shape[0])
    res = pullback(ct)
    res = res[0] if isinstance(res, tuple) else res
    np.testing.assert_allclose(res, jfd.T @ ct, rtol=1e-6, atol=1e-8)


def test_gradient_after_adding_zero():
    x = np.random.default_rng(1).uniform(-1, 1, 5)
    before = x.copy()
    check_grad(zero_added_then_written, x)
    np.testing.assert_array_equal(x, before)
