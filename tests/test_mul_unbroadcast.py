"""The adjoint of a 1-D product as one call (srcgrad/mul_unbroadcast.py, rt.mul_unbroadcast_1):
gradients against finite differences, broadcast length-1 factors summed, float32 kept, and the
helper equal to the two calls it replaces."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad import runtime as rt
from srcgrad.testing import check_grad


def products(a, b):
    c = np.sin(a * b)
    d = c * a + np.tanh(b * c)
    return np.sum(d * d)


def rebound(a, b):
    x = a * b
    y = np.cos(x) * b
    x = y * a  # the name x is rebound between a product and its adjoint's unbroadcast
    return np.sum(x * y)


@pytest.mark.parametrize("shapes", [((6,), (6,)), ((1,), (6,)), ((6,), (1,)), ((1,), (1,))])
@pytest.mark.parametrize("fn", [products, rebound])
def test_gradients_match_finite_differences(fn, shapes):
    rng = np.random.default_rng(len(shapes[0]) + 7 * len(shapes[1]))
    a, b = (rng.uniform(-1, 1, s) for s in shapes)
    check_grad(fn, a, b, argnums=(0, 1))
    g = sg.grad(fn, argnums=(0, 1))
    ga, gb = g(a, b)
    assert ga.shape == a.shape and gb.shape == b.shape
    assert "rt.mul_unbroadcast_1(" in g.source


def test_float32_stays_float32():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(-1, 1, 5).astype(np.float32), rng.uniform(-1, 1, 5).astype(np.float32)
    ga, gb = sg.grad(products, argnums=(0, 1))(a, b)
    assert ga.dtype == np.float32 and gb.dtype == np.float32
    want = sg.grad(products, argnums=(0, 1))(a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_allclose(ga, want[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(gb, want[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("n_g, n_b, n_x", [(5, 5, 5), (1, 5, 5), (5, 1, 5), (5, 5, 1), (1, 5, 1), (5, 1, 1),
                                           (1, 1, 1)])
def test_helper_equals_the_two_calls(n_g, n_b, n_x):
    rng = np.random.default_rng(n_g + 10 * n_b + 100 * n_x)
    g, b, x = rng.standard_normal(n_g), rng.standard_normal(n_b), rng.standard_normal(n_x)
    want = rt.unbroadcast_eq1(rt.ewb.mul_11(g, b), x)
    got = rt.mul_unbroadcast_1(g, b, x)
    assert got.shape == x.shape
    np.testing.assert_array_equal(got, want)  # same products, same summation order
    np.testing.assert_array_equal(rt.mul_unbroadcast_1(g[::-1], b, x), rt.unbroadcast_eq1(g[::-1] * b, x))


@pytest.mark.parametrize("n_g, n_b, n_x", [(5, 4, 5), (5, 5, 3)])
def test_helper_rejects_shapes_that_do_not_broadcast(n_g, n_b, n_x):
    with pytest.raises(ValueError):
        rt.mul_unbroadcast_1(np.ones(n_g), np.ones(n_b), np.ones(n_x))


def test_hessian_still_differentiates_the_unfused_ir():
    rng = np.random.default_rng(5)
    a, b = rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3)
    h = sg.hessian(products)(a, b)
    g = sg.grad(products)
    eps = 1e-5
    fd = np.empty((3, 3))
    for i in range(3):
        e = np.zeros(3)
        e[i] = eps
        fd[:, i] = (g(a + e, b) - g(a - e, b)) / (2 * eps)
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-7)
