"""NumPy array programs: reductions, linear algebra, shapes, indexing, construction, dtypes and
memory layouts -- gradients against finite differences and known answers."""

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad
from srcgrad.types import ArrayType

rng = np.random.default_rng(7)
A = rng.uniform(0.1, 0.9, (3, 4))
B = rng.uniform(0.1, 0.9, (4, 2))
V = rng.uniform(0.1, 0.9, 4)
U = rng.uniform(0.1, 0.9, 3)
S = rng.uniform(0.1, 0.9, (3, 3)) + 3 * np.eye(3)


def reductions(x):
    a = np.sum(np.mean(x, axis=-1) * np.max(x, axis=0, keepdims=True).sum())
    b = x.min(1).sum() + np.prod(x, axis=0).sum() + x.prod() + np.amax(x)
    c = np.linalg.norm(x) + np.linalg.norm(x, axis=1).sum() + np.linalg.norm(x[0])
    return a + b + c + x.mean() + np.sum(x.sum(axis=-2, keepdims=True) ** 2)


def linalg(a, b, s, u):
    p = np.sum((a @ b) ** 2) + np.dot(a[0], b[:, 1]) + np.sum(a.T @ a) + np.matmul(u, a) @ b[:, 0]
    q = np.sum(np.outer(u, b[:, 0]) ** 2) + a.dot(b).sum()
    x = np.linalg.solve(s, u)
    return p + q + np.sum(x * x) + np.trace(s) * np.sum(np.diag(s) ** 2) + np.sum(np.diag(u) ** 2)


def shapes(a, b):
    r = a.reshape(2, 6) * np.arange(6)
    q = np.reshape(a.T, (12,)) * np.linspace(0.0, 1.0, 12)
    t = np.sum(np.transpose(a, (1, 0)) * a.T) + np.sum(a.reshape((-1,)) ** 3)
    c = np.concatenate((a, b, a), axis=0)
    st = np.stack([a, b], axis=-1)
    e = np.expand_dims(a, 1) * np.squeeze(b[:, None, :], 1)[:, :, None]
    return (np.sum(r ** 2) + np.sum(q * a.ravel()) + np.sum(a.flatten() ** 3) + t
            + np.sum(c ** 2 * np.arange(9)[:, None]) + np.sum(st * st * st) + np.sum(e * e)
            + np.concatenate([a[0], b[1, :2]]).sum() * a.size * a.ndim * len(a))


def indexing(x):
    a = np.sum(x[:, 1] * x[-1, :3]) + np.sum(x[::2, 1:] ** 3) + x[1, 2] * x[-1, -1]
    b = np.sum(x[1:] * x[:-1]) + np.sum(x[:, ::-2] ** 2) + np.sum(x[None, 0] ** 2)
    return a + b + np.sum(x[0][x[0] > 0.5] ** 2) + np.sum(x[:, 2][x[:, 1] < 0.5])


def gather(x, idx):
    return np.sum(x[idx] ** 2) + np.sum(x[:, idx] * x[0, idx]) + np.sum(x[1, idx] ** 3)


def gather1(v, idx):
    return np.sum(v[idx] * np.arange(idx.shape[0]))


def construct(a, b, x):
    v = np.array([a, b * a, 3.0])
    m = np.array([[a, b], [b, a]])
    r = np.array((x[0] * a, x[1]))
    z = np.zeros(3) + np.ones((3,)) * a + np.full(3, b) + np.zeros_like(v) + np.ones_like(v)
    return (np.sum(v * v) + np.sum(m @ m) + np.sum(np.eye(2) * m) + np.sum(r ** 2) + np.sum(z * v)
            + np.sum(np.linspace(a, b, 5) ** 2) + np.sum(x.copy() * np.full_like(x, b)))


