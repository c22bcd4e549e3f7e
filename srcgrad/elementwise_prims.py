"""Elementwise array primitives beyond arithmetic: np.where, np.clip, logic on boolean arrays.

Also marks which primitives get float32 constants (``"arith"``: numba computes
``float32 * 2`` in float64, NumPy 2 keeps float32), and gives ``and``/``or``/``not`` an
array form (Python's ``and`` on arrays would be an error; NumPy code means ``logical_and``).
"""

from __future__ import annotations

import numpy as np

from .primitives import PRIMS, Prim, register
from .types import BOOL, elementwise


def _where(in_types, params, weak):
    cond, x, y = in_types
    out = elementwise(x, y, weak=weak[1:])
    return [out.with_ndim(max(cond.ndim, out.ndim))]


def _where_fmt(ins, outs):
    if all(t is None or t.ndim == 0 for t in ins):
        return "({1} if {0} else {2})"
    return "np.where({0}, {1}, {2})"


register(Prim("where", "np.where({0}, {1}, {2})", _where, None,
              meta={"select_fmt": _where_fmt, "arith": True}), [np.where])


def _clip(in_types, params, weak):
    return [elementwise(*in_types, weak=weak)]


def _clip_fmt(ins, outs):
    if all(t is None or t.ndim == 0 for t in ins):
        return "min(max({0}, {1}), {2})"
    if ins[0].ndim < max(t.ndim for t in ins if t is not None):  # numba: x sets the shape
        return "np.minimum(np.maximum({0}, {1}), {2})"
    return "np.clip({0}, {1}, {2})"


register(Prim("clip", "np.clip({0}, {1}, {2})", _clip, np.clip,
              meta={"select_fmt": _clip_fmt, "arith": True}), [np.clip])


def _logic(in_types, params, weak):
    return [BOOL.with_ndim(max(t.ndim for t in in_types))]


for _name in ("logical_and", "logical_or", "logical_xor", "logical_not"):
    _fn = getattr(np, _name)
    _fmt = f"np.{_name}({{0}})" if _name == "logical_not" else f"np.{_name}({{0}}, {{1}})"
    register(Prim(_name, _fmt, _logic, _fn, nondiff=True), [_fn])



def _bitwise(in_types, params, weak):
    if all(t.is_bool for t in in_types):
        return _logic(in_types, params, weak)
    if not all(t.is_bool or t.is_int for t in in_types):
        raise TypeError("bitwise operators need booleans or integers")
    return [elementwise(*in_types, weak=weak)]


def _invert_fmt(ins, outs):
    return "(not {0})" if ins[0].is_bool and ins[0].ndim == 0 else "~{0}"


# Bitwise operators on booleans (``(x > 0) & (x < 1)``, ``~mask``): the NumPy spelling of logic.
register(Prim("bitand", "{0} & {1}", _bitwise, lambda a, b: a & b, nondiff=True))
register(Prim("bitor", "{0} | {1}", _bitwise, lambda a, b: a | b, nondiff=True))
register(Prim("bitxor", "{0} ^ {1}", _bitwise, lambda a, b: a ^ b, nondiff=True))
register(Prim("invert", "~{0}", lambda i, p, w: _bitwise(i, p, w), None, nondiff=True,
              meta={"select_fmt": _invert_fmt}))


def _array_form(name):
    def select(ins, outs):
        if any(t is not None and t.ndim > 0 for t in ins):
            return PRIMS[name].fmt
        return None

    return select


def _with_fallback(select, default):
    return lambda ins, outs: select(ins, outs) or default


for _scalar, _array in (("and_", "logical_and"), ("or_", "logical_or"), ("not_", "logical_not")):
    PRIMS[_scalar].meta["select_fmt"] = _with_fallback(_array_form(_array), PRIMS[_scalar].fmt)

# Constants of these primitives take the float32 type of a float32 result (ints included).
for _name in ("add", "sub", "mul", "truediv", "mod", "pow", "power", "maximum", "minimum",
              "arctan2", "hypot", "where", "clip"):
    PRIMS[_name].meta["arith"] = True

# Primitives whose rules return cotangents of exactly each input's shape (no broadcasting): the
# reverse pass casts them (a no-op for the same dtype) instead of calling rt.unbroadcast.
# (The reduction, linear-algebra and shape modules mark their own.)
_EXACT = ("neg", "abs", "copy", "copy_array", "astype", "exp", "log", "log1p", "expm1", "sqrt",
          "sin", "cos", "tan", "tanh", "sinh", "cosh", "arcsin", "arccos", "arctan", "arcsinh",
          "arccosh", "arctanh", "log2", "log10", "exp2", "square", "cbrt")
for _name in _EXACT:
    PRIMS[_name].meta["exact_cotangents"] = True
