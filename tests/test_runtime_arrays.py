"""Tests of the array runtime helpers, called from Python and from ``@numba.njit`` code.

numba compiles cost ~0.5-2 s each here, so the njit wrappers are few and
shared: the tests parametrise the data and keep the number of distinct
argument types (dtype x ndim x layout) small; the cheap Python path is
tested more widely.
"""

import numba
import numpy as np
import pytest

from srcgrad import runtime as rt
from srcgrad.runtime.arrays import (
    add_at,
    argmax_mask,
    cast_like,
    expand_dims_axis,
    expand_reduced,
    matmul_adj_a,
    matmul_adj_b,
    max_axis,
    mean_axis,
    min_axis,
    prod_axis,
    range_last,
    squeeze_axis,
    sum_axis,
    unbroadcast,
    zeros_like_any,
)

RNG = np.random.default_rng(1234)
REDUCERS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod}
HELPERS = {"sum": sum_axis, "mean": mean_axis, "max": max_axis, "min": min_axis, "prod": prod_axis}


def rand(shape, dtype=np.float64):
    """Random values in [0.5, 1.5) (keeps products well scaled)."""
    return (RNG.random(shape) + 0.5).astype(dtype)


def strided(a):
    """A non-contiguous view with the values of ``a`` (every other element of a bigger array)."""
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


def with_layout(a, layout):
    """``a`` as a C-ordered, Fortran-ordered or strided array."""
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        return strided(a)
    return np.ascontiguousarray(a)


def check(result, expected, dtype=None):
    """Same shape, dtype (``expected``'s unless given) and values within float tolerance."""
    expected = np.asarray(expected)
    dtype = expected.dtype if dtype is None else np.dtype(dtype)
    assert np.shape(result) == expected.shape
    if isinstance(result, (np.ndarray, np.generic)):  # numba returns float32 scalars as Python floats
        assert result.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(result, expected, rtol=tol, atol=tol)


# ---------------------------------------------------------------------------
# njit wrappers.  Every (helper, argument types) pair costs a numba compile
# (~0.3-1 s here), so the wrappers are few and each is called with a handful of
# carefully chosen argument types; data (axes, shapes of one ndim) vary freely.
# ---------------------------------------------------------------------------


@numba.njit
def nb_reduce(x, axis):
    return (
        sum_axis(x, axis, False),
        sum_axis(x, axis, True),
        mean_axis(x, axis, False),
        max_axis(x, axis, False),
        min_axis(x, axis, True),
        prod_axis(x, axis, False),
    )


#: (reduction, keepdims) of each nb_reduce result
NB_REDUCE = [("sum", False), ("sum", True), ("mean", False), ("max", False), ("min", True), ("prod", False)]


@numba.njit
def nb_reduce_small(x, axis):
    return sum_axis(x, axis, False), max_axis(x, axis, True)


@numba.njit
def nb_reduce_int(x, axis):
    return sum_axis(x, axis, True)


@numba.njit
def nb_reduce_all(x):
    return sum_axis(x), mean_axis(x, None, True), prod_axis(x, (0, -1)), max_axis(x, (-1, 1), True)


@numba.njit
def nb_reduce_literal(x):
    return sum_axis(x, -1, True), max_axis(x, 1)


@numba.njit
def nb_expand(x, axis, g, gk, amax, amin_k):
    """Sum and max/min adjoints along a runtime axis, with and without keepdims."""
    return (
        expand_reduced(g, x, axis, False),
        expand_reduced(gk, x, axis, True),
        argmax_mask(x, amax, axis, False),
        argmax_mask(x, amin_k, axis, True),
    )


@numba.njit
def nb_expand_all(x, g, amax, gt):
    """Whole-array adjoints (``axis=None``) and a tuple axis."""
    return expand_reduced(g, x), argmax_mask(x, amax), expand_reduced(gt, x, (0, -1), True)


@numba.njit
def nb_unbroadcast(g, x):
    return unbroadcast(g, x)


