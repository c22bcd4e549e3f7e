"""Small type-specialised helpers that codegen emits when the IR types decide the case.

The generic helpers (``rt.unbroadcast``, ``rt.fill_like``...) are numba ``@overload``s: every
generated function recompiles them for its signatures in every process.  The helpers here are
plain ``@numba.njit(cache=True)`` functions with explicit loops, one per case (the number of
dimensions is in the name), so numba compiles each signature once per machine and later
processes load its machine code from the cache.  They are ordinary Python functions too
(the debug backend calls them unjitted).

Everything they call is defined in this file, so numba's cache (keyed on this file) never
serves machine code built from an older version of a callee.

Conventions: ``*_f64``/``*_f32`` allocate in that dtype; shapes are tuples; mismatched shapes
raise ``ValueError`` with a constant message (no formatting, which is costly to compile).
"""

import numba
import numpy as np
from numba import types
from numba.extending import overload

__all__ = ["dot", "empty_b1", "empty_f32", "empty_f64", "empty_i64",
           "full_f32", "full_f64", "iadd_1", "iadd_1s", "iadd_2", "iadd_2s", "matmul_adj_a2",
           "matmul_adj_b2", "mean_full_f32", "mul_adj_pair_1", "mul_unbroadcast_1",
           "mean_full_f64", "row_add", "row_add_s", "row_set", "row_set_s", "slice_add", "slice_add_s",
           "slice_set", "slice_set_s", "sum_all", "unbroadcast_eq1", "unbroadcast_eq2",
           "unbroadcast_eq3", "unbroadcast_rows", "ones_f32", "ones_f64", "zeros_b1", "zeros_f32", "zeros_f64",
           "zeros_i64"]

_jit = numba.njit(cache=True, error_model="numpy", nogil=True)
_SHAPE = "cotangent shape is not a broadcast of the input's shape"
_STORE = "could not broadcast the value into the indexed region"


# ---------------------------------------------------------------------------
# loops
# ---------------------------------------------------------------------------