def select(x, y):
    w = np.sum(np.where(x > 0.5, x * y, y ** 2)) + np.sum(np.clip(x, 0.2, 0.7) ** 2)
    m = (x > 0.2) & (x < 0.8)
    n = np.logical_or(x < 0.1, ~m)
    k = np.logical_and(np.logical_not(n), x > 0.3)
    return (w + np.sum(np.maximum(x, y) + np.minimum(x, 0.5) + np.abs(x - 0.5))
            + np.sum(np.where(m, x, 0.0)) + np.sum(np.where(n, x * x, 0.0))
            + np.sum(np.where(k, x, 0.0)) + np.sum(np.sign(x - 0.5) * x))


@pytest.mark.parametrize("f, args, argnums", [
    (reductions, (A,), 0),
    (linalg, (A, B, S, U), (0, 1, 2, 3)),
    (shapes, (A, A + 1.0), (0, 1)),
    (indexing, (A,), 0),
    (gather, (A, np.array([0, 2, 0, 0, 1])), 0),
    (construct, (1.5, 0.5, V), (0, 1, 2)),
    (select, (A, A[:, :1] + 0.1), (0, 1)),
], ids=lambda v: getattr(v, "__name__", ""))
def test_against_finite_differences(f, args, argnums):
    sg.check_grad(f, *args, argnums=argnums)


def test_known_answers():
    # gather with repeated indices accumulates; the sum's adjoint is all ones
    idx = np.array([0, 0, 3, 1, 0])
    g = sg.grad(gather1)(V, idx)
    np.testing.assert_allclose(g, np.bincount(idx, weights=np.arange(5), minlength=4))
    x = np.array([1.0, 3.0, 3.0, 2.0])
    # max: ties share the cotangent; prod with a zero; norm at zero
    np.testing.assert_allclose(sg.grad(lambda v: np.max(v))(x), [0.0, 0.5, 0.5, 0.0])
    np.testing.assert_allclose(sg.grad(lambda v: np.prod(v))(np.array([2.0, 0.0, 3.0])),
                               [0.0, 6.0, 0.0])
    np.testing.assert_array_equal(sg.grad(lambda v: np.linalg.norm(v))(np.zeros(3)), np.zeros(3))
    np.testing.assert_allclose(sg.grad(lambda v: np.mean(v))(x), np.full(4, 0.25))
    # np.array([a, b, c]) is differentiable in a, b, c
    ga, gb = sg.grad(lambda a, b: np.sum(np.array([a, b, a * b]) ** 2), argnums=(0, 1))(2.0, 3.0)
    assert (ga, gb) == pytest.approx((2 * 2.0 + 2 * 6.0 * 3.0, 2 * 3.0 + 2 * 6.0 * 2.0))


def logistic(w, X, y):
    z = X @ w
    return np.mean(np.log1p(np.exp(-y * z)))


def test_float32_stays_float32():
    X = rng.standard_normal((50, 5)).astype(np.float32)
    y = np.sign(rng.standard_normal(50)).astype(np.float32)
    w = (0.1 * rng.standard_normal(5)).astype(np.float32)
    gfun = sg.grad(logistic)
    g = gfun(w, X, y)
    assert g.dtype == np.float32
    gen = gfun.transform.latest().built.generated
    wide = {n: t for n, t in gen.types.items() if isinstance(t, ArrayType) and t.ndim
            and t.dtype == "float64"}
    assert not wide, f"float64 arrays in a float32 program: {wide}"
    g64 = sg.grad(logistic)(w.astype(np.float64), X.astype(np.float64), y.astype(np.float64))
    np.testing.assert_allclose(g, g64, rtol=1e-4)
    # casts: .astype and np.float32 / np.float64 pass the cotangent through, in the input's dtype
    h = sg.grad(lambda v: np.sum(np.float64(v.astype(np.float32)) * 2.0))(V)
    assert h.dtype == np.float64
    np.testing.assert_allclose(h, np.full(4, 2.0))


def layouts(x, y):
    return np.sum(np.tanh(x) * y) + np.sum(x @ y.T) + np.sum(x.reshape(-1) ** 2)