@numba.njit
def nb_like(v_scalar, v_array, x):
    return zeros_like_any(x), cast_like(v_scalar, x), cast_like(v_array, x)


@numba.njit
def nb_add_at(a, idx, v):
    return add_at(a, idx, v)


@numba.njit
def nb_range_last(a, b, s):
    return range_last(a, b, s)


@numba.njit
def nb_matmul(g, a, b):
    return matmul_adj_a(g, a, b), matmul_adj_b(g, a, b)


@numba.njit
def nb_dims(x, axis):
    return expand_dims_axis(x, axis), squeeze_axis(expand_dims_axis(x, axis), axis)


@numba.njit
def nb_squeeze(x, axis):
    return squeeze_axis(x, axis)


def return_types(dispatcher, *args):
    """numba result types of ``dispatcher`` for ``args`` (Python receives float32 scalars as floats)."""
    key = tuple(dispatcher.typeof_pyval(a) for a in args)
    return dispatcher.overloads[key].signature.return_type


# ---------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("shape", [(5,), (1, 4), (3, 1, 4), (2, 3, 1, 2)])
def test_reductions_python(shape, layout, dtype):
    x = with_layout(rand(shape, dtype) * (3 if dtype == np.int32 else 1), layout)
    for axis in [None, *range(-x.ndim, x.ndim)] + ([(0, -1)] if x.ndim > 1 else []):
        for kd in (False, True):
            for name, fn in HELPERS.items():
                check(fn(x, axis, kd), REDUCERS[name](x, axis=axis, keepdims=kd))


def test_reductions_njit_all_kinds():
    for shape in [(3, 4, 5), (1, 3, 1), (2, 1, 6)]:  # one compiled signature: float64, 3-D, C
        x = rand(shape)
        for axis in range(-3, 3):
            for got, (name, kd) in zip(nb_reduce(x, axis), NB_REDUCE):
                check(got, REDUCERS[name](x, axis=axis, keepdims=kd))
    y = rand((3, 4, 5))
    y[1, 2, 0] = np.nan
    for got, (name, kd) in zip(nb_reduce(y, -1), NB_REDUCE):
        expected = REDUCERS[name](y, axis=-1, keepdims=kd)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=1e-12)


@pytest.mark.parametrize("shape,layout", [((4, 1), "F"), ((6,), "strided")])
def test_reductions_njit_float32_layouts(shape, layout):
    x = with_layout(rand(shape, np.float32), layout)
    for axis in range(-x.ndim, x.ndim):
        s, m = nb_reduce_small(x, axis)
        check(s, np.sum(x, axis=axis))
        check(m, np.max(x, axis=axis, keepdims=True))
    if x.ndim == 1:  # reduced to a scalar, which stays float32 inside numba
        assert return_types(nb_reduce_small, x, 0)[0] == numba.float32


def test_reductions_njit_int_dtypes():
    x = np.arange(24, dtype=np.int32).reshape(4, 6) % 7 - 3
    for axis in (0, 1, -1):
        check(nb_reduce_int(x, axis), np.sum(x, axis=axis, keepdims=True))  # int32 sums widen to int64


def test_reductions_njit_whole_and_tuple_4d():
    x = strided(rand((2, 3, 1, 2)))
    got = nb_reduce_all(x)
    check(got[0], np.sum(x))
    check(got[1], np.mean(x, keepdims=True))
    check(got[2], np.prod(x, axis=(0, -1)))
    check(got[3], np.max(x, axis=(-1, 1), keepdims=True))


def test_reductions_njit_literal_axis():
    x = rand((3, 4, 5))
    s, m = nb_reduce_literal(x)
    check(s, np.sum(x, axis=-1, keepdims=True))
    check(m, np.max(x, axis=1))


