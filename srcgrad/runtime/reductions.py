"""Reductions with ``axis``/``keepdims`` and their adjoint helpers.

numba's ``np.max``/``np.min``/``np.mean``/``np.prod`` accept no ``axis`` and
none of its reductions accept ``keepdims``; these helpers fill the gap for
arrays of any dimension >= 1 (and for scalars with ``axis=None``).  ``axis``
may be ``None``, an int (literal or runtime, negative allowed) or a tuple of
ints; ``keepdims`` must be a compile-time constant inside numba code (a
runtime boolean is turned into one with ``numba.literally``).  Results have
NumPy's dtype and shape; a reduction to zero dimensions returns a scalar.
"""

import numba
import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload
from numba.np import numpy_support

from .broadcast import (
    axis_mask_function,
    c_flat,
    gather_loop,
    inexact_dtype,
    is_scalar_type,
    make_mapped_loop,
    py_inexact_dtype,
    py_is_array,
    reduced_layout,
    reduced_shape,
    reshaper,
    shape_array,
    static_keepdims,
)

__all__ = [
    "argmax_mask",
    "expand_reduced",
    "max_axis",
    "mean_axis",
    "min_axis",
    "prod_axis",
    "sum_axis",
]


# ---------------------------------------------------------------------------
# Plain NumPy versions (debug backend)
# ---------------------------------------------------------------------------


def sum_axis(x, axis=None, keepdims=False):
    """``np.sum(x, axis=axis, keepdims=keepdims)``."""
    return np.sum(x, axis=axis, keepdims=keepdims)


def mean_axis(x, axis=None, keepdims=False):
    """``np.mean(x, axis=axis, keepdims=keepdims)``."""
    return np.mean(x, axis=axis, keepdims=keepdims)


def max_axis(x, axis=None, keepdims=False):
    """``np.max(x, axis=axis, keepdims=keepdims)``."""
    return np.max(x, axis=axis, keepdims=keepdims)


def min_axis(x, axis=None, keepdims=False):
    """``np.min(x, axis=axis, keepdims=keepdims)``."""
    return np.min(x, axis=axis, keepdims=keepdims)


def prod_axis(x, axis=None, keepdims=False):
    """``np.prod(x, axis=axis, keepdims=keepdims)``."""
    return np.prod(x, axis=axis, keepdims=keepdims)


# ---------------------------------------------------------------------------
# numba implementations
# ---------------------------------------------------------------------------


# Reduction operators (runtime codes: one compiled loop serves every reduction of a type).
_SUM, _PROD, _MAX, _MIN, _MEAN = 0, 1, 2, 3, 4
_OPS = {"sum": _SUM, "prod": _PROD, "max": _MAX, "min": _MIN, "mean": _MEAN}


@numba.njit(inline="always")
def _row_reduce(row, out, op, c, j, k, klast):
    n = row.shape[0]
    if klast == 0:  # the whole row reduces into out[k]: accumulate in a register
        acc = out[k]
        if op == _PROD:
            for i in range(n):
                acc *= row[i]
        elif op == _MAX:
            for i in range(n):
                v = row[i]
                if v > acc or v != v:  # noqa: PLR0124 -- NaN wins, as in NumPy
                    acc = v
        elif op == _MIN:
            for i in range(n):
                v = row[i]
                if v < acc or v != v:  # noqa: PLR0124
                    acc = v
        else:
            for i in range(n):
                acc += row[i]
        out[k] = acc
    elif op == _PROD:
        for i in range(n):
            out[k + i] *= row[i]
    elif op == _MAX:
        for i in range(n):
            v = row[i]
            if v > out[k + i] or v != v:  # noqa: PLR0124
                out[k + i] = v
    elif op == _MIN:
        for i in range(n):
            v = row[i]
            if v < out[k + i] or v != v:  # noqa: PLR0124
                out[k + i] = v
    else:
        for i in range(n):
            out[k + i] += row[i]


@numba.njit(inline="always")
def _row_sum_prod(row, out, op, c, j, k, klast):
    n = row.shape[0]
    for i in range(n):
        if op == _PROD:
            out[k + i * klast] *= row[i]
        else:
            out[k + i * klast] += row[i]


