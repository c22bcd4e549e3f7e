"""The adjoint of a gather (``y = x[idx]`` with an integer index array): a scatter-add.

``x_bar[idx] += y_bar`` does not accumulate repeated indices (NumPy and numba both buffer the
update), so the reverse pass marks such stores ``op="scatter_add"`` and codegen renders them as
``rt.add_at(view, idx, value)`` on a view of the adjoint that has the indexed axis first.

Supported: one 1-D integer index array among integers and slices, e.g. ``x[idx]``,
``x[idx, j]``, ``x[i, idx]``, ``x[:, idx]`` of 1-D and 2-D arrays.  Anything else raises a
`DifferentiationError` rather than risk a silently wrong gradient.
"""

from __future__ import annotations

from .errors import DifferentiationError
from .ir import NEWAXIS, Slice, Var
from .types import ArrayType


def _is_index_array(item, types) -> bool:
    if not isinstance(item, Var):
        return False
    t = types.get(item.name)
    return isinstance(t, ArrayType) and t.ndim > 0 and (t.is_int or t.is_bool)


def _is_int_array(item, types) -> bool:
    t = types.get(item.name) if isinstance(item, Var) else None
    return isinstance(t, ArrayType) and t.ndim > 0 and t.is_int


def needs_scatter(index, types) -> bool:
    """True when ``x_bar[index] += v`` must accumulate repeated entries (an int index array)."""
    return any(_is_int_array(item, types) for item in index)


def plan(index, types, base_ndim: int, loc):
    """(position of the index array in ``index``, axis of the view it indexes); or raise."""
    arrays = [k for k, item in enumerate(index) if _is_index_array(item, types)]
    if len(arrays) != 1 or any(item is NEWAXIS for item in index):
        raise DifferentiationError(
            "cannot differentiate this gather: only one integer index array (with ints and "
            "slices) is supported in a differentiated read", loc, construct="fancy indexing")
    k = arrays[0]
    t = types[index[k].name]
    if t.ndim != 1:
        raise DifferentiationError("cannot differentiate a read with a multi-dimensional index "
                                   "array; index with a 1-D array", loc,
                                   construct="fancy indexing")
    ints = [j for j, item in enumerate(index) if j != k and not isinstance(item, Slice)]
    lo, hi = min(ints + [k]), max(ints + [k])
    if any(isinstance(index[j], Slice) for j in range(lo, hi)):
        raise DifferentiationError("an integer and an index array separated by a slice (NumPy "
                                   "moves the indexed axis first) cannot be differentiated",
                                   loc, construct="fancy indexing")
    axis = sum(1 for item in index[:k] if isinstance(item, Slice))
    view_ndim = base_ndim - len(ints)
    if view_ndim > 2:
        raise DifferentiationError("differentiated reads with an index array support 1-D and "
                                   "2-D arrays (after integer indices)", loc,
                                   construct="fancy indexing")
    return k, axis


def render(target: str, index_parts: list, k: int, axis: int, idx: str, value: str) -> str:
    """``rt.add_at(view, idx, value)`` with the array item of the index replaced by ``:``."""
    parts = list(index_parts)
    parts[k] = ":"
    view = f"{target}[{', '.join(parts)}]" if any(p != ":" for p in parts) else target
    if axis == 1:
        return f"rt.add_at({view}.T, {idx}, {value}.T)"
    return f"rt.add_at({view}, {idx}, {value})"
