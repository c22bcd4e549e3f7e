"""Loop helpers the generated adjoints call (jitted; callable from Python too).

``range_last`` lives in `arrays.py` beside the other array/loop helpers."""

import numba


@numba.njit(cache=True)
def sign_int(s):
    """+1 or -1: the direction of a range step."""
    return 1 if s > 0 else -1
