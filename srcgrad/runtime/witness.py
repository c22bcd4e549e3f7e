"""Lengths standing in for 1-D arrays kept only for their shape (see srcgrad/shape_witness.py).

``bcast_len(m, n)``: the length of a broadcast of lengths m and n; ``unbroadcast_len(g, n)``:
1-D ``g`` summed to length n (g itself when it already has n entries, as ``unbroadcast``);
``full_len(n, v)``: a float64 array of n copies of v (``np.sum``'s adjoint).
"""

import numba
import numpy as np

_jit = numba.njit(cache=True, error_model="numpy", nogil=True)
_SHAPES = "operands could not be broadcast together"


@_jit
def bcast_len(m, n):
    """Length of the broadcast of 1-D lengths m and n."""
    if m == n or n == 1:
        return m
    if m == 1:
        return n
    raise ValueError(_SHAPES)


@_jit
def unbroadcast_len(g, n):
    """1-D ``g`` reduced to length ``n``: g itself, or its sum as one entry when n is 1."""
    if g.shape[0] == n:
        return g
    if n != 1:
        raise ValueError(_SHAPES)
    out = np.zeros(1, g.dtype)
    out[0] = np.sum(g)
    return out


@_jit
def full_len(n, v):
    """``np.full(n, v)`` for a float64 number v."""
    out = np.empty(n, np.float64)
    for i in range(n):
        out[i] = v
    return out