def test_reductions_njit_errors():
    x = rand((3, 4, 5))
    with pytest.raises(ValueError):
        nb_reduce(x, 3)
    with pytest.raises(ValueError):
        nb_reduce(x, -4)
    with pytest.raises(ValueError):
        nb_reduce(np.zeros((0, 4, 5)), 0)  # max of an empty group
    with pytest.raises(ValueError):
        max_axis(np.zeros((0, 4, 5)), 0)


def test_keepdims_runtime_value_is_made_literal():
    @numba.njit
    def f(x, kd):
        return sum_axis(x, 0, kd)

    x = rand((3, 4, 5))
    check(f(x, True), np.sum(x, axis=0, keepdims=True))  # each call re-dispatches: test one value only


# ---------------------------------------------------------------------------
# Adjoints of reductions
# ---------------------------------------------------------------------------


def ref_mask(x, axis, use_max=True):
    """Reference max/min adjoint mask in x's dtype: ties share 1/count."""
    ans = (np.max if use_max else np.min)(x, axis=axis, keepdims=True)
    eq = x == ans
    return (eq / np.sum(eq, axis=axis, keepdims=True)).astype(x.dtype)


def with_ties(shape, dtype, layout):
    """Small-integer-valued floats so that maxima and minima are often tied."""
    return with_layout(RNG.integers(0, 3, shape).astype(dtype), layout)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("shape", [(4,), (3, 1), (2, 3, 4)])
def test_adjoints_python(shape, layout, dtype):
    x = with_ties(shape, dtype, layout)
    for axis in [None, *range(-x.ndim, x.ndim)]:
        g = rand(np.sum(x, axis=axis).shape, dtype)
        gk = g.reshape(np.sum(x, axis=axis, keepdims=True).shape)
        expected = np.broadcast_to(gk, x.shape)
        for gg, kd in ((g, False), (gk, True)):
            got = expand_reduced(gg, x, axis, kd)
            check(got, expected)
            assert got.flags.c_contiguous
            check(argmax_mask(x, np.max(x, axis=axis, keepdims=kd), axis, kd), ref_mask(x, axis))
            check(argmax_mask(x, np.min(x, axis=axis, keepdims=kd), axis, kd), ref_mask(x, axis, False))


@pytest.mark.parametrize("shape,dtype,layout", [((3, 4, 5), np.float64, "C"), ((4, 3), np.float32, "F")])
def test_adjoints_njit(shape, dtype, layout):
    x = with_ties(shape, dtype, layout)
    for axis in range(-x.ndim, x.ndim):
        gk = rand(np.sum(x, axis=axis, keepdims=True).shape, dtype)
        g = gk.reshape(np.sum(x, axis=axis).shape)
        amax = np.max(x, axis=axis)
        amin_k = np.min(x, axis=axis, keepdims=True)
        e, ek, mx, mn = nb_expand(x, axis, g, gk, amax, amin_k)
        expected = np.broadcast_to(gk, x.shape)
        check(e, expected)
        check(ek, expected)
        assert e.flags.c_contiguous and ek.flags.c_contiguous
        check(mx, ref_mask(x, axis))
        check(mn, ref_mask(x, axis, False))


def test_adjoints_njit_whole_and_tuple():
    x = strided(with_ties((3, 1, 4), np.float64, "C"))
    gt = np.sum(x, axis=(0, -1), keepdims=True)
    e, mx, et = nb_expand_all(x, 1.75, np.max(x), gt)
    check(e, np.full(x.shape, 1.75))
    check(mx, ref_mask(x, None))
    check(et, np.broadcast_to(gt, x.shape))


@pytest.mark.parametrize("fn,red", [(max_axis, np.max), (min_axis, np.min), (sum_axis, np.sum)])
def test_reduction_adjoints_match_finite_differences(fn, red):
    x = rand((3, 4, 2))  # distinct values: max and min are differentiable
    g = rand((3, 2))
    grad = expand_reduced(g, x, 1)
    if red is not np.sum:
        grad = grad * argmax_mask(x, fn(x, 1), 1)
    eps = 1e-6
    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        fd[i] = (np.sum(g * red(x + d, axis=1)) - np.sum(g * red(x - d, axis=1))) / (2 * eps)
    np.testing.assert_allclose(grad, fd, atol=1e-6)


