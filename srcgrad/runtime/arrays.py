"""Array runtime helpers called by generated adjoint code.

Each helper is a plain NumPy function (the debug backend calls it as is) with
a numba implementation registered via ``numba.extending.overload`` so that the
same name works inside ``@numba.njit`` code.  The numba versions accept C,
Fortran and non-contiguous arrays, keep float32 as float32, and take integer
``axis`` arguments either as compile-time literals or as runtime ints
(negative allowed).

The reductions and their adjoints live in :mod:`.reductions`, the
broadcasting helpers in :mod:`.broadcast`; both are re-exported here, so
generated code only needs ``from srcgrad.runtime.arrays import ...``.
"""

import numba
import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload
from numba.np import numpy_support
from numba.np.unsafe.ndarray import to_fixed_tuple

from .broadcast import (
    cast_like,
    inexact_dtype,
    is_scalar_type,
    normalize_axis,
    py_inexact_dtype,
    unbroadcast,
    zeros_like_any,
)
from .reductions import (
    argmax_mask,
    expand_reduced,
    max_axis,
    mean_axis,
    min_axis,
    prod_axis,
    sum_axis,
)

__all__ = [
    "add_at",
    "argmax_mask",
    "cast_like",
    "expand_dims_axis",
    "expand_reduced",
    "matmul_adj_a",
    "matmul_adj_b",
    "max_axis",
    "mean_axis",
    "min_axis",
    "prod_axis",
    "range_last",
    "squeeze_axis",
    "sum_axis",
    "unbroadcast",
    "zeros_like_any",
]


# ---------------------------------------------------------------------------
# add_at
# ---------------------------------------------------------------------------


def add_at(a, idx, v):
    """In place ``a[idx[k]] += v[k]``, repeated indices accumulating (``np.add.at``); returns ``a``."""
    np.add.at(a, idx, v)
    return a


@numba.njit
def _wrap_index(i, n):
    """Wrap a negative index and bounds-check it like NumPy."""
    j = i + n if i < 0 else i
    if j < 0 or j >= n:
        raise IndexError("add_at: index out of bounds")
    return j


@numba.njit
def _broadcast_step(vlen, n):
    """Index step through an operand axis of length ``vlen`` broadcast to length ``n``."""
    if vlen == n:
        return 1
    if vlen == 1:
        return 0
    raise ValueError("add_at: values do not broadcast against the indexed rows")


@overload(add_at)
def _add_at_ov(a, idx, v):
    if not (isinstance(a, types.Array) and a.ndim in (1, 2)):
        raise TypingError(f"add_at: target must be a 1-D or 2-D array, got {a}")
    int_index = isinstance(idx, types.Array) and isinstance(idx.dtype, types.Integer)
    if not (int_index and idx.ndim == 1):
        raise TypingError(f"add_at: indices must be a 1-D integer array, got {idx}")
    if is_scalar_type(v):
        if a.ndim == 1:

            def impl_scalar1(a, idx, v):
                n = a.shape[0]
                for k in range(idx.size):
                    a[_wrap_index(idx[k], n)] += v
                return a

            return impl_scalar1

        def impl_scalar2(a, idx, v):
            n = a.shape[0]
            for k in range(idx.size):
                i = _wrap_index(idx[k], n)
                for c in range(a.shape[1]):
                    a[i, c] += v
            return a

        return impl_scalar2
    if not isinstance(v, types.Array):
        raise TypingError(f"add_at: unsupported values {v}")
    if a.ndim == 1 and v.ndim == 1:

        def impl1(a, idx, v):
            n = a.shape[0]
            step = _broadcast_step(v.shape[0], idx.size)
            for k in range(idx.size):
                a[_wrap_index(idx[k], n)] += v[k * step]
            return a

        return impl1
    if a.ndim == 2 and v.ndim == 1:

        def impl_row(a, idx, v):
            n, m = a.shape
            step = _broadcast_step(v.shape[0], m)
            for k in range(idx.size):
                i = _wrap_index(idx[k], n)
                for c in range(m):
                    a[i, c] += v[c * step]
            return a

        return impl_row
    if a.ndim == 2 and v.ndim == 2:

        def impl2(a, idx, v):
            n, m = a.shape
            rstep = _broadcast_step(v.shape[0], idx.size)
            cstep = _broadcast_step(v.shape[1], m)
            for k in range(idx.size):
                i = _wrap_index(idx[k], n)
                for c in range(m):
                    a[i, c] += v[k * rstep, c * cstep]
            return a

        return impl2
    raise TypingError(f"add_at: values {v} do not fit target {a}")


