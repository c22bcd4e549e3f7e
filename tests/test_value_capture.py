"""value_and_grad and vjp return the primal result as the forward sweep left it, even when the
adjoint sweep restores that variable (or the array's elements) on its way back; and vjp's
pullback owns its copy of an array cotangent.  Before the fix the first case returned the
initial ``a = 0.5`` as the value, and the vjp of an array updated in place in a loop lost the
in-place part of its adjoint (1.2x the right gradient here), both silently."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def carried_through_branches(w, x):
    a = 0.5
    for i in range(x.shape[0]):
        t = a * w[i]
        if t > 0.2:
            a = t + x[i]
        elif t < -0.2:
            a = t * x[i]
        else:
            t = t * t
            a = a + t
    return a


def array_result(x):
    c = np.ones(x.shape[0])
    for k in range(3):
        for i in range(x.shape[0]):
            c[i] = c[i] * 0.5 + np.sin(x[i]) * k
    return c


def view_result(x):
    c = np.ones(x.shape[0])
    for k in range(2):
        for i in range(x.shape[0]):
            c[i] = c[i] * x[i] + k
    return c[1:]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_value_and_grad_value_is_the_primal(seed):
    rng = np.random.default_rng(seed)
    w, x = rng.uniform(-1, 1, 7), rng.uniform(-1, 1, 7)
    v, g = sg.value_and_grad(carried_through_branches, argnums=(0, 1))(w, x)
    assert v == pytest.approx(carried_through_branches(w, x), rel=1e-14)
    gw, gx = sg.grad(carried_through_branches, argnums=(0, 1))(w, x)
    np.testing.assert_allclose(g[0], gw, rtol=1e-14)
    np.testing.assert_allclose(g[1], gx, rtol=1e-14)
    check_grad(carried_through_branches, w, x, argnums=(0, 1))


@pytest.mark.parametrize("fn", [array_result, view_result])
def test_vjp_output_is_the_primal(fn):
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 6)
    out, pullback = sg.vjp(fn, x)
    want = fn(x)
    np.testing.assert_allclose(out, want, rtol=1e-14)
    ct = rng.standard_normal(want.shape[0])
    before = ct.copy()
    res = pullback(ct)
    np.testing.assert_array_equal(ct, before)  # the caller's cotangent is not written into
    (g,) = res if isinstance(res, tuple) else (res,)
    eps = 1e-6
    fd = np.array([(np.dot(fn(x + eps * e), ct) - np.dot(fn(x - eps * e), ct)) / (2 * eps) for e in np.eye(6)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
