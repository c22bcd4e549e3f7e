"""Loop helpers the generated adjoints call (jitted; callable from Python too)."""

import numba


@numba.njit(cache=True)
def range_last(a, b, s):
    """The last element of range(a, b, s); with an empty range, a value making the reversed
    range ``range(range_last(a, b, s), a - sign(s), -s)`` empty as well."""
    if s > 0:
        return a + ((b - a - 1) // s) * s
    return a + ((b - a + 1) // s) * s


@numba.njit(cache=True)
def sign_int(s):
    """+1 or -1: the direction of a range step."""
    return 1 if s > 0 else -1
