"""Broadcasting runtime helpers and the shared machinery of the array helpers.

Every public helper here is an ordinary NumPy function (used as is by the
debug backend) with a numba implementation registered through
``numba.extending.overload``; inside ``@numba.njit`` code the call resolves to
the overload, specialised on the numba types of the arguments.

The numba implementations share one building block, the *mapped loop*
(:func:`make_mapped_loop`): it walks a "big" array of any layout row by row in
C order and pairs each element with its partner in a "small" C array whose axes
are the big array's axes, some of them broadcast (stride 0).  Reductions,
un-broadcasting, broadcasting back (``expand_reduced``) and the max/min masks
are all that loop with a different row body.  Integer arguments passed to the
shared njit kernels are kept non-literal so that one compiled kernel serves
every axis and every reduction of an array type.
"""

import numba
import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload
from numba.misc.special import literal_unroll
from numba.np import numpy_support
from numba.np.unsafe.ndarray import to_fixed_tuple

__all__ = ["cast_like", "unbroadcast", "zeros_like_any"]


# ---------------------------------------------------------------------------
# Typing-time utilities (plain Python, run while numba infers types)
# ---------------------------------------------------------------------------


def is_scalar_type(t):
    """True for numba scalar types (numbers and booleans)."""
    return isinstance(t, (types.Number, types.Boolean))


def is_none_type(t):
    """True when an optional argument is absent or ``None``."""
    if t is None:
        return True
    if isinstance(t, types.Omitted):
        return t.value is None
    return isinstance(t, types.NoneType)


def inexact_dtype(*tys):
    """NumPy dtype of the first float/complex type among ``tys``, else float64."""
    for t in tys:
        dt = t.dtype if isinstance(t, types.Array) else t
        if isinstance(dt, (types.Float, types.Complex)):
            return numpy_support.as_dtype(dt)
    return np.dtype(np.float64)


def static_keepdims(keepdims):
    """Compile-time value of ``keepdims``, or ``None`` if it is a runtime value."""
    if keepdims is None or keepdims is False or keepdims is True:
        return bool(keepdims)
    if isinstance(keepdims, types.Omitted):
        return bool(keepdims.value)
    if isinstance(keepdims, types.NoneType):
        return False
    if isinstance(keepdims, (types.BooleanLiteral, types.IntegerLiteral)):
        return bool(keepdims.literal_value)
    if isinstance(keepdims, (types.Boolean, types.Integer)):
        return None
    raise TypingError(f"keepdims must be a boolean, got {keepdims}")


def axis_mask_function(axis, ndim):
    """Pick the njit function building the reduced-axes mask and count the reduced axes."""
    if is_none_type(axis):
        return _mask_all, ndim
    if isinstance(axis, types.Integer):
        return _mask_int, 1
    if isinstance(axis, types.BaseTuple) and all(isinstance(t, types.Integer) for t in axis):
        if len(axis) == 0:
            return _mask_none, 0
        return _mask_tuple, len(axis)
    raise TypingError(f"axis must be None, an int or a tuple of ints, got {axis}")


def py_inexact_dtype(*values):
    """Plain-Python twin of :func:`inexact_dtype` for runtime values."""
    for v in values:
        dt = getattr(v, "dtype", None)
        if dt is None:
            dt = np.asarray(v).dtype
        if dt.kind in "fc":
            return dt
    return np.dtype(np.float64)


def py_is_array(v):
    """True for NumPy arrays (including 0-d); Python and NumPy scalars are not arrays."""
    return isinstance(v, np.ndarray)


# ---------------------------------------------------------------------------
# njit building blocks
# ---------------------------------------------------------------------------


@numba.njit
def _mask_all(axis, ndim):
    """Mask selecting every axis (``axis=None``)."""
    return np.ones(ndim, np.bool_)


@numba.njit
def _mask_none(axis, ndim):
    """Mask selecting no axis (``axis=()``)."""
    return np.zeros(ndim, np.bool_)


@numba.njit
def normalize_axis(ax, ndim):
    """Map a possibly negative axis into ``range(ndim)`` or raise."""
    a = ax + ndim if ax < 0 else ax
    if a < 0 or a >= ndim:
        raise ValueError("axis is out of bounds for array of this dimension")
    return a


@numba.njit
def _mask_one(axis, ndim):
    """Mask selecting one (possibly negative) axis."""
    mask = np.zeros(ndim, np.bool_)
    mask[normalize_axis(axis, ndim)] = True
    return mask


@numba.njit(inline="always")
def _mask_int(axis, ndim):
    """:func:`_mask_one` for a literal or runtime int axis (one compiled version for all)."""
    return _mask_one(np.intp(axis), np.intp(ndim))


