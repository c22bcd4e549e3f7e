"""Forward-mode helpers the generated tangent code calls (numba overloads; plain NumPy in Python)."""

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload

__all__ = ["tangent_like"]


def tangent_like(t, y):
    """The tangent ``t`` broadcast to the shape of the array ``y`` (``t`` itself if it fits)."""
    shape = np.shape(y)
    if np.shape(t) == shape:
        return t
    return np.broadcast_to(np.asarray(t, dtype=np.result_type(t, 0.0)), shape).copy()


@overload(tangent_like)
def _tangent_like_ov(t, y):
    if not isinstance(y, types.Array):
        raise TypingError(f"tangent_like: y must be an array, got {y}")
    if isinstance(t, (types.Number, types.Boolean)):
        return lambda t, y: np.full(y.shape, t * 1.0)
    if not isinstance(t, types.Array):
        raise TypingError(f"tangent_like: unsupported tangent type {t}")
    if t.ndim == y.ndim:
        def same_ndim(t, y):
            if t.shape == y.shape:
                return np.asarray(t)
            return np.broadcast_to(t, y.shape).copy()

        return same_ndim
    return lambda t, y: np.broadcast_to(t, y.shape).copy()