def _make_reduce_run(row_body):
    """Build ``run(x, kstrides, size, count, op, init, dtype)`` reducing rows with ``row_body``."""
    loop = make_mapped_loop(row_body)

    def run(x, kstrides, size, count, op, init, dtype):
        out = np.empty(size, dtype)
        for i in range(size):
            out[i] = init
        if (op == _MAX or op == _MIN) and count == 0 and size > 0:
            raise ValueError("zero-size array to reduction operation which has no identity")
        loop(x, kstrides, out, op, out)
        if op == _MEAN:
            for i in range(size):
                out[i] = out[i] / count if count > 0 else np.nan
        return out

    return numba.njit(run)


#: Reduce ``x`` into a new flat array of ``size`` groups of ``count`` elements (ordered dtypes).
_reduce_run = _make_reduce_run(_row_reduce)
#: The same for complex dtypes, which have sums, means and products but no max/min.
_reduce_run_complex = _make_reduce_run(_row_sum_prod)


_NUMPY_REDUCERS = {
    "sum": np.sum,
    "mean": np.mean,
    "prod": np.prod,
    "max": np.max,
    "min": np.min,
}


def _initial_value(kind, dt):
    """Identity of the reduction ``kind`` in dtype ``dt`` (±inf or integer limits for max/min)."""
    if kind in ("sum", "mean"):
        return 0
    if kind == "prod":
        return 1
    big = kind == "min"
    if dt.kind == "b":
        return big
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return int(info.max if big else info.min)
    if dt.kind == "f":
        return np.inf if big else -np.inf
    raise TypingError(f"{kind}_axis: unsupported dtype {dt}")


def _reduction_typer(kind):
    """Typing function for ``<kind>_axis`` returning an implementation specialised on the types."""
    reducer = _NUMPY_REDUCERS[kind]
    op = _OPS[kind]

    def typer(x, axis=None, keepdims=False):
        if is_scalar_type(x):
            in_dt = numpy_support.as_dtype(x)
            out_dt = reducer(np.zeros(1, in_dt)).dtype
            conv = out_dt.type
            return lambda x, axis=None, keepdims=False: conv(x)
        if not isinstance(x, types.Array) or x.ndim == 0:
            raise TypingError(f"{kind}_axis: unsupported argument {x}")
        kd = static_keepdims(keepdims)
        if kd is None:
            return lambda x, axis=None, keepdims=False: numba.literally(keepdims)
        in_dt = numpy_support.as_dtype(x.dtype)
        out_dt = reducer(np.zeros(1, in_dt)).dtype
        if out_dt.kind == "c" and op in (_MAX, _MIN):
            raise TypingError(f"{kind}_axis: complex arrays are not ordered")
        run = _reduce_run_complex if out_dt.kind == "c" else _reduce_run
        init = out_dt.type(_initial_value(kind, out_dt))
        mask_fn, nred = axis_mask_function(axis, x.ndim)
        finish = reshaper(x.ndim if kd else x.ndim - nred)

        def impl(x, axis=None, keepdims=False):
            dims = shape_array(x.shape)
            mask = mask_fn(axis, x.ndim)
            strides, size, count = reduced_layout(dims, mask)
            out = run(x, strides, size, count, np.intp(op), init, out_dt)  # np.intp: not a literal
            return finish(out, reduced_shape(dims, mask, kd))

        return impl

    return typer


for _fn, _kind in (
    (sum_axis, "sum"),
    (mean_axis, "mean"),
    (max_axis, "max"),
    (min_axis, "min"),
    (prod_axis, "prod"),
):
    overload(_fn, prefer_literal=True)(_reduction_typer(_kind))


# ---------------------------------------------------------------------------
# Adjoint helpers
# ---------------------------------------------------------------------------


def _keepdims_view(g, ndim, axis):
    """``g`` as an array with the reduced axes kept (size 1)."""
    g = np.asarray(g)
    if axis is not None and g.ndim != ndim:
        g = np.expand_dims(g, axis)
    return g


def expand_reduced(g, x, axis=None, keepdims=False):
    """Broadcast ``g`` (shaped like a reduction of ``x`` over ``axis``) to a C array like ``x``."""
    dt = py_inexact_dtype(x, g)
    if not py_is_array(x):
        return dt.type(np.asarray(g).reshape(()))
    g = _keepdims_view(g, x.ndim, axis)
    return np.ascontiguousarray(np.broadcast_to(g, x.shape), dtype=dt)


