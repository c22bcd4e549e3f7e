"""A zero-filled gradient written once per element by an ascending loop is filled by stores
(srcgrad/first_store.py): allocated empty, ``a[i] += v`` becomes ``a[i] = v``, the elements the
loop does not reach are zeroed after it.

Every case checks the gradient against the hand-derived one or finite differences, and whether
the generated adjoint took the store form.
"""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad, signed_indices


def rosenbrock(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def rosen_hand(x):
    g = np.zeros_like(x)
    for i in range(x.shape[0] - 1):
        a = x[i + 1] - x[i] * x[i]
        g[i] += -400.0 * x[i] * a - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * a
    return g


def head_only(x, m):
    """Reads only x[:m]: the rest of the gradient must come back as zeros, not garbage."""
    s = 0.0
    for i in range(m):
        s += x[i] * x[i] * x[i] - 2.0 * x[i]
    return s


def skips(x):
    """A `continue` may skip the write: the increment must stay an increment into zeros."""
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] < 0.0:
            continue
        s += x[i] * x[i] * x[i]
    return s


def from_one(x):
    s = 0.0
    for i in range(1, x.shape[0]):
        s += x[i] * x[i]
    return s


@pytest.mark.parametrize("n", [0, 1, 2, 3, 57])
def test_rosenbrock_any_length(n):
    x = np.random.default_rng(n).uniform(-1.5, 1.5, n)
    g = sg.grad(rosenbrock)
    np.testing.assert_allclose(g(x), rosen_hand(x), rtol=1e-10, atol=1e-9)
    src = signed_indices(g.source)
    assert "x_bar = rt.empty_f64(x.shape)" in src and "x_bar[i] = " in src and "zeros" not in src


@pytest.mark.parametrize("m", [-3, 0, 4, 9])
def test_tail_beyond_the_loop_is_zero(m):
    x = np.random.default_rng(3).standard_normal(9)
    g = sg.grad(head_only)
    garbage = [np.full(9, 1e300) for _ in range(20)]  # dirty the allocator's free memory first
    del garbage
    got = g(x, m)
    k = max(m, 0)
    want = np.zeros(9)
    want[:k] = 3.0 * x[:k] ** 2 - 2.0
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert "x_bar = rt.empty_f64(x.shape)" in g.source


def test_continue_keeps_the_increment():
    x = np.random.default_rng(4).standard_normal(11)
    g = sg.grad(skips)
    np.testing.assert_allclose(g(x), np.where(x < 0.0, 0.0, 3.0 * x * x), rtol=1e-12)
    assert "x_bar = rt.empty_f64" not in g.source and "empty_like" not in g.source
    check_grad(skips, x)


def test_loop_not_from_zero_keeps_the_zero_fill():
    x = np.random.default_rng(5).standard_normal(7)
    g = sg.grad(from_one)
    want = 2.0 * x
    want[0] = 0.0
    np.testing.assert_allclose(g(x), want, rtol=1e-12)
    assert "x_bar = rt.empty_f64" not in g.source and "empty_like" not in g.source
