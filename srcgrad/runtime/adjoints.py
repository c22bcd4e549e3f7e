"""Adjoint helpers of the shape and linear-algebra primitives (``rt.concat_adj_a(...)``).

Each is a plain NumPy function (what the Python backend runs) with a numba ``overload`` so the
same call works inside generated njit code.  Results keep the float dtype of the primal input
they are the cotangent of; ``axis`` arguments may be negative.
"""

import numba
import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload
from numba.np import numpy_support
from numba.np.unsafe.ndarray import to_fixed_tuple

from .broadcast import inexact_dtype, normalize_axis, py_inexact_dtype

__all__ = ["concat_adj_a", "concat_adj_b", "diag_adj", "fill_like", "mean_fill", "mean_scale",
           "prod_others", "trace_adj", "transpose_back"]


# ---------------------------------------------------------------------------
# concatenate: the cotangent of each operand is a slice of g along the axis
# ---------------------------------------------------------------------------


def _py_axis_slice(g, a, axis, first):
    axis = axis % g.ndim
    n = a.shape[axis]
    index = [slice(None)] * g.ndim
    index[axis] = slice(0, n) if first else slice(n, None)
    return g[tuple(index)]


def concat_adj_a(g, a, axis):
    """The part of ``g`` (cotangent of ``concatenate((a, b), axis)``) that belongs to ``a``."""
    return _py_axis_slice(g, a, axis, True)


def concat_adj_b(g, a, axis):
    """The part of ``g`` that belongs to ``b``: what follows ``a`` along ``axis``."""
    return _py_axis_slice(g, a, axis, False)


@numba.njit
def _swap_perm(n, axis):
    perm = np.arange(n)
    perm[0] = axis
    perm[axis] = 0
    return perm


def _axis_slice_impl(first):
    def make(g, a, axis):
        if not (isinstance(g, types.Array) and isinstance(a, types.Array) and g.ndim == a.ndim):
            raise TypingError(f"concatenate adjoint: unsupported operands {g}, {a}")
        n = g.ndim

        def impl(g, a, axis):
            ax = normalize_axis(axis, n)
            p = to_fixed_tuple(_swap_perm(n, ax), n)  # a swap is its own inverse
            front = np.transpose(g, p)
            m = a.shape[ax]
            part = front[:m] if first else front[m:]
            return np.transpose(part, p)

        return impl

    return make


overload(concat_adj_a)(_axis_slice_impl(True))
overload(concat_adj_b)(_axis_slice_impl(False))


# ---------------------------------------------------------------------------
# transpose with an axes permutation
# ---------------------------------------------------------------------------


def transpose_back(g, axes):
    """``g`` (cotangent of ``np.transpose(x, axes)``) transposed back to ``x``'s axis order."""
    return np.transpose(g, tuple(np.argsort(axes)))


@numba.njit
def _inverse_perm(axes, n):
    inv = np.empty(n, np.intp)
    for i in range(n):
        inv[normalize_axis(axes[i], n)] = i
    return inv


@overload(transpose_back)
def _transpose_back_ov(g, axes):
    if not isinstance(g, types.Array):
        raise TypingError(f"transpose_back: unsupported cotangent {g}")
    n = g.ndim
    return lambda g, axes: np.transpose(g, to_fixed_tuple(_inverse_perm(axes, n), n))


# ---------------------------------------------------------------------------
# diag and trace
# ---------------------------------------------------------------------------


def diag_adj(g, x):
    """Cotangent of ``x`` in ``np.diag(x)``: the diagonal of g (x 1-D) or g on x's diagonal."""
    dt = py_inexact_dtype(x)
    if x.ndim == 1:
        return np.diagonal(g).astype(dt)
    out = np.zeros(x.shape, dt)
    k = min(x.shape)
    out[np.arange(k), np.arange(k)] = g[:k]
    return out


@overload(diag_adj)
def _diag_adj_ov(g, x):
    if not isinstance(x, types.Array) or x.ndim not in (1, 2):
        raise TypingError(f"diag_adj: unsupported x {x}")
    dt = inexact_dtype(x)
    if x.ndim == 1:

        def impl1(g, x):
            n = x.shape[0]
            out = np.empty(n, dt)
            for i in range(n):
                out[i] = g[i, i]
            return out

        return impl1

    def impl2(g, x):
        out = np.zeros(x.shape, dt)
        for i in range(min(x.shape[0], x.shape[1])):
            out[i, i] = g[i]
        return out

    return impl2


def trace_adj(g, x):
    """Cotangent of ``x`` in ``np.trace(x)``: g on the diagonal."""
    out = np.zeros(x.shape, py_inexact_dtype(x))
    k = min(x.shape)
    out[np.arange(k), np.arange(k)] = g
    return out