@numba.njit
def _mask_tuple(axis, ndim):
    """Mask selecting a tuple of axes; duplicates raise like NumPy."""
    mask = np.zeros(ndim, np.bool_)
    for ax in literal_unroll(axis):
        a = normalize_axis(np.intp(ax), np.intp(ndim))
        if mask[a]:
            raise ValueError("duplicate value in 'axis'")
        mask[a] = True
    return mask


@numba.njit
def shape_array(shape):
    """Copy a shape tuple into an intp array."""
    out = np.empty(len(shape), np.intp)
    for i in range(len(shape)):
        out[i] = shape[i]
    return out


@numba.njit
def reduced_layout(dims, mask):
    """Strides of the reduced C array (0 on reduced axes), its size, and elements per group."""
    n = dims.size
    strides = np.zeros(n, np.intp)
    size = 1
    count = 1
    for d in range(n - 1, -1, -1):
        if mask[d]:
            count *= dims[d]
        else:
            strides[d] = size
            size *= dims[d]
    return strides, size, count


@numba.njit
def reduced_shape(dims, mask, keepdims):
    """Shape (as an array) of a reduction of ``dims`` over ``mask``."""
    out = np.empty(dims.size, np.intp)
    i = 0
    for d in range(dims.size):
        if not mask[d]:
            out[i] = dims[d]
            i += 1
        elif keepdims:
            out[i] = 1
            i += 1
    return out[:i]


_RESHAPERS = {}


def reshaper(ndim):
    """njit ``f(flat, shape_array)``: ``flat`` reshaped to an ``ndim``-tuple (``flat[0]`` if 0)."""
    fn = _RESHAPERS.get(ndim)
    if fn is None:
        if ndim == 0:

            def _reshape(flat, shp):
                return flat[0]

        else:

            def _reshape(flat, shp):
                return flat.reshape(to_fixed_tuple(shp, ndim))

        fn = _RESHAPERS[ndim] = numba.njit(_reshape)
    return fn


def c_flat(x):
    """1-D C-ordered view of array ``x`` (a copy if needed); a 1-element array for a scalar."""
    return np.ascontiguousarray(x).reshape(-1)


@overload(c_flat)
def _c_flat_ov(x):
    if is_scalar_type(x):
        dt = numpy_support.as_dtype(x)

        def impl_scalar(x):
            out = np.empty(1, dt)
            out[0] = x
            return out

        return impl_scalar
    if not isinstance(x, types.Array):
        raise TypingError(f"expected an array or a scalar, got {x}")
    if x.layout == "C":
        return lambda x: x.reshape(x.size)

    def impl(x):
        out = np.empty(x.size, x.dtype)
        for i, v in enumerate(x.flat):
            out[i] = v
        return out

    return impl


def make_mapped_loop(row_body):
    """Build the jit-only ``loop(big, kstrides, a, b, c)`` walking array ``big`` row by row.

    For every 1-D view ``row`` of ``big`` (any layout) along its last axis, in C
    order, it calls ``row_body(row, a, b, c, j, k, klast)`` where ``j`` is the
    C-order flat index of ``row[0]`` in ``big`` and ``k + i * klast`` the flat
    index of ``row[i]``'s partner in a small C array whose strides, counted in
    ``big``'s axes, are ``kstrides`` (0 on broadcast axes, so ``klast`` is 0 or 1).
    """

    def loop(big, kstrides, a, b, c):
        raise NotImplementedError("mapped loops are only callable from numba-compiled code")

    @overload(loop)
    def _loop_ov(big, kstrides, a, b, c):
        lead = big.ndim - 1  # axes enumerated by the row odometer
        if lead == 0:
            return lambda big, kstrides, a, b, c: row_body(big, a, b, c, 0, 0, kstrides[0])

        def impl(big, kstrides, a, b, c):
            dims = big.shape
            klast = kstrides[lead]
            rows = 1
            for d in range(lead):
                rows *= dims[d]
            idx = np.zeros(lead, np.intp)
            k = 0
            for r in range(rows):
                row_body(big[to_fixed_tuple(idx, lead)], a, b, c, r * dims[lead], k, klast)
                d = lead - 1
                while d >= 0:
                    idx[d] += 1
                    k += kstrides[d]
                    if idx[d] < dims[d]:
                        break
                    k -= kstrides[d] * dims[d]
                    idx[d] = 0
                    d -= 1

        return impl

    return loop


@numba.njit(inline="always")
def _row_add(row, out, b, c, j, k, klast):
    if klast == 0:
        acc = out[k]
        for i in range(row.shape[0]):
            acc += row[i]
        out[k] = acc
    else:
        for i in range(row.shape[0]):
            out[k + i] += row[i]


@numba.njit(inline="always")
def _row_gather(row, out, src, c, j, k, klast):
    if klast == 0:
        v = src[k]
        for i in range(row.shape[0]):
            out[j + i] = v
    else:
        for i in range(row.shape[0]):
            out[j + i] = src[k + i]