@_jit
def range_last_i64(a, b, s):
    """``rt.range_last`` for int64 bounds: the last element of ``range(a, b, s)``; for an empty
    range, a start that makes the reversed range empty too."""
    if s > 0:
        return a + ((b - a - 1) // s) * s
    if s < 0:
        return a + ((b - a + 1) // s) * s
    raise ValueError("range() arg 3 must not be zero")


# ---------------------------------------------------------------------------
# allocation
# ---------------------------------------------------------------------------


@_jit
def zeros_f64(shape):
    """``np.zeros(shape)`` in float64 (shape: an int or a tuple of ints)."""
    return np.zeros(shape, np.float64)


@_jit
def zeros_f32(shape):
    """``np.zeros(shape)`` in float32."""
    return np.zeros(shape, np.float32)


@_jit
def zeros_i64(shape):
    """``np.zeros(shape)`` in int64."""
    return np.zeros(shape, np.int64)


@_jit
def zeros_b1(shape):
    """``np.zeros(shape)`` in bool."""
    return np.zeros(shape, np.bool_)


@_jit
def empty_f64(shape):
    """``np.empty(shape)`` in float64.  numba compiles its own ``np.empty`` (and np.zeros)
    implementation for every generated function in every process (~0.2 s each signature);
    these helpers' machine code is cached."""
    return np.empty(shape, np.float64)


@_jit
def empty_f32(shape):
    """``np.empty(shape)`` in float32."""
    return np.empty(shape, np.float32)


@_jit
def empty_i64(shape):
    """``np.empty(shape)`` in int64."""
    return np.empty(shape, np.int64)


@_jit
def empty_b1(shape):
    """``np.empty(shape)`` in bool."""
    return np.empty(shape, np.bool_)


@_jit
def ones_f64(shape):
    """``np.ones(shape)`` in float64."""
    return np.ones(shape, np.float64)


@_jit
def ones_f32(shape):
    """``np.ones(shape)`` in float32."""
    return np.ones(shape, np.float32)


@_jit
def full_f64(shape, v):
    """``np.full(shape, v)`` in float64."""
    out = np.empty(shape, np.float64)
    out.fill(v)
    return out


@_jit
def full_f32(shape, v):
    """``np.full(shape, v)`` in float32."""
    out = np.empty(shape, np.float32)
    out.fill(v)
    return out


@_jit
def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n


@_jit
def mean_full_f64(shape, g):
    """Cotangent of ``np.mean(x)`` for x of ``shape``: g / x.size everywhere (nan if empty)."""
    n = _size(shape)
    return full_f64(shape, g / n if n else np.nan)


@_jit
def mean_full_f32(shape, g):
    """float32 twin of :func:`mean_full_f64`."""
    n = _size(shape)
    return full_f32(shape, g / n if n else np.nan)


# ---------------------------------------------------------------------------
# unbroadcast (g's dtype is already the result's)
# ---------------------------------------------------------------------------


@_jit
def sum_all(g):
    """Sum of every element of array ``g`` (any layout), in g's dtype."""
    return np.sum(g)


@_jit
def _axis_step(gd, xd):
    """1 if x's axis matches g's, 0 if x's axis has size 1 (broadcast), else raise."""
    if xd == gd:
        return 1
    if xd == 1:
        return 0
    raise ValueError(_SHAPE)


@_jit
def _bc(m, n):
    """(size, step in the first, step in the second) of a broadcast of 1-D lengths m and n."""
    if m == n:
        return m, 1, 1
    if m == 1:
        return n, 0, 1
    if n == 1:
        return m, 1, 0
    raise ValueError("operands could not be broadcast together")


@_jit
def mul_unbroadcast_1(g, b, x):
    """``unbroadcast_eq1(g * b, x)`` for 1-D arrays of one float dtype, in one call: the
    cotangent of x in a product x * b (mul_unbroadcast.py).  Same values, same summation
    order."""
    n, sg, sb = _bc(g.shape[0], b.shape[0])
    if x.shape[0] == n:
        out = np.empty(n, g.dtype)
        if sg == 1 and sb == 1:
            for i in range(n):
                out[i] = g[i] * b[i]
        else:
            for i in range(n):
                out[i] = g[i * sg] * b[i * sb]
        return out
    s0 = _axis_step(n, x.shape[0])
    out = np.zeros(x.shape, g.dtype)
    for i in range(n):
        out[i * s0] += g[i * sg] * b[i * sb]
    return out


@_jit
def mul_adj_pair_1(g, a, b):
    """The cotangents of both factors of ``a * b`` in one call (mul_unbroadcast.py `_pair`):
    ``(unbroadcast(g * b, a), unbroadcast(g * a, b))``."""
    return mul_unbroadcast_1(g, b, a), mul_unbroadcast_1(g, a, b)


@_jit
def unbroadcast_eq1(g, x):
    """``g`` summed to 1-D ``x``'s shape (g itself when the shapes agree)."""
    if g.shape == x.shape:
        return g
    s0 = _axis_step(g.shape[0], x.shape[0])
    out = np.zeros(x.shape, g.dtype)
    for i in range(g.shape[0]):
        out[i * s0] += g[i]
    return out


@_jit
def unbroadcast_eq2(g, x):
    """``g`` summed to 2-D ``x``'s shape (g itself when the shapes agree)."""
    if g.shape == x.shape:
        return g
    s0 = _axis_step(g.shape[0], x.shape[0])
    s1 = _axis_step(g.shape[1], x.shape[1])
    out = np.zeros(x.shape, g.dtype)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            out[i * s0, j * s1] += g[i, j]
    return out


@_jit
def unbroadcast_eq3(g, x):
    """``g`` summed to 3-D ``x``'s shape (g itself when the shapes agree)."""
    if g.shape == x.shape:
        return g
    s0 = _axis_step(g.shape[0], x.shape[0])
    s1 = _axis_step(g.shape[1], x.shape[1])
    s2 = _axis_step(g.shape[2], x.shape[2])
    out = np.zeros(x.shape, g.dtype)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            for k in range(g.shape[2]):
                out[i * s0, j * s1, k * s2] += g[i, j, k]
    return out


@_jit
def unbroadcast_rows(g, x):
    """2-D ``g`` summed to 1-D ``x``'s shape (over rows, and columns if x has length 1)."""
    s1 = _axis_step(g.shape[1], x.shape[0])
    out = np.zeros(x.shape, g.dtype)
    for i in range(g.shape[0]):
        for j in range(g.shape[1]):
            out[j * s1] += g[i, j]
    return out


# ---------------------------------------------------------------------------
# matrix products
# ---------------------------------------------------------------------------


def _blas(x):
    """``x`` as a C- or F-contiguous array (what numba's ``np.dot`` accepts)."""
    return x


@overload(_blas)
def _blas_ov(x):
    if isinstance(x, types.Array) and x.layout in "CF":
        return lambda x: x
    return lambda x: np.ascontiguousarray(x)


@_jit
def dot(a, b):
    """``np.dot(a, b)`` for 1-D/2-D float arrays of one dtype and any layout."""
    return np.dot(_blas(a), _blas(b))


@_jit
def matmul_adj_a2(g, a, b):
    """Cotangent of 2-D ``a`` in ``a @ b`` (2-D b): ``g @ b.T``."""
    return np.dot(_blas(g), _blas(b).T)


@_jit
def matmul_adj_b2(g, a, b):
    """Cotangent of 2-D ``b`` in ``a @ b`` (2-D a): ``a.T @ g``."""
    return np.dot(_blas(a).T, _blas(g))


# ---------------------------------------------------------------------------
# stores into a 1-D slice ``a[lo:hi]`` or a row ``a[i]`` of a 2-D array
# ---------------------------------------------------------------------------


@_jit
def _bounds(lo, hi, n):
    """Python's clamping of ``lo:hi`` (step 1) on a length-n axis."""
    if lo < 0:
        lo = max(lo + n, 0)
    if hi < 0:
        hi = max(hi + n, 0)
    lo = min(lo, n)
    hi = min(hi, n)
    return lo, max(hi, lo)


@_jit
def _row(i, n):
    j = i + n if i < 0 else i
    if j < 0 or j >= n:
        raise IndexError("index out of bounds")
    return j


@_jit
def _value_step(vlen, n):
    if vlen == n:
        return 1
    if vlen == 1:
        return 0
    raise ValueError(_STORE)


@_jit
def _extent(x):
    """First and one-past-last byte address that array ``x`` can touch."""
    lo = x.ctypes.data
    hi = lo + x.itemsize
    for d in range(x.ndim):
        if x.shape[d] == 0:
            return lo, lo
        span = x.strides[d] * (x.shape[d] - 1)
        if span < 0:
            lo += span
        else:
            hi += span
    return lo, hi


@_jit
def _unaliased(a, v):
    """``v``, or a copy of it when its memory may overlap ``a``'s."""
    alo, ahi = _extent(a)
    vlo, vhi = _extent(v)
    if vlo < ahi and alo < vhi:
        return v.copy()
    return v


@_jit
def slice_add(a, lo, hi, v):
    """``a[lo:hi] += v`` for 1-D ``a`` and 1-D ``v``."""
    lo, hi = _bounds(lo, hi, a.shape[0])
    s = _value_step(v.shape[0], hi - lo)
    tmp = _unaliased(a, v)
    for i in range(hi - lo):
        a[lo + i] += tmp[i * s]


@_jit
def slice_add_s(a, lo, hi, v):
    """``a[lo:hi] += v`` for 1-D ``a`` and a number ``v``."""
    lo, hi = _bounds(lo, hi, a.shape[0])
    for i in range(lo, hi):
        a[i] += v


@_jit
def slice_set(a, lo, hi, v):
    """``a[lo:hi] = v`` for 1-D ``a`` and 1-D ``v`` (v may alias a)."""
    lo, hi = _bounds(lo, hi, a.shape[0])
    s = _value_step(v.shape[0], hi - lo)
    tmp = _unaliased(a, v)
    for i in range(hi - lo):
        a[lo + i] = tmp[i * s]


@_jit
def slice_set_s(a, lo, hi, v):
    """``a[lo:hi] = v`` for 1-D ``a`` and a number ``v``."""
    lo, hi = _bounds(lo, hi, a.shape[0])
    for i in range(lo, hi):
        a[i] = v


@_jit
def row_add(a, i, v):
    """``a[i] += v`` for 2-D ``a`` and 1-D ``v``."""
    r = _row(i, a.shape[0])
    s = _value_step(v.shape[0], a.shape[1])
    tmp = _unaliased(a, v)
    for j in range(a.shape[1]):
        a[r, j] += tmp[j * s]


@_jit
def row_add_s(a, i, v):
    """``a[i] += v`` for 2-D ``a`` and a number ``v``."""
    r = _row(i, a.shape[0])
    for j in range(a.shape[1]):
        a[r, j] += v


@_jit
def row_set(a, i, v):
    """``a[i] = v`` for 2-D ``a`` and 1-D ``v`` (v may alias a)."""
    r = _row(i, a.shape[0])
    s = _value_step(v.shape[0], a.shape[1])
    tmp = _unaliased(a, v)
    for j in range(a.shape[1]):
        a[r, j] = tmp[j * s]


@_jit
def row_set_s(a, i, v):
    """``a[i] = v`` for 2-D ``a`` and a number ``v``."""
    r = _row(i, a.shape[0])
    for j in range(a.shape[1]):
        a[r, j] = v


# ---------------------------------------------------------------------------
# in-place accumulation ``a += v`` (v broadcast onto a's shape; NumPy's overlap semantics)
# ---------------------------------------------------------------------------


@_jit
def iadd_1(a, v):
    """``a += v`` for 1-D ``a`` and 1-D ``v``."""
    s = _value_step(v.shape[0], a.shape[0])
    tmp = _unaliased(a, v)
    for i in range(a.shape[0]):
        a[i] += tmp[i * s]


@_jit
def iadd_2(a, v):
    """``a += v`` for 2-D ``a`` and 2-D ``v``."""
    s0 = _value_step(v.shape[0], a.shape[0])
    s1 = _value_step(v.shape[1], a.shape[1])
    tmp = _unaliased(a, v)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] += tmp[i * s0, j * s1]


@_jit
def iadd_1s(a, v):
    """``a += v`` for 1-D ``a`` and a number ``v``."""
    for i in range(a.shape[0]):
        a[i] += v


@_jit
def iadd_2s(a, v):
    """``a += v`` for 2-D ``a`` and a number ``v``."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] += v