@overload(trace_adj)
def _trace_adj_ov(g, x):
    if not isinstance(x, types.Array) or x.ndim != 2:
        raise TypingError(f"trace_adj: unsupported x {x}")
    dt = inexact_dtype(x)

    def impl(g, x):
        out = np.zeros(x.shape, dt)
        for i in range(min(x.shape[0], x.shape[1])):
            out[i, i] = g
        return out

    return impl


# ---------------------------------------------------------------------------
# prod and mean
# ---------------------------------------------------------------------------


def _py_others(v):
    """Along the last axis: product of every other element (no division: zeros are fine)."""
    before = np.cumprod(np.concatenate([np.ones(v.shape[:-1] + (1,), v.dtype), v[..., :-1]],
                                       axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate(
        [np.ones(v.shape[:-1] + (1,), v.dtype), np.flip(v, -1)[..., :-1]], axis=-1), axis=-1), -1)
    return before * after


def prod_others(x, axis=None):
    """For each element of x, the product of the others in its reduction group (``axis``)."""
    if np.ndim(x) == 0:
        return py_inexact_dtype(x).type(1)
    x = np.asarray(x, dtype=py_inexact_dtype(x))
    if axis is None:
        return _py_others(x.reshape(-1)).reshape(x.shape)
    moved = np.moveaxis(x, axis, -1)
    return np.moveaxis(_py_others(moved), -1, axis)


@numba.njit
def _others_rows(rows, dt):
    """rows: 2-D C array; each row replaced by its exclusive products."""
    out = np.empty(rows.shape, dt)
    m = rows.shape[1]
    for r in range(rows.shape[0]):
        acc = 1.0
        for j in range(m):
            out[r, j] = acc
            acc *= rows[r, j]
        acc = 1.0
        for j in range(m - 1, -1, -1):
            out[r, j] *= acc
            acc *= rows[r, j]
    return out


@overload(prod_others)
def _prod_others_ov(x, axis=None):
    if isinstance(x, (types.Number, types.Boolean)):
        one = inexact_dtype(x).type(1)
        return lambda x, axis=None: one
    if not isinstance(x, types.Array):
        raise TypingError(f"prod_others: unsupported x {x}")
    dt = inexact_dtype(x)
    n = x.ndim
    if axis is None or isinstance(axis, (types.NoneType, types.Omitted)):

        def impl_all(x, axis=None):
            flat = np.ascontiguousarray(x).reshape((1, x.size))
            return _others_rows(flat, dt).reshape(x.shape)

        return impl_all

    def impl(x, axis=None):
        ax = normalize_axis(axis, n)
        perm = np.arange(n)
        perm[ax:n - 1] = np.arange(ax + 1, n)
        perm[n - 1] = ax  # reduced axis last
        p = to_fixed_tuple(perm, n)
        moved = np.ascontiguousarray(np.transpose(x, p))
        m = x.shape[ax]
        res = _others_rows(moved.reshape((moved.size // m if m else 0, m)), dt)
        res = res.reshape(moved.shape)
        return np.transpose(res, to_fixed_tuple(_inverse_perm(perm, n), n))

    return impl


def mean_scale(c, x, ans):
    """``c / count`` in c's dtype, count = elements of x per element of the mean ``ans``."""
    count = np.size(x) // max(np.size(ans), 1)
    return (c / count).astype(c.dtype) if np.ndim(c) else type(c)(c / count)


@overload(mean_scale)
def _mean_scale_ov(c, x, ans):
    if isinstance(c, types.Array):
        conv = numpy_support.as_dtype(c.dtype).type

        def impl_arr(c, x, ans):
            count = x.size // max(np.asarray(ans).size, 1)
            return c * conv(1.0 / count) if count else c * conv(np.nan)

        return impl_arr
    conv = numpy_support.as_dtype(c).type

    def impl(c, x, ans):
        count = x.size // max(np.asarray(ans).size, 1)
        return conv(c / count) if count else conv(np.nan)

    return impl


# ---------------------------------------------------------------------------
# whole-array sum and mean: the cotangent fills x's shape
# ---------------------------------------------------------------------------


def fill_like(x, g):
    """An array of x's shape and float dtype filled with g (a number for a number x)."""
    dt = py_inexact_dtype(x)
    return np.full(np.shape(x), g, dt) if np.ndim(x) else dt.type(g)


def mean_fill(x, g):
    """Cotangent of x in ``np.mean(x)``: g / x.size everywhere."""
    return fill_like(x, g / max(np.size(x), 1) if np.size(x) else np.nan)


def _fill_ov(scale):
    def make(x, g):
        dt = inexact_dtype(x)
        conv = dt.type
        if isinstance(x, types.Array):
            if scale:
                return lambda x, g: np.full(x.shape, conv(g / x.size if x.size else np.nan), dt)
            return lambda x, g: np.full(x.shape, conv(g), dt)
        return lambda x, g: conv(g)

    return make


overload(fill_like)(_fill_ov(False))
overload(mean_fill)(_fill_ov(True))