def test_noncontiguous_and_fortran_inputs():
    big = rng.uniform(0.1, 0.9, (6, 8))
    x, y = big[::2, 1::2], big[1::2, ::2]  # strided views
    ref = sg.grad(layouts, argnums=(0, 1))(x.copy(), y.copy())
    for xi, yi in [(x, y), (np.asfortranarray(x), np.asfortranarray(y)), (x.T.copy().T, y)]:
        got = sg.grad(layouts, argnums=(0, 1))(xi, yi)
        for r, gi in zip(ref, got):
            np.testing.assert_allclose(gi, r, rtol=1e-12)
    sg.check_grad(layouts, x, y, argnums=(0, 1))


def two_arrays(x, i):
    return np.sum(x[i, i])


def mask_fewer_dims(x):
    return np.sum(x[x[:, :, 0] > 0.5])  # a 2-D mask selecting rows of a 3-D array


def test_unsupported_indexing_is_rejected():
    with pytest.raises(sg.DifferentiationError, match="index array"):
        sg.grad(two_arrays)(A, np.array([0, 1]))
    with pytest.raises(sg.TypeInferenceError, match="array's number of dimensions"):
        sg.grad(mask_fewer_dims)(np.ones((2, 3, 4)))  # same-shape masks: tests/test_masks.py


def _asarray_program(x, w):
    x = np.asarray(x)  # the array itself
    v = np.asarray([w[0], w[1] * 2.0])  # a list: like np.array
    return np.sum(np.sin(x) * w) + np.sum(v * v)


def test_asarray():
    x, w = np.array([0.3, -0.5]), np.array([0.7, 0.2])
    check_grad(_asarray_program, x, w, argnums=(0, 1))
    value, _ = sg.value_and_grad(_asarray_program, argnums=(0, 1))(x, w)
    assert np.isclose(value, _asarray_program(x, w), rtol=1e-12)


def _spread_program(x):
    return (np.var(x) + np.std(x, axis=0).sum() + x.std(axis=1, keepdims=True).sum() * 2.0
            + x.var(axis=-1)[1])


def _standardise(x):
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    return np.sum(z ** 3)


@pytest.mark.parametrize("fn", [_spread_program, _standardise])
def test_var_std(fn):
    x = np.random.default_rng(0).uniform(-1, 1, (3, 4))
    check_grad(fn, x)
    value, g = sg.value_and_grad(fn)(x)
    assert np.isclose(value, fn(x), rtol=1e-12)
    assert sg.grad(fn)(x.astype(np.float32)).dtype == np.float32


def _scan_program(x):
    c = np.cumsum(x * x)
    return np.sum(np.flip(c) * np.sin(x)) + x.cumsum()[-1] ** 2


def test_cumsum_flip_hessian():
    x = np.array([0.3, -0.5, 0.7, 0.2])
    check_grad(_scan_program, x)
    h = sg.hessian(_scan_program)(x)
    g = sg.grad(_scan_program)
    fd = np.array([(g(x + 1e-5 * e) - g(x - 1e-5 * e)) / 2e-5 for e in np.eye(4)])
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-8)


def _tuple_axes(x):
    return (np.sum(np.mean(x, axis=(0, 2)) ** 2) + np.sum(x.max(axis=(-1, -3), keepdims=True) ** 3)
            + np.sum(np.linalg.norm(x, axis=(1, 2))) + np.sum(x.std(axis=(0, 1)) ** 2)
            + np.prod(x, axis=(2, 0)).sum() + np.sum(x, axis=(0, 1, 2)))


def test_tuple_axes():
    x = np.random.default_rng(1).uniform(0.5, 1.5, (2, 3, 4))
    check_grad(_tuple_axes, x)
    value, _ = sg.value_and_grad(_tuple_axes)(x)
    assert np.isclose(value, _tuple_axes(x), rtol=1e-12)
