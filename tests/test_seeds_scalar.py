"""The scalar cases of the PyTorch-autograd tutorials (shared/PARITY.md), with their numbers."""

import math

import numpy as np
import pytest

import srcgrad as sg


def s02(x):
    return x ** 2 + 3 * x + 2


def s03(x, y):
    return 3 * x ** 2 + 2 * x * y + y ** 2


def s05(x):
    return 4 * x ** 3 + 2 * x ** 2 + x


def s06(x, y):
    return x ** 2 + y ** 3


def s21(x, y):
    return (x ** 2 + 2 * x) * math.log(y)


def s31(x):
    return (x - 1) * (x - 2) * (x - 3)


def s32(x):
    y = x * x
    z = 2 * y + 3
    return z


def s33(a, b):
    x = 2 * a + 3 * b
    y = 5 * a ** 2 + 3 * b ** 3
    z = 2 * x + 3 * y
    return z


def test_s02():
    assert sg.grad(s02)(2.0) == pytest.approx(7.0, rel=1e-15)


def test_s03_both_arguments():
    gx, gy = sg.grad(s03, argnums=(0, 1))(1.0, 2.0)
    assert (gx, gy) == pytest.approx((10.0, 6.0), rel=1e-15)


def test_s05():
    assert sg.grad(s05)(1.0) == pytest.approx(17.0, rel=1e-15)


def test_s06():
    assert sg.grad(s06, argnums=(0, 1))(2.0, 3.0) == pytest.approx((4.0, 27.0), rel=1e-15)


def test_s21_both_gradients_at_once():
    gx, gy = sg.grad(s21, argnums=(0, 1))(1.0, 2.0)
    assert gx == pytest.approx(4 * math.log(2.0), rel=1e-14)
    assert gx == pytest.approx(2.7725887, abs=1e-7)
    assert gy == pytest.approx(1.5, rel=1e-14)


def test_s31_value_and_gradient():
    value, g = sg.value_and_grad(s31)(3.5)
    assert value == pytest.approx(1.875, rel=1e-15)
    assert g == pytest.approx(5.75, rel=1e-15)


def test_s32():
    assert sg.grad(s32)(3.5) == pytest.approx(14.0, rel=1e-15)


def test_s33():
    assert sg.grad(s33, argnums=(0, 1))(2.0, 1.0) == pytest.approx((64.0, 33.0), rel=1e-15)


def test_s07_gradient_descent_converges():
    from examples.gradient_descent import minimise

    x = minimise(s02, 5.0, lr=0.1, steps=200)
    assert x == pytest.approx(-1.5, abs=1e-9)


def test_s07_gradient_descent_inside_njit():
    import numba

    df = sg.grad(s02)

    @numba.njit
    def descend(x, lr, steps):
        for _ in range(steps):
            x = x - lr * df(x)
        return x

    assert descend(5.0, 0.1, 200) == pytest.approx(-1.5, abs=1e-9)


def test_float32_scalar_gradient_value():
    # numba returns float32 scalars to Python as float (docs/limitations.md); arrays keep dtype
    g = sg.grad(s02)(np.float32(2.0))
    assert g == pytest.approx(7.0, rel=1e-6)