# ---------------------------------------------------------------------------
# unbroadcast, zeros_like_any, cast_like
# ---------------------------------------------------------------------------


UNBROADCAST_CASES = [
    # (g shape, g dtype, g layout, x shape or None for a scalar, x dtype)
    ((4, 3, 5), np.float64, "C", (3, 1), np.float64),
    ((4, 3, 5), np.float64, "C", (1, 5), np.float32),
    ((4, 3, 5), np.float64, "C", (4, 1, 1), np.float64),
    ((4, 3, 5), np.float64, "C", (5,), np.float64),
    ((3, 5), np.float64, "F", (3, 1), np.float64),
    ((3, 5), np.float32, "strided", (5,), np.float32),
    ((4, 3, 5), np.float64, "C", None, np.float64),
    ((3, 5), np.float32, "strided", None, np.float32),
    ((3, 5), np.float64, "F", (3, 5), np.int64),
]


def unbroadcast_ref(g, xshape, xdtype):
    """Sum over the broadcast axes, found by brute force: the adjoint of broadcasting."""
    dt = np.dtype(xdtype) if np.dtype(xdtype).kind == "f" else np.dtype(np.float64)
    if xshape is None:
        return dt.type(np.sum(g))
    out = np.zeros(xshape, np.float64)
    lead = g.ndim - len(xshape)
    for i in np.ndindex(g.shape):
        j = tuple(0 if n == 1 else k for k, n in zip(i[lead:], xshape))
        out[j] += g[i]
    return out.astype(dt)


@pytest.mark.parametrize("gshape,gdtype,glayout,xshape,xdtype", UNBROADCAST_CASES)
def test_unbroadcast(gshape, gdtype, glayout, xshape, xdtype):
    g = with_layout(rand(gshape, gdtype), glayout)
    x = np.dtype(xdtype).type(1.5) if xshape is None else np.ones(xshape, xdtype)
    expected = unbroadcast_ref(g, xshape, xdtype)
    dtype = np.asarray(expected).dtype
    for fn in (unbroadcast, nb_unbroadcast):
        got = fn(g, x)
        check(got, expected, dtype)
        if xshape is None:
            assert np.ndim(got) == 0 and not isinstance(got, np.ndarray)
    if xshape is None and np.dtype(xdtype) == np.float32:
        assert return_types(nb_unbroadcast, g, x) == numba.float32


def test_unbroadcast_same_shape_returns_g_itself():
    for g in (rand((3, 4)), strided(rand((3, 4))), rand((3, 4), np.float32)):
        assert unbroadcast(g, np.ones(g.shape, g.dtype)) is g
    g = rand((4, 3, 5))  # signatures compiled by test_unbroadcast
    assert nb_unbroadcast(g, np.ones((4, 3, 5))) is g
    g = np.asfortranarray(rand((3, 5)))
    assert nb_unbroadcast(g, np.ones((3, 5), np.int64)) is g  # int x: float64 g is kept
    assert unbroadcast(g, np.ones((3, 5), np.float32)).dtype == np.float32


def test_unbroadcast_scalar_and_bad_shapes():
    assert nb_unbroadcast(2.5, np.float32(1.0)) == np.float32(2.5)
    g = rand((4, 3, 5))
    check(nb_unbroadcast(g, np.ones((), np.float32)), np.full((), np.sum(g), np.float32))
    with pytest.raises(ValueError):
        nb_unbroadcast(rand((4, 3, 5)), np.ones((2, 1)))
    with pytest.raises(ValueError):
        unbroadcast(rand((4, 3, 5)), np.ones((2, 1)))


