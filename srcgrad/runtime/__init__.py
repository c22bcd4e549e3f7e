"""Helpers that generated code calls (``rt.unbroadcast(...)``): numba-compiled, callable from
Python too.  This package imports only numba and NumPy, never the compiler stages."""

from .broadcast import cast_like, unbroadcast, zeros_like_any
from .loops import range_last, sign_int

__all__ = ["cast_like", "range_last", "sign_int", "unbroadcast", "zeros_like_any"]
