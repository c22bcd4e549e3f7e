"""Loop helpers the generated adjoints call (jitted; callable from Python too).

``range_last`` lives in `arrays.py` beside the other array/loop helpers."""

import numba
import numpy as np


@numba.njit(cache=True)
def sign_int(s):
    """+1 or -1: the direction of a range step."""
    return 1 if s > 0 else -1


@numba.njit(cache=True)
def unique_index(idx, base, axis, where):
    """Raise ValueError if the index array ``idx`` names an element of ``base``'s axis twice
    (negative entries counted from the end). A store ``a[idx] = v`` keeps the last of repeated
    writes, which the adjoint of a store cannot express."""
    n = base.shape[axis]
    seen = np.zeros(n, np.bool_)
    for k in idx.ravel():
        j = k + n if k < 0 else k
        if 0 <= j < n:
            if seen[j]:
                raise ValueError(where)
            seen[j] = True
