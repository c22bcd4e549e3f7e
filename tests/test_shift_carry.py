"""``a[i + 1] += v`` carried to the next iteration in a scalar (srcgrad/shift_carry.py).

Every case checks the gradient against finite differences (or the hand-derived Rosenbrock
gradient) and whether the generated adjoint carried the increment.
"""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def rosenbrock(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def weighted_pairs(x, w):
    s = 0.0
    for i in range(2, x.shape[0] - 1):
        s += w[i] * x[i] * x[i] * x[i + 1] + x[i + 1] * x[i + 1]
    return s


def branchy_pairs(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        if x[i] > 0.0:
            s += x[i] * x[i + 1]
    return s


def rosen_hand(x):
    g = np.zeros_like(x)
    for i in range(x.shape[0] - 1):
        a = x[i + 1] - x[i] * x[i]
        g[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * a
    return g


@pytest.mark.parametrize("n", [1, 2, 3, 57])
def test_rosenbrock_carried_any_length(n):
    x = np.random.default_rng(n).uniform(-1.5, 1.5, n)
    g = sg.grad(rosenbrock)
    np.testing.assert_allclose(g(x), rosen_hand(x), rtol=1e-10, atol=1e-9)
    assert "x_bar_carry" in g.source and "rt.range_last" not in g.source


def test_carry_with_offset_start_and_two_arrays():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(9), rng.standard_normal(9)
    g = sg.grad(weighted_pairs, argnums=(0, 1))
    g(x, w)
    assert "x_bar_carry" in g.source
    check_grad(weighted_pairs, x, w, argnums=(0, 1))


def test_increment_under_an_if_is_not_carried():
    x = np.random.default_rng(2).standard_normal(10)
    g = sg.grad(branchy_pairs)
    g(x)
    assert "x_bar_carry" not in g.source
    check_grad(branchy_pairs, x)
