"""Scalar helpers the generated code calls (jitted; callable from Python too)."""

import numba


@numba.njit(cache=True)
def int_pow(a, b):
    """``a ** b`` for two integers.  Python returns a float when ``b < 0`` and numba silently
    returns an integer (0 for ``2 ** -2``); srcgrad types ``int ** int`` as an int, so a negative
    exponent raises instead of giving a wrong value."""
    if b < 0:
        raise ValueError("srcgrad: int ** negative int; the result of int ** int is typed as an "
                         "int, write float(a) ** b for a float result")
    return a ** b
