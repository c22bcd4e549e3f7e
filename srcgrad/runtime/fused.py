"""Fixed elementwise chains on 1-D float64 arrays as one cached call each (fused_chains.py).

Each call of a cached array helper costs about 12-14 ms of numba compile at its call site (the
call, its error check, reference counting).  Three chains recur in NumPy-form adjoints and
layers: the logistic function's adjoint ``g * (y * (1 - y))``, tanh's ``g * (1 - y * y)`` and
the affine ``a * b + c`` (a product's two factor cotangents in one call, ``mul_adj_pair_1``,
is in specialised.py beside the ``mul_unbroadcast_1`` it calls twice).  Each helper does the
same operations in the same order as the code it replaces (same values), broadcasts length-1
operands the same way, and raises the same ``ValueError`` on mismatched lengths.
Everything they call is defined here (numba's cache is keyed on this file).
"""

import numba
import numpy as np

__all__ = ["mul_add_1", "sigmoid_adj_1", "tanh_adj_1"]

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