def argmax_mask(x, ans, axis=None, keepdims=False):
    """Array of ``x``'s shape with ``1/count`` where ``x`` equals its max/min ``ans``, else 0."""
    dt = py_inexact_dtype(x)
    if not py_is_array(x):
        return dt.type(1.0 if x == ans or (np.isnan(x) and np.isnan(ans)) else 0.0)
    a = _keepdims_view(ans, x.ndim, axis)
    eq = x == a
    if x.dtype.kind in "fc":
        eq |= np.isnan(x) & np.isnan(a)
    cnt = np.sum(eq, axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        share = 1.0 / cnt
    return np.where(eq, share, 0.0).astype(dt)


@numba.njit(inline="always")
def _same(v, m):
    return v == m or (v != v and m != m)  # noqa: PLR0124 -- NaN matches NaN


@numba.njit(inline="always")
def _row_count(row, cnt, ans, c, j, k, klast):
    if klast == 0:
        m = ans[k]
        n = 0
        for i in range(row.shape[0]):
            if _same(row[i], m):
                n += 1
        cnt[k] += n
    else:
        for i in range(row.shape[0]):
            if _same(row[i], ans[k + i]):
                cnt[k + i] += 1


@numba.njit(inline="always")
def _row_share(row, out, ans, cnt, j, k, klast):
    for i in range(row.shape[0]):
        kk = k + i * klast
        out[j + i] = 1.0 / cnt[kk] if _same(row[i], ans[kk]) else 0.0


_count_loop = make_mapped_loop(_row_count)
_share_loop = make_mapped_loop(_row_share)


@numba.njit
def _check_size(actual, expected):
    """Raise if a reduced operand does not have the reduced size."""
    if actual != expected:
        raise ValueError("reduced operand has the wrong size for this axis")


@overload(expand_reduced, prefer_literal=True)
def _expand_reduced_ov(g, x, axis=None, keepdims=False):
    dt = inexact_dtype(x, g)
    if is_scalar_type(x):
        conv = dt.type
        if is_scalar_type(g):
            return lambda g, x, axis=None, keepdims=False: conv(g)
        raise TypingError("expand_reduced: scalar x needs a scalar cotangent")
    if not isinstance(x, types.Array) or x.ndim == 0:
        raise TypingError(f"expand_reduced: unsupported x type {x}")
    if not (is_scalar_type(g) or isinstance(g, types.Array)):
        raise TypingError(f"expand_reduced: unsupported cotangent type {g}")
    mask_fn, _ = axis_mask_function(axis, x.ndim)

    def impl(g, x, axis=None, keepdims=False):
        strides, size, _ = reduced_layout(shape_array(x.shape), mask_fn(axis, x.ndim))
        src = c_flat(g)
        _check_size(src.size, size)
        out = np.empty(x.shape, dt)
        gather_loop(out, strides, out.reshape(out.size), src, src)
        return out

    return impl


@overload(argmax_mask, prefer_literal=True)
def _argmax_mask_ov(x, ans, axis=None, keepdims=False):
    dt = inexact_dtype(x)
    if is_scalar_type(x):
        conv = dt.type
        return lambda x, ans, axis=None, keepdims=False: conv(1.0 if _same(x, ans) else 0.0)
    if not isinstance(x, types.Array) or x.ndim == 0:
        raise TypingError(f"argmax_mask: unsupported x type {x}")
    if not (is_scalar_type(ans) or isinstance(ans, types.Array)):
        raise TypingError(f"argmax_mask: unsupported ans type {ans}")
    mask_fn, _ = axis_mask_function(axis, x.ndim)

    def impl(x, ans, axis=None, keepdims=False):
        strides, size, _ = reduced_layout(shape_array(x.shape), mask_fn(axis, x.ndim))
        a = c_flat(ans)
        _check_size(a.size, size)
        cnt = np.zeros(size, np.intp)
        _count_loop(x, strides, cnt, a, cnt)
        out = np.empty(x.shape, dt)
        _share_loop(x, strides, out.reshape(out.size), a, cnt)
        return out

    return impl
