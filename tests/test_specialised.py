"""Type-specialised runtime helpers (srcgrad.runtime.specialised) and the code that uses them.

Helpers are checked against NumPy, compiled and as plain Python (the debug backend), on
broadcast shapes, float32 and non-contiguous inputs; gradients whose generated code now calls
them are checked against finite differences and against the Python backend.
"""

import numpy as np
import pytest

import srcgrad
from srcgrad import runtime as rt
from srcgrad.testing import check_grad

RNG = np.random.default_rng(7)


def _both(fn):
    """The compiled helper and its plain-Python twin."""
    return [fn, fn.py_func]


def _noncontig(a):
    """A strided view with a's values."""
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype) if a.ndim else a
    big[..., ::2] = a
    return big[..., ::2]


def _np_unbroadcast(g, shape):
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return np.sum(g, axis=axes).reshape(shape)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("gshape,xshape", [((5,), (5,)), ((5,), (1,)), ((3, 4), (3, 4)), ((3, 4), (1, 4)),
                                           ((3, 4), (3, 1)), ((3, 4), (1, 1)), ((2, 3, 4), (2, 1, 4)),
                                           ((2, 3, 4), (1, 3, 1))])
def test_unbroadcast_eq(dtype, gshape, xshape):
    g = RNG.standard_normal(gshape).astype(dtype)
    x = np.zeros(xshape, dtype)
    fn = getattr(rt, f"unbroadcast_eq{len(gshape)}")
    for f in _both(fn):
        for gg in (g, _noncontig(g)):
            r = f(gg, x)
            assert r.shape == xshape and r.dtype == dtype
            np.testing.assert_allclose(r, _np_unbroadcast(g, xshape), rtol=1e-5)
    assert fn(g, x) is g if gshape == xshape else True


@pytest.mark.parametrize("xshape", [(4,), (1,)])
def test_unbroadcast_rows_and_sum_all(xshape):
    g = RNG.standard_normal((3, 4))
    for f in _both(rt.unbroadcast_rows):
        np.testing.assert_allclose(f(_noncontig(g), np.zeros(xshape)), _np_unbroadcast(g, xshape))
    for f in _both(rt.sum_all):
        assert np.isclose(f(g.T), g.sum())


