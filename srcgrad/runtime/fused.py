"""Fixed elementwise chains on 1-D float64 arrays as one cached call each (fused_chains.py).

Each call of a cached array helper costs about 12-14 ms of numba compile at its call site (the
call, its error check, reference counting).  Three chains recur in NumPy-form adjoints and
layers: the logistic function's adjoint ``g * (y * (1 - y))``, tanh's ``g * (1 - y * y)`` and
the affine ``a * b + c``; and a product's two factors get their cotangents from one call
(``mul_adj_pair_1``: the two ``mul_unbroadcast_1`` calls of specialised.py).  Each helper does
the same operations in the same order as the code it replaces (same values), broadcasts
length-1 operands the same way, and raises the same ``ValueError`` on mismatched lengths.
Everything they call is defined here (numba's cache is keyed on this file).
"""

import numba
import numpy as np

__all__ = ["mul_add_1", "mul_adj_pair_1", "sigmoid_adj_1", "tanh_adj_1"]

_jit = numba.njit(cache=True, error_model="numpy", nogil=True)


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
def sigmoid_adj_1(g, y):
    """``g * (y * (1.0 - y))``: the cotangent of v in y = sigmoid(v)."""
    n, sg, sy = _bc(g.shape[0], y.shape[0])
    out = np.empty(n, np.float64)
    for i in range(n):
        v = y[i * sy]
        out[i] = g[i * sg] * (v * (1.0 - v))
    return out


@_jit
def tanh_adj_1(g, y):
    """``g * (1.0 - y * y)``: the cotangent of v in y = tanh(v)."""
    n, sg, sy = _bc(g.shape[0], y.shape[0])
    out = np.empty(n, np.float64)
    for i in range(n):
        v = y[i * sy]
        out[i] = g[i * sg] * (1.0 - v * v)
    return out


@_jit
def mul_add_1(a, b, c):
    """``a * b + c``."""
    n, sa, sb = _bc(a.shape[0], b.shape[0])
    m, s0, sc = _bc(n, c.shape[0])
    out = np.empty(m, np.float64)
    for i in range(m):
        k = i * s0
        out[i] = a[k * sa] * b[k * sb] + c[i * sc]
    return out


@_jit
def _axis_step(gd, xd):
    """1 if x's axis matches g's, 0 if x's axis has size 1 (broadcast), else raise."""
    if xd == gd:
        return 1
    if xd == 1:
        return 0
    raise ValueError("cotangent shape is not a broadcast of the input's shape")


@_jit
def _mul_unbroadcast(g, b, x):
    """specialised.mul_unbroadcast_1: ``unbroadcast_eq1(g * b, x)``, same order of operations."""
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
    """The cotangents of both factors of ``a * b``: ``(unbroadcast(g * b, a),
    unbroadcast(g * a, b))``."""
    return _mul_unbroadcast(g, b, a), _mul_unbroadcast(g, a, b)
