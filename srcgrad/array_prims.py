"""Array construction primitives: np.zeros/ones/empty/full, their *_like forms, .copy().

(Reductions, linear algebra and shape primitives live in their own modules beside this one.)
"""

from __future__ import annotations

import numpy as np

from .primitives import METHODS, Prim, register
from .types import ArrayType, TupleType


def _shape_ndim(t) -> int:
    if isinstance(t, TupleType):
        return len(t.items)
    if isinstance(t, ArrayType) and t.ndim == 0 and t.is_int:
        return 1
    raise TypeError(f"a shape must be an int or a tuple of ints, not {t}")


def _alloc(in_types, params, weak):
    return [ArrayType(params.get("dtype") or "float64", _shape_ndim(in_types[0]))]


def _full(in_types, params, weak):
    fill = in_types[1]
    dtype = params.get("dtype") or (fill.dtype if not weak[1] or fill.is_float else "int64")
    if weak[1] and fill.is_float:
        dtype = params.get("dtype") or "float64"
    return [ArrayType(dtype, _shape_ndim(in_types[0]))]


def _alloc_like(in_types, params, weak):
    t = in_types[0]
    return [ArrayType(params.get("dtype") or t.dtype, t.ndim)]


def _full_like(in_types, params, weak):
    t = in_types[0]
    return [ArrayType(params.get("dtype") or t.dtype, t.ndim)]


def _tuple(in_types, params, weak):
    return [TupleType(tuple(in_types))]


def _same(in_types, params, weak):
    return [in_types[0]]


_DTYPE = "{dtype}"
for name, fn in [("zeros", np.zeros), ("ones", np.ones), ("empty", np.empty)]:
    register(Prim(name, f"np.{name}({{0}}, dtype=np.{_DTYPE})", _alloc, None, nondiff=True,
                  params=("dtype",), meta={"default_dtype": "float64"}), [fn])
    register(Prim(f"{name}_like", f"np.{name}_like({{0}}, dtype=np.{_DTYPE})", _alloc_like,
                  None, nondiff=True, params=("dtype",), meta={"dtype_from": 0}),
             [getattr(np, f"{name}_like")])
register(Prim("full", f"np.full({{0}}, {{1}}, dtype=np.{_DTYPE})", _full, None,
              params=("dtype",), meta={"dtype_from_out": True}), [np.full])
register(Prim("full_like", f"np.full_like({{0}}, {{1}}, dtype=np.{_DTYPE})", _full_like, None,
              params=("dtype",), meta={"dtype_from_out": True}), [np.full_like])
register(Prim("tuple", "({args},)", _tuple, None, nondiff=True))
register(Prim("copy_array", "{0}.copy()", _same, None), [np.copy])
METHODS["copy"] = "copy_array"