#: ``out[k] += big[j]``: sums the big array into the small one.
add_loop = make_mapped_loop(_row_add)
#: ``out[j] = src[k]``: broadcasts the small array into the big one (pass ``big=out``, ``a=out.ravel()``).
gather_loop = make_mapped_loop(_row_gather)


@numba.njit
def _unbroadcast_layout(gdims, xdims):
    """Strides from g's axes into x's C array (0 on leading and size-1 axes), x's size."""
    lead = gdims.size - xdims.size
    strides = np.zeros(gdims.size, np.intp)
    size = 1
    for d in range(xdims.size - 1, -1, -1):
        xd = xdims[d]
        if xd == gdims[lead + d]:
            strides[lead + d] = size
        elif xd != 1:
            raise ValueError("unbroadcast: cotangent shape is not a broadcast of x's shape")
        size *= xd
    return strides, size


@numba.njit
def _unbroadcast_sum(g, x, dtype):
    """Sum array ``g`` over its broadcast axes into a new C array of ``x``'s shape."""
    strides, size = _unbroadcast_layout(shape_array(g.shape), shape_array(x.shape))
    out = np.zeros(size, dtype)
    add_loop(g, strides, out, out, out)
    return out.reshape(x.shape)


# ---------------------------------------------------------------------------
# unbroadcast
# ---------------------------------------------------------------------------


def unbroadcast(g, x):
    """Sum cotangent ``g`` (of a broadcast result) down to the shape and float type of ``x``."""
    dt = py_inexact_dtype(x, g)
    if not py_is_array(x):
        return dt.type(np.sum(g))
    if not py_is_array(g):
        return np.full(x.shape, g, dtype=dt)
    if g.shape != x.shape:
        lead = g.ndim - x.ndim
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(x.shape) if n == 1 and g.shape[lead + i] != 1)
        g = np.asarray(np.sum(g, axis=axes)).reshape(x.shape)
    return g.astype(dt, copy=False)


@overload(unbroadcast)
def _unbroadcast_ov(g, x):
    dt = inexact_dtype(x, g)
    if is_scalar_type(x):
        conv = dt.type
        if is_scalar_type(g):
            return lambda g, x: conv(g)
        if isinstance(g, types.Array):
            return lambda g, x: conv(np.sum(g))
    if not isinstance(x, types.Array):
        raise TypingError(f"unbroadcast: unsupported x type {x}")
    if is_scalar_type(g):
        return lambda g, x: np.full(x.shape, g, dt)
    if x.ndim == 0 and isinstance(g, types.Array):
        return lambda g, x: np.full(x.shape, np.sum(g), dt)
    if not isinstance(g, types.Array) or g.ndim < x.ndim:
        raise TypingError(f"unbroadcast: cotangent {g} cannot reduce to {x}")
    xnd = x.ndim
    same_dtype = numpy_support.as_dtype(g.dtype) == dt

    if g.ndim > xnd:
        return lambda g, x: _unbroadcast_sum(g, x, dt)
    if same_dtype:

        def impl(g, x):
            if g.shape == x.shape:
                return g
            return _unbroadcast_sum(g, x, dt)

        return impl

    def impl_cast(g, x):
        if g.shape == x.shape:
            return g.astype(dt)
        return _unbroadcast_sum(g, x, dt)

    return impl_cast


# ---------------------------------------------------------------------------
# zeros_like_any and cast_like
# ---------------------------------------------------------------------------


def zeros_like_any(x):
    """Zero cotangent for ``x``: a float scalar, or a C array of ``x``'s shape."""
    dt = py_inexact_dtype(x)
    if py_is_array(x):
        return np.zeros(x.shape, dtype=dt)
    return dt.type(0)


@overload(zeros_like_any)
def _zeros_like_any_ov(x):
    dt = inexact_dtype(x)
    if isinstance(x, types.Array):
        return lambda x: np.zeros(x.shape, dt)
    if is_scalar_type(x):
        conv = dt.type
        return lambda x: conv(0)
    raise TypingError(f"zeros_like_any: unsupported type {x}")


def cast_like(v, x):
    """Convert ``v`` to ``x``'s float dtype (float64 for int/bool ``x``), copying only if needed."""
    dt = py_inexact_dtype(x)
    if py_is_array(v):
        return v.astype(dt, copy=False)
    return dt.type(v)


@overload(cast_like)
def _cast_like_ov(v, x):
    if not (is_scalar_type(x) or isinstance(x, types.Array)):
        raise TypingError(f"cast_like: unsupported x type {x}")
    dt = inexact_dtype(x)
    if isinstance(v, types.Array):
        if numpy_support.as_dtype(v.dtype) == dt:
            return lambda v, x: v
        return lambda v, x: v.astype(dt)
    if is_scalar_type(v):
        conv = dt.type
        return lambda v, x: conv(v)
    raise TypingError(f"cast_like: unsupported v type {v}")
