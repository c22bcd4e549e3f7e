"""np.tril / np.triu (any int k), np.roll (no axis), np.linalg.inv and np.linalg.det: compiled
gradients against finite differences, second derivatives (their tangent rules), float32, and the
forms srcgrad rejects with a message."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.errors import SrcgradError
from srcgrad.testing import check_grad


def triangles(a, k):
    low = np.tril(a)
    up = np.triu(a, k=1)
    return np.sum(low @ up.T) + np.sum(np.tril(a, -1) ** 2) + np.sum(np.sin(np.triu(a, k)))


def rolled(x, m):
    return np.sum(np.roll(x, 3) * x) + np.sum(np.roll(m, -2) * m * m)


def gaussian_nll(a, b):
    s = a @ a.T + 3.0 * np.eye(a.shape[0])  # symmetric positive definite
    return 0.5 * np.log(np.linalg.det(s)) + 0.5 * np.sum(b * (np.linalg.inv(s) @ b))


def _fd_hessian(f, x, *rest):
    g = sg.grad(f)
    eps = 1e-5
    out = np.empty((x.size, x.size))
    for i in range(x.size):
        e = np.zeros(x.size)
        e[i] = eps
        e = e.reshape(x.shape)
        out[:, i] = ((g(x + e, *rest) - g(x - e, *rest)) / (2 * eps)).ravel()
    return out


@pytest.mark.parametrize("k", [0, 1, -2])
def test_tril_triu(k):
    a = np.random.default_rng(k + 5).uniform(-1, 1, (4, 3))
    check_grad(triangles, a, k)
    ga = sg.grad(triangles)(a, k)
    assert ga.shape == a.shape


def test_roll_of_vectors_and_matrices():
    rng = np.random.default_rng(1)
    x, m = rng.uniform(-1, 1, 7), rng.uniform(-1, 1, (3, 4))
    check_grad(rolled, x, m, argnums=(0, 1))


def test_inv_det_gradient_and_hessian():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-1, 1, (3, 3)), rng.uniform(-1, 1, 3)
    check_grad(gaussian_nll, a, b, argnums=(0, 1))
    h = sg.hessian(gaussian_nll)(a, b)
    np.testing.assert_allclose(h.reshape(9, 9), _fd_hessian(gaussian_nll, a, b), rtol=1e-5, atol=1e-6)


def test_tril_hessian():
    a = np.random.default_rng(3).uniform(-1, 1, (3, 3))
    h = sg.hessian(triangles)(a, 0)
    np.testing.assert_allclose(h.reshape(9, 9), _fd_hessian(triangles, a, 0), rtol=1e-5, atol=1e-6)


def test_float32_stays_float32():
    rng = np.random.default_rng(4)
    a, b = rng.uniform(-1, 1, (3, 3)).astype(np.float32), rng.uniform(-1, 1, 3).astype(np.float32)
    ga, gb = sg.grad(gaussian_nll, argnums=(0, 1))(a, b)
    assert ga.dtype == np.float32 and gb.dtype == np.float32
    want = sg.grad(gaussian_nll, argnums=(0, 1))(a.astype(np.float64), b.astype(np.float64))
    np.testing.assert_allclose(ga, want[0], rtol=2e-3, atol=2e-4)


def roll_axis(x):
    return np.sum(np.roll(x, 1, axis=0))


def tril_vector(x):
    return np.sum(np.tril(x))


@pytest.mark.parametrize("fn, words", [(roll_axis, "np.roll(x, shift)"), (tril_vector, "2-D")])
def test_rejections_name_the_construct(fn, words):
    with pytest.raises(SrcgradError) as err:
        sg.grad(fn)(np.ones((3, 2)) if fn is roll_axis else np.ones(3))
    assert words in str(err.value) and "test_tri_roll_inv_det.py" in str(err.value)