# ---------------------------------------------------------------------------
# range_last
# ---------------------------------------------------------------------------


def range_last(a, b, s):
    """Last element of ``range(a, b, s)``; if empty, a start making the reversed range empty."""
    if s > 0:
        return a + ((b - a - 1) // s) * s
    if s < 0:
        return a + ((b - a + 1) // s) * s
    raise ValueError("range() arg 3 must not be zero")


@overload(range_last)
def _range_last_ov(a, b, s):
    if not all(isinstance(t, types.Integer) for t in (a, b, s)):
        raise TypingError("range_last: arguments must be integers")

    def impl(a, b, s):
        if s > 0:
            return a + ((b - a - 1) // s) * s
        if s < 0:
            return a + ((b - a + 1) // s) * s
        raise ValueError("range() arg 3 must not be zero")

    return impl


# ---------------------------------------------------------------------------
# matmul adjoints
# ---------------------------------------------------------------------------


def _blas_operand(x, dtype):
    """``x`` as a C- or F-contiguous array of ``dtype`` (what numba's ``np.dot`` needs)."""
    return np.asarray(x, dtype)


@overload(_blas_operand)
def _blas_operand_ov(x, dtype):
    if isinstance(x, types.Array) and x.dtype == dtype.dtype:
        if x.layout in "CF":
            return lambda x, dtype: x
        return lambda x, dtype: np.ascontiguousarray(x)
    return lambda x, dtype: np.ascontiguousarray(x).astype(dtype)


def _matmul_types(g, a, b, wrt):
    """Check operand types; return (compute dtype, result dtype) of a matmul adjoint."""
    if not (isinstance(a, types.Array) and isinstance(b, types.Array)):
        raise TypingError("matmul adjoint: a and b must be arrays")
    if a.ndim not in (1, 2) or b.ndim not in (1, 2):
        raise TypingError("matmul adjoint: only 1-D and 2-D operands are supported")
    if a.ndim == 1 and b.ndim == 1:
        if not is_scalar_type(g):
            raise TypingError("matmul adjoint: 1-D @ 1-D needs a scalar cotangent")
    elif not (isinstance(g, types.Array) and g.ndim == a.ndim + b.ndim - 2):
        raise TypingError(f"matmul adjoint: cotangent {g} does not match {a} @ {b}")
    compute = np.result_type(*(inexact_dtype(t) for t in (g, a, b)))
    return compute, inexact_dtype(wrt)


def _matmul_py(g, a, b, wrt_a):
    """NumPy cotangent of ``a @ b`` with respect to a (``wrt_a``) or b."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.ndim == 1 and b.ndim == 1:
        r = g * (b if wrt_a else a)
    elif a.ndim == 2 and b.ndim == 1:
        r = np.outer(g, b) if wrt_a else np.dot(a.T, g)
    elif a.ndim == 1 and b.ndim == 2:
        r = np.dot(b, g) if wrt_a else np.outer(a, g)
    else:
        r = np.dot(g, b.T) if wrt_a else np.dot(a.T, g)
    return np.asarray(r, dtype=py_inexact_dtype(a if wrt_a else b))


def matmul_adj_a(g, a, b):
    """Cotangent of ``a`` in ``a @ b`` for 1-D/2-D operands, in a's float dtype."""
    return _matmul_py(g, a, b, True)


def matmul_adj_b(g, a, b):
    """Cotangent of ``b`` in ``a @ b`` for 1-D/2-D operands, in b's float dtype."""
    return _matmul_py(g, a, b, False)


@numba.njit
def _scaled(s, v, dtype):
    """New 1-D ``dtype`` array ``s * v``."""
    out = np.empty(v.shape[0], dtype)
    for i in range(v.shape[0]):
        out[i] = s * v[i]
    return out


@numba.njit
def _outer(u, v, dtype):
    """New C ``dtype`` array ``outer(u, v)``."""
    out = np.empty((u.shape[0], v.shape[0]), dtype)
    for i in range(u.shape[0]):
        for j in range(v.shape[0]):
            out[i, j] = u[i] * v[j]
    return out


def _astype(r, dtype):
    """``r`` converted to ``dtype`` (no copy if it already has it)."""
    return r.astype(dtype, copy=False)


@overload(_astype)
def _astype_ov(r, dtype):
    if r.dtype == dtype.dtype:
        return lambda r, dtype: r
    return lambda r, dtype: r.astype(dtype)


@overload(matmul_adj_a)
def _matmul_adj_a_ov(g, a, b):
    ct, rt = _matmul_types(g, a, b, a)
    if a.ndim == 1 and b.ndim == 1:
        return lambda g, a, b: _scaled(g, b, rt)
    if b.ndim == 1:
        return lambda g, a, b: _outer(g, b, rt)
    if a.ndim == 1:
        return lambda g, a, b: _astype(np.dot(_blas_operand(b, ct), _blas_operand(g, ct)), rt)
    return lambda g, a, b: _astype(np.dot(_blas_operand(g, ct), _blas_operand(b, ct).T), rt)


@overload(matmul_adj_b)
def _matmul_adj_b_ov(g, a, b):
    ct, rt = _matmul_types(g, a, b, b)
    if a.ndim == 1 and b.ndim == 1:
        return lambda g, a, b: _scaled(g, a, rt)
    if a.ndim == 1:
        return lambda g, a, b: _outer(a, g, rt)
    return lambda g, a, b: _astype(np.dot(_blas_operand(a, ct).T, _blas_operand(g, ct)), rt)


# ---------------------------------------------------------------------------
# squeeze / expand_dims
# ---------------------------------------------------------------------------


def squeeze_axis(x, axis):
    """``np.squeeze(x, axis)`` for one int axis (which must have size 1)."""
    return np.squeeze(x, axis=axis)


def expand_dims_axis(x, axis):
    """``np.expand_dims(x, axis)`` for one int axis."""
    return np.expand_dims(x, axis)


@numba.njit
def _squeezed_layout(shape, strides, axis):
    """Shape and strides (as arrays) with size-1 ``axis`` removed."""
    n = len(shape)
    ax = normalize_axis(axis, n)
    if shape[ax] != 1:
        raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    new_shape = np.empty(n - 1, np.intp)
    new_strides = np.empty(n - 1, np.intp)
    i = 0
    for d in range(n):
        if d != ax:
            new_shape[i] = shape[d]
            new_strides[i] = strides[d]
            i += 1
    return new_shape, new_strides


@overload(squeeze_axis)
def _squeeze_axis_ov(x, axis):
    if not isinstance(axis, types.Integer):
        raise TypingError(f"squeeze_axis: axis must be an int, got {axis}")
    if not isinstance(x, types.Array) or x.ndim == 0:
        raise TypingError(f"squeeze_axis: unsupported argument {x}")
    nd = x.ndim - 1
    if nd == 0:
        dt = numpy_support.as_dtype(x.dtype)

        def impl0(x, axis):
            _squeezed_layout(x.shape, x.strides, np.intp(axis))
            out = np.empty((), dt)
            out[()] = x[0]
            return out

        return impl0

    def impl(x, axis):
        shp, strd = _squeezed_layout(x.shape, x.strides, np.intp(axis))
        return np.lib.stride_tricks.as_strided(x, shape=to_fixed_tuple(shp, nd), strides=to_fixed_tuple(strd, nd))

    return impl


@overload(expand_dims_axis)
def _expand_dims_axis_ov(x, axis):
    if not isinstance(axis, types.Integer):
        raise TypingError(f"expand_dims_axis: axis must be an int, got {axis}")
    if is_scalar_type(x):

        def impl_scalar(x, axis):
            normalize_axis(np.intp(axis), np.intp(1))
            return np.full(1, x)

        return impl_scalar
    if not isinstance(x, types.Array):
        raise TypingError(f"expand_dims_axis: unsupported argument {x}")
    return lambda x, axis: np.expand_dims(x, normalize_axis(np.intp(axis), np.intp(x.ndim + 1)))