def test_unbroadcast_bad_shape_raises():
    with pytest.raises(ValueError):
        rt.unbroadcast_eq2(np.ones((3, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError):
        rt.unbroadcast_rows(np.ones((3, 4)), np.ones(3))


def test_fills():
    for f in _both(rt.zeros_f64):
        assert f((2, 3)).dtype == np.float64 and not f((2, 3)).any()
    for f in _both(rt.zeros_f32):
        assert f((4,)).dtype == np.float32
    for f in _both(rt.full_f32):
        r = f((2, 2), 1.5)
        assert r.dtype == np.float32 and (r == 1.5).all()
    for f in _both(rt.mean_full_f64):
        np.testing.assert_allclose(f((2, 5), 3.0), np.full((2, 5), 0.3))
        assert np.isnan(f((0,), 1.0)).all()
    assert rt.mean_full_f32((4,), 1.0).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dot_and_matmul_adjoints(dtype):
    a = RNG.standard_normal((4, 3)).astype(dtype)
    b = RNG.standard_normal((3, 5)).astype(dtype)
    g = RNG.standard_normal((4, 5)).astype(dtype)
    v = RNG.standard_normal(3).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for aa in (a, a.T.copy().T, _noncontig(a)):
        np.testing.assert_allclose(rt.dot(aa, b), a @ b, rtol=tol)
        np.testing.assert_allclose(rt.dot(aa, v), a @ v, rtol=tol)
        np.testing.assert_allclose(rt.matmul_adj_a2(g, aa, b), g @ b.T, rtol=tol)
        np.testing.assert_allclose(rt.matmul_adj_b2(g, aa, b), a.T @ g, rtol=tol)
    assert rt.dot(a, b).dtype == dtype


@pytest.mark.parametrize("lo,hi", [(0, 4), (2, 6), (-3, None), (1, -1), (5, 2), (-20, 20)])
def test_slice_stores(lo, hi):
    base = RNG.standard_normal(6)
    sl = slice(lo, hi)
    n = len(range(*sl.indices(6)))
    v = RNG.standard_normal(n)
    hi_ = 6 if hi is None else hi
    for f_add, f_set, f_adds, f_sets in [(rt.slice_add, rt.slice_set, rt.slice_add_s, rt.slice_set_s),
                                          (rt.slice_add.py_func, rt.slice_set.py_func,
                                           rt.slice_add_s.py_func, rt.slice_set_s.py_func)]:
        a = base.copy()
        f_add(a, lo, hi_, v)
        e = base.copy()
        e[sl] += v
        np.testing.assert_allclose(a, e)
        f_set(a, lo, hi_, v[::-1].copy())
        e[sl] = v[::-1]
        np.testing.assert_allclose(a, e)
        f_adds(a, lo, hi_, 2.0)
        e[sl] += 2.0
        np.testing.assert_allclose(a, e)
        f_sets(a, lo, hi_, -1.0)
        e[sl] = -1.0
        np.testing.assert_allclose(a, e)


def test_slice_store_broadcast_alias_and_errors():
    a = np.arange(6.0)
    rt.slice_add(a, 1, 6, a[0:5])  # overlapping source: NumPy semantics (source read first)
    e = np.arange(6.0)
    e[1:6] += e[0:5].copy()
    np.testing.assert_allclose(a, e)
    a = np.zeros(4)
    rt.slice_add(a, 0, 4, np.array([2.0]))  # a length-1 value broadcasts
    np.testing.assert_allclose(a, 2.0)
    with pytest.raises(ValueError):
        rt.slice_add(a, 0, 3, np.ones(2))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_stores(dtype):
    base = RNG.standard_normal((3, 4)).astype(dtype)
    v = RNG.standard_normal(4).astype(dtype)
    for add, set_, adds, sets in [(rt.row_add, rt.row_set, rt.row_add_s, rt.row_set_s),
                                  (rt.row_add.py_func, rt.row_set.py_func, rt.row_add_s.py_func,
                                   rt.row_set_s.py_func)]:
        a = base.copy()
        e = base.copy()
        add(a, -1, _noncontig(v))
        e[-1] += v
        set_(a, 0, a[2])
        e[0] = e[2]
        adds(a, 1, 0.5)
        e[1] += 0.5
        sets(a, 2, 0.0)
        e[2] = 0.0
        np.testing.assert_allclose(a, e, rtol=1e-6)
    a = base.copy()
    rt.row_set(a, 1, a[:, 1][:4] if a.shape[0] >= 4 else np.ones(1, dtype))
    with pytest.raises(IndexError):
        rt.row_add(base.copy(), 3, v)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_iadd(dtype):
    for fn, fs, shape, vshapes in [(rt.iadd_1, rt.iadd_1s, (5,), [(5,), (1,)]),
                                   (rt.iadd_2, rt.iadd_2s, (3, 4), [(3, 4), (1, 4), (3, 1)])]:
        for f, g in [(fn, fs), (fn.py_func, fs.py_func)]:
            for vs in vshapes:
                a = RNG.standard_normal(shape).astype(dtype)
                v = _noncontig(RNG.standard_normal(vs).astype(dtype))
                e = a + v
                f(a, v)
                np.testing.assert_allclose(a, e, rtol=1e-6)
                g(a, 2.0)
                np.testing.assert_allclose(a, e + 2.0, rtol=1e-6)
        with pytest.raises(ValueError):
            fn(np.ones(shape, dtype), np.ones(tuple(n + 1 for n in shape), dtype))
    a = np.arange(5.0)
    rt.iadd_1(a[1:], a[:4])  # overlapping views: NumPy reads the source first
    np.testing.assert_allclose(a, [0.0, 1.0, 3.0, 5.0, 7.0])


_NP_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.divide,
              "maximum": np.maximum, "minimum": np.minimum}
_KIND_SHAPES = {"11": [((5,), (5,)), ((5,), (1,)), ((1,), (5,))],
                "22": [((3, 4), (3, 4)), ((3, 4), (1, 4)), ((3, 1), (1, 4)), ((3, 4), (3, 1))],
                "21": [((3, 4), (4,)), ((3, 4), (1,)), ((3, 1), (4,))],
                "12": [((4,), (3, 4)), ((1,), (3, 4))],
                "sa": [((), (3, 4)), ((), (2, 3, 2))], "as": [((3, 4), ()), ((5,), ())]}


def _operand(shape, dtype, strided):
    if shape == ():
        return 1.75
    x = RNG.uniform(0.5, 2.0, shape).astype(dtype)
    return _noncontig(x) if strided else x


@pytest.mark.parametrize("op", sorted(_NP_BINARY))
@pytest.mark.parametrize("kind", sorted(_KIND_SHAPES))
def test_ew_binary_loops(op, kind):
    """Every binary loop helper against NumPy: broadcast shapes, strided inputs (Python twin),
    and compiled for float64 and float32 (``add``/``maximum``: all kinds)."""
    fn = getattr(rt.ewb, f"{op}_{kind}")
    for sa, sb in _KIND_SHAPES[kind]:
        for dtype in (np.float64, np.float32):
            for strided in (False, True):
                a, b = _operand(sa, dtype, strided), _operand(sb, dtype, strided)
                want = _NP_BINARY[op](a, b)
                compiled = op in ("add", "maximum") or (dtype == np.float64 and not strided)
                for f in ([fn, fn.py_func] if compiled else [fn.py_func]):
                    r = f(a, b)
                    assert r.shape == want.shape and r.dtype == dtype
                    np.testing.assert_allclose(r, want, rtol=1e-6)


def test_ew_binary_bad_shapes_and_nan():
    with pytest.raises(ValueError):
        rt.ewb.add_22(np.ones((3, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError):
        rt.ewb.mul_21(np.ones((3, 4)), np.ones(3))
    r = rt.ewb.maximum_11(np.array([1.0, np.nan]), np.array([0.0, 0.0]))
    assert r[0] == 1.0 and np.isnan(r[1])
    assert np.isinf(rt.ewb.truediv_as(np.ones(2), 0.0)).all()  # numpy error model: no exception


@pytest.mark.parametrize("op", sorted(rt.ewu.UNARY))
def test_ew_unary_loops(op):
    fn = getattr(rt.ewu, op)
    ref = {"neg": np.negative, "square": np.square}.get(op) or getattr(np, op)
    x = RNG.uniform(0.1, 0.9, (3, 4))
    for xx in (x, x.T, _noncontig(x)):
        np.testing.assert_allclose(fn.py_func(xx), ref(xx), rtol=1e-12)
    np.testing.assert_allclose(fn(x.T), ref(x.T), rtol=1e-12)
    if op in ("exp", "tanh"):
        r = fn(x.astype(np.float32)[:, ::2])
        assert r.dtype == np.float32 and r.shape == (3, 2)
        np.testing.assert_allclose(r, ref(x[:, ::2]), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# gradients whose generated code uses the helpers: finite differences and the Python backend


def mlp_loss(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def slices_loss(p, s):
    q = np.zeros(6)
    q[1:4] += p[:3] * s
    q[4:] = p[3:5] + 1.0
    m = np.zeros((3, 2))
    m[0] = q[:2]
    m[2] += q[4:] * q[1:3]
    m[1] = 2.0
    return np.sum(m * m) + np.sum(q * np.sin(q)) + s * np.sum(p)


def broadcast_loss(a, b, c):
    r = a * b + c  # (3, 4) * (1, 4) + (3, 1)
    return np.sum(np.tanh(r)) + np.mean(r * r) + np.sum(np.outer(b[0], b[0]) @ a.T)


def test_mlp_grad_uses_helpers_and_matches_fd():
    X = RNG.standard_normal((8, 3))
    y = RNG.standard_normal((8, 2))
    args = (RNG.standard_normal((3, 5)), RNG.standard_normal(5), RNG.standard_normal((5, 2)),
            RNG.standard_normal(2), X, y)
    g = srcgrad.grad(mlp_loss, argnums=(0, 1, 2, 3))
    src = g.source_for(*args)
    assert "rt.unbroadcast_rows(" in src and "rt.matmul_adj_a2(" in src and "rt.cast_like" not in src
    check_grad(mlp_loss, *args, argnums=(0, 1, 2, 3))
    gp = srcgrad.grad(mlp_loss, argnums=(0, 1, 2, 3), backend="python")
    for a, b in zip(g(*args), gp(*args)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_slice_and_row_store_grads():
    p, s = RNG.standard_normal(5), 0.7
    g = srcgrad.grad(slices_loss, argnums=(0, 1))
    src = g.source_for(p, s)
    assert "rt.slice_add(" in src and "rt.row_set(" in src
    check_grad(slices_loss, p, s, argnums=(0, 1))
    gp = srcgrad.grad(slices_loss, argnums=(0, 1), backend="python")
    for a, b in zip(g(p, s), gp(p, s)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_broadcast_grads(dtype):
    a = RNG.standard_normal((3, 4)).astype(dtype)
    b = RNG.standard_normal((1, 4)).astype(dtype)
    c = RNG.standard_normal((3, 1)).astype(dtype)
    g = srcgrad.grad(broadcast_loss, argnums=(0, 1, 2))
    assert "rt.unbroadcast_eq2(" in g.source_for(a, b, c)
    res = g(a, b, c)
    for r, x in zip(res, (a, b, c)):
        assert r.dtype == dtype and r.shape == x.shape
    if dtype == np.float64:
        check_grad(broadcast_loss, a, b, c, argnums=(0, 1, 2))
    else:
        ref = srcgrad.grad(broadcast_loss, argnums=(0, 1, 2))(a.astype(float), b.astype(float), c.astype(float))
        for r, e in zip(res, ref):
            np.testing.assert_allclose(r, e, rtol=1e-3, atol=1e-4)


def logreg_like(w, X, y):
    return np.mean(np.log(1.0 + np.exp(-y * (X @ w)))) + np.sum(np.tanh(np.sin(w)))


def test_shape_only_uses_drop_dead_primal_values():
    """The mean's adjoint needs only the shape of log(...): the log is not computed."""
    X = RNG.standard_normal((20, 3))
    y = np.sign(RNG.standard_normal(20))
    w = RNG.standard_normal(3)
    g = srcgrad.grad(logreg_like)
    src = g.source_for(w, X, y)
    body = src[src.index("def logreg_like_grad"):]
    assert "log(" not in body.split("# L")[-1] and "rt.ewu.log(" not in body
    check_grad(logreg_like, w, X, y)
    z = X @ w
    want = X.T @ (-y / (1.0 + np.exp(y * z))) / len(y) + (1.0 - np.tanh(np.sin(w)) ** 2) * np.cos(w)
    np.testing.assert_allclose(g(w, X, y), want, rtol=1e-10)
