"""A local array name rebound to an array of another shape (a = a[1:], a = np.concatenate((a, ..)),
growing or shrinking in a loop): the old binding's cotangent has the old shape (found by fuzzing:
the reset cotangent was allocated with the new shape, before the restore, and broadcast into)."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def rebind_shape(x):
    a = x[:1] * 1.0
    a = a + x[1:3] * a[0]
    return np.sum(a)


def rebind_concat(x):
    a = x[:1] * 2.0
    a = np.concatenate((a, a[0:1]))
    return np.sum(a * x[1:3])


def self_view(x):
    a = x * 1.0
    a = a[1:]
    return np.sum(a * a)


def grow_in_loop(x):
    a = x[:1]
    for k in range(1, 3):
        a = np.concatenate((a, a[-1:] * x[k]))
    return np.sum(a * a)


def shrink_in_loop(x):
    a = x * 1.0
    for _k in range(2):
        a = a[1:] * a[0]
    return np.sum(a)


def shrink_in_while(x):
    a = x * 1.0
    while a.shape[0] > 2:
        a = a[1:] * np.sin(a[0])
    return np.sum(a * a)


def grow_rows(x):
    rows = x[:2].reshape(1, 2)
    for k in range(2):
        rows = np.concatenate((rows, rows[-1:] * x[k + 2]), axis=0)
    return np.sum(rows * rows)


def param_slice(x):
    x = x[1:] * 2.0
    return np.sum(x * x)


def second_difference(x):
    d = x[1:] - x[:-1]
    d = d[1:] - d[:-1]
    return np.sum(d ** 2)


def param_view(x):
    x = x[::-1]
    return np.sum(x * np.arange(x.shape[0]))


@pytest.mark.parametrize("fn", [param_slice, second_difference, param_view])
def test_argument_rebound(fn):
    x = np.array([0.3, -0.5, 0.7, 0.2, -0.9]) ** 2
    check_grad(fn, x)
    assert sg.grad(fn)(x).shape == x.shape


def rows_then_matmul(m, w):
    m = np.tanh(m[:, 1:] @ w)
    m = m[1:, :] * 1.0
    return np.sum(m ** 2)


def test_matrix_rebound():
    rng = np.random.default_rng(0)
    m, w = rng.uniform(-1, 1, (4, 6)), rng.uniform(-1, 1, (5, 2))
    check_grad(rows_then_matmul, m, w, argnums=(0, 1))
    gm, gw = sg.grad(rows_then_matmul, argnums=(0, 1))(m, w)
    assert gm.shape == m.shape and gw.shape == w.shape


def transpose_rebound(m):
    m = m.T
    m = m.reshape(m.shape[1], m.shape[0])  # one type per name: 2-D throughout
    return np.sum(m * np.arange(m.size).reshape(m.shape))


def test_view_rebound_known_answer():
    m = np.ones((2, 3))
    np.testing.assert_allclose(sg.grad(transpose_rebound)(m), [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]])
    check_grad(transpose_rebound, m)


@pytest.mark.parametrize("fn", [rebind_shape, rebind_concat, self_view, grow_in_loop, shrink_in_loop,
                                shrink_in_while, grow_rows])
def test_rebound_to_another_shape(fn):
    x = np.array([0.3, -0.5, 0.7, 0.2, -0.9])
    check_grad(fn, x)
    value, g = sg.value_and_grad(fn)(x)
    assert np.isclose(value, fn(x), rtol=1e-12)
    assert g.shape == x.shape


def test_known_answers():
    x = np.array([0.3, -0.5, 0.7])
    np.testing.assert_allclose(sg.grad(rebind_shape)(x), [2.2, 0.3, 0.3], rtol=1e-12)
    np.testing.assert_allclose(sg.grad(self_view)(x), [0.0, -1.0, 1.4], rtol=1e-12)