@pytest.mark.parametrize(
    "x,zero_dtype",
    [
        (np.float32(2.0), np.float32),
        (2.0, np.float64),
        (3, np.float64),
        (np.ones((2, 3), np.float32), np.float32),
        (np.asfortranarray(np.ones((2, 3))), np.float64),
        (strided(np.ones((2, 3), np.int32)), np.float64),
    ],
)
def test_zeros_like_any_and_cast_like(x, zero_dtype):
    v_array = rand(np.shape(x) or (2,))

    def py_like(v_scalar, v_array, x):
        return zeros_like_any(x), cast_like(v_scalar, x), cast_like(v_array, x)

    for fn in (py_like, nb_like):
        z, c, ca = fn(1.25, v_array, x)
        assert np.shape(z) == np.shape(x) and not np.any(z)
        if isinstance(x, np.ndarray):
            assert isinstance(z, np.ndarray) and z.flags.c_contiguous and z.dtype == zero_dtype
        else:
            assert not isinstance(z, np.ndarray)
        assert not isinstance(c, np.ndarray) and c == 1.25
        check(ca, v_array.astype(zero_dtype))
        if zero_dtype == np.float64:
            assert np.shares_memory(ca, v_array)  # already float64: no copy
    z, c, _ = return_types(nb_like, 1.25, v_array, x)
    expected = numba.from_dtype(np.dtype(zero_dtype))
    assert c == expected and (z == expected or z.dtype == expected)
    assert type(zeros_like_any(True)) is np.float64 and type(cast_like(1, np.float32(1))) is np.float32


# ---------------------------------------------------------------------------
# add_at
# ---------------------------------------------------------------------------


ADD_AT_CASES = [
    # (a shape, a layout, v kind, dtype)
    ((6,), "C", "array", np.float64),
    ((6,), "C", "scalar", np.float32),
    ((6,), "strided", "array", np.float32),
    ((6, 3), "C", "array", np.float32),
    ((6, 3), "F", "strided", np.float64),
    ((6, 3), "C", "row", np.float64),
    ((6, 3), "C", "scalar", np.float64),
]


@pytest.mark.parametrize("ashape,alayout,vkind,dtype", ADD_AT_CASES)
def test_add_at(ashape, alayout, vkind, dtype):
    idx = np.array([0, 2, 2, -1, 5, 0, 2])
    a = with_layout(rand(ashape, dtype), alayout)
    if vkind == "scalar":
        v = dtype(0.5)
    elif vkind == "row":
        v = rand(ashape[1:], dtype)
    else:
        v = with_layout(rand((idx.size, *ashape[1:]), dtype), "strided" if vkind == "strided" else "C")
    expected = a.copy()
    np.add.at(expected, idx, v)
    for fn in (add_at, nb_add_at):
        target = a.copy(order="K") if alayout != "strided" else strided(a.copy())
        out = fn(target, idx, v)
        check(target, expected)
        assert out is target or np.shares_memory(out, target)


def test_add_at_bounds():
    with pytest.raises(IndexError):
        nb_add_at(np.zeros(3), np.array([3]), np.ones(1))
    with pytest.raises(IndexError):
        nb_add_at(np.zeros(3), np.array([-4]), np.ones(1))


# ---------------------------------------------------------------------------
# range_last
# ---------------------------------------------------------------------------


def test_range_last():
    for s in (-3, -2, -1, 1, 2, 3):
        for a in range(-6, 7):
            for b in range(-6, 7):
                r = range(a, b, s)
                last = range_last(a, b, s)
                assert nb_range_last(a, b, s) == last
                assert rt.range_last_i64(a, b, s) == last  # the cached int64 form codegen picks
                if len(r):
                    assert last == r[-1]
                assert list(range(last, a - (1 if s > 0 else -1), -s)) == list(r)[::-1]
    with pytest.raises(ValueError):
        range_last(0, 3, 0)
    with pytest.raises(ValueError):
        nb_range_last(0, 3, 0)
    with pytest.raises(ValueError):
        rt.range_last_i64(0, 3, 0)


