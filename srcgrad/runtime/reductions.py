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
    add_loop,
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


@numba.njit(inline="always")
def _body_mul(v, out, b, c, j, k):
    out[k] *= v


@numba.njit(inline="always")
def _body_max(v, out, b, c, j, k):
    if v > out[k] or v != v:  # noqa: PLR0124 -- NaN wins, as in NumPy
        out[k] = v


@numba.njit(inline="always")
def _body_min(v, out, b, c, j, k):
    if v < out[k] or v != v:  # noqa: PLR0124
        out[k] = v


_LOOPS = {
    "sum": add_loop,
    "mean": add_loop,
    "prod": make_mapped_loop(_body_mul),
    "max": make_mapped_loop(_body_max),
    "min": make_mapped_loop(_body_min),
}

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


@numba.njit
def _finish_mean(out, count):
    """Divide group sums by the group size (NaN for empty groups, like NumPy)."""
    for i in range(out.size):
        out[i] = out[i] / count if count > 0 else np.nan


@numba.njit
def _check_nonempty(count, size):
    """Raise like NumPy when max/min reduces an empty group."""
    if count == 0 and size > 0:
        raise ValueError("zero-size array to reduction operation which has no identity")


def _reduction_typer(kind):
    """Typing function for ``<kind>_axis`` returning an implementation specialised on the types."""
    reducer = _NUMPY_REDUCERS[kind]
    is_mean = kind == "mean"
    is_minmax = kind in ("max", "min")

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
        init = _initial_value(kind, out_dt)
        mask_fn, nred = axis_mask_function(axis, x.ndim)
        n = x.ndim
        out_nd = n if kd else n - nred
        loop = _LOOPS[kind]
        finish = reshaper(out_nd)

        def impl(x, axis=None, keepdims=False):
            dims = shape_array(x.shape)
            mask = mask_fn(axis, n)
            strides, size, count = reduced_layout(dims, mask)
            out = np.empty(size, out_dt)
            out[:] = init
            if is_minmax:
                _check_nonempty(count, size)
            loop(x, strides, out, out, out)
            if is_mean:
                _finish_mean(out, count)
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
def _body_count(v, cnt, ans, c, j, k):
    if _same(v, ans[k]):
        cnt[k] += 1


@numba.njit(inline="always")
def _body_share(v, out, ans, cnt, j, k):
    out[j] = 1.0 / cnt[k] if _same(v, ans[k]) else 0.0


_count_loop = make_mapped_loop(_body_count)
_share_loop = make_mapped_loop(_body_share)


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
    n = x.ndim

    def impl(g, x, axis=None, keepdims=False):
        strides, size, _ = reduced_layout(shape_array(x.shape), mask_fn(axis, n))
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
    n = x.ndim

    def impl(x, ans, axis=None, keepdims=False):
        strides, size, _ = reduced_layout(shape_array(x.shape), mask_fn(axis, n))
        a = c_flat(ans)
        _check_size(a.size, size)
        cnt = np.zeros(size, np.intp)
        _count_loop(x, strides, cnt, a, cnt)
        out = np.empty(x.shape, dt)
        _share_loop(x, strides, out.reshape(out.size), a, cnt)
        return out

    return impl
