"""The logistic function ``1 / (1 + exp(-x))`` over a whole float64 array, as one small loop.

Generated code calls ``rt.sigmoid_f64(x)`` for the ``sigmoid`` primitive that
:mod:`srcgrad.sigmoid` recognises in user code: one cached helper instead of four array
temporaries (negate, exponentiate, add one, divide).  Same formula as the user's, so the same
numbers.
"""

import numba
import numpy as np

_jit = numba.njit(cache=True, error_model="numpy", nogil=True)


@_jit
def sigmoid_f64(a):
    """``1 / (1 + exp(-a))`` elementwise: a new C float64 array of a's shape."""
    c = np.ascontiguousarray(a)
    fa = c.reshape(c.size)
    out = np.empty(fa.size, np.float64)
    for i in range(fa.size):
        out[i] = 1.0 / (1.0 + np.exp(-fa[i]))
    return out.reshape(a.shape)