# ---------------------------------------------------------------------------
# matmul adjoints
# ---------------------------------------------------------------------------


MATMUL_CASES = [
    # (a shape, b shape, dtype, a layout, b layout)
    ((3,), (3,), np.float64, "C", "C"),
    ((4, 3), (3,), np.float64, "C", "C"),
    ((3,), (3, 5), np.float64, "C", "C"),
    ((4, 3), (3, 5), np.float64, "C", "C"),
    ((4, 3), (3, 5), np.float32, "F", "strided"),
    ((4, 3), (3,), np.float32, "strided", "strided"),
]


def matmul_fd(a, b, g, wrt_a, eps=1e-6):
    """Central finite differences of ``sum(g * (a @ b))`` in float64."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    target = a if wrt_a else b
    out = np.zeros_like(target)
    for i in np.ndindex(target.shape):
        d = np.zeros_like(target)
        d[i] = eps
        if wrt_a:
            f = np.sum(g * ((a + d) @ b)) - np.sum(g * ((a - d) @ b))
        else:
            f = np.sum(g * (a @ (b + d))) - np.sum(g * (a @ (b - d)))
        out[i] = f / (2 * eps)
    return out


@pytest.mark.parametrize("ashape,bshape,dtype,alayout,blayout", MATMUL_CASES)
def test_matmul_adjoints(ashape, bshape, dtype, alayout, blayout):
    a = with_layout(rand(ashape, dtype), alayout)
    b = with_layout(rand(bshape, dtype), blayout)
    c = a @ b
    g = rand(c.shape, dtype) if c.ndim else dtype(1.3)
    fd_a = matmul_fd(a, b, g, True)
    fd_b = matmul_fd(a, b, g, False)
    tol = 1e-4 if dtype == np.float32 else 1e-7
    for ga, gb in ((matmul_adj_a(g, a, b), matmul_adj_b(g, a, b)), nb_matmul(g, a, b)):
        assert ga.dtype == dtype and gb.dtype == dtype
        assert ga.shape == a.shape and gb.shape == b.shape
        np.testing.assert_allclose(ga, fd_a, rtol=tol, atol=tol)
        np.testing.assert_allclose(gb, fd_b, rtol=tol, atol=tol)


def test_matmul_adjoint_mixed_dtypes():
    a = rand((4, 3), np.float32)
    b = rand((3, 2))
    g = rand((4, 2))
    ga, gb = nb_matmul(g, a, b)
    assert ga.dtype == np.float32 and gb.dtype == np.float64
    check(ga, (g @ b.T).astype(np.float32))
    check(gb, a.astype(np.float64).T @ g)


# ---------------------------------------------------------------------------
# squeeze_axis / expand_dims_axis
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape,dtype,layout", [((3, 4), np.float64, "C"), ((2, 1, 3), np.float32, "strided"), ((3, 2), np.float64, "F")]
)
def test_expand_dims_and_squeeze(shape, dtype, layout):
    x = with_layout(rand(shape, dtype), layout)
    for axis in range(-x.ndim - 1, x.ndim + 1):
        expected = np.expand_dims(x, axis)
        for e, s in ((expand_dims_axis(x, axis), squeeze_axis(expected, axis)), nb_dims(x, axis)):
            check(e, expected)
            check(s, x)
    with pytest.raises(ValueError):
        nb_dims(x, x.ndim + 1)


def test_squeeze_views_and_errors():
    x = strided(rand((3, 1, 4)))
    s = nb_squeeze(x, -2)
    check(s, np.squeeze(x, -2))
    assert np.shares_memory(s, x)  # a view, like NumPy's
    with pytest.raises(ValueError):
        nb_squeeze(x, 0)  # axis 0 has size 3
    with pytest.raises(ValueError):
        squeeze_axis(x, 0)
    one = rand((1,))
    check(nb_squeeze(one, 0), np.squeeze(one, 0))
