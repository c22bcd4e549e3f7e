"""The primitive operations of the IR: how each is typed, printed and folded.

One `Prim` per operation, registered in `PRIMS` by name.  `BY_CALLABLE` maps the Python/NumPy
objects a user can call (``np.exp``, ``math.exp``, ``abs``) to primitive names; `NONDIFF` holds
the primitives whose outputs carry no derivative (comparisons, ``floor``, ``int``...).  Adjoint
rules live in `srcgrad.rules`, keyed by the same names.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .types import BOOL, I64, ArrayType, TupleType, elementwise, to_float


@dataclass
class Prim:
    name: str
    fmt: str  # codegen template over the inputs: "{0} + {1}", "np.exp({0})"
    infer: Callable  # (in_types, params, weak) -> list of output types
    impl: Callable | None = None  # Python implementation, for constant folding
    nondiff: bool = False
    params: tuple = ()  # names of params that the template may use: "{axis}"
    meta: dict = field(default_factory=dict)


PRIMS: dict[str, Prim] = {}
BY_CALLABLE: dict = {}
NONDIFF: set = set()
# Array methods (``x.sum()``: "sum") and attributes (``x.T``: ".T") -> primitive name.
METHODS: dict[str, str] = {}
# Calls that need their own lowering (np.zeros((n, m)), np.array([...]), ...): callable or
# ("method", name) -> function(lowerer, node, block, dest[, base]) returning the result atom.
CALL_LOWERINGS: dict = {}


def register(prim: Prim, callables=()) -> Prim:
    if prim.name in PRIMS:
        raise ValueError(f"primitive {prim.name!r} registered twice")
    PRIMS[prim.name] = prim
    for c in callables:
        BY_CALLABLE[c] = prim.name
    if prim.nondiff:
        NONDIFF.add(prim.name)
    return prim


def lookup_callable(obj):
    """The primitive name for a callable object, or None."""
    try:
        return BY_CALLABLE.get(obj)
    except TypeError:  # unhashable
        return None


# ---------------------------------------------------------------------------------------------
# type rules


def _elementwise(in_types, params, weak):
    return [elementwise(*in_types, weak=weak)]


def _float_elementwise(in_types, params, weak):
    return [to_float(elementwise(*in_types, weak=weak))]


def _truediv(in_types, params, weak):
    return [to_float(elementwise(*in_types, weak=weak))]


def _compare(in_types, params, weak):
    return [BOOL.with_ndim(max(t.ndim for t in in_types))]


def _same(in_types, params, weak):
    return [in_types[0]]


def _to_int(in_types, params, weak):
    return [I64.with_ndim(in_types[0].ndim)]


def _to_float(in_types, params, weak):
    return [to_float(in_types[0])]


def _int_scalar(in_types, params, weak):
    return [I64]


def _len(in_types, params, weak):
    t = in_types[0]
    if isinstance(t, ArrayType) and t.ndim == 0:
        raise TypeError(f"a {t} scalar has no length (loops run over range(...) or over an array)")
    return [I64]


def _pow(in_types, params, weak):
    base, exp = in_types
    if base.is_int and exp.is_int:
        return [elementwise(base, exp, weak=weak)]
    return [to_float(elementwise(base, exp, weak=weak))]


def _shape(in_types, params, weak):
    return [TupleType((I64,) * in_types[0].ndim)]


def _unpack(in_types, params, weak):
    return list(in_types[0].items)


# ---------------------------------------------------------------------------------------------
# scalar and elementwise primitives

_BINARY = [
    ("add", "{0} + {1}", operator.add, _elementwise, False),
    ("sub", "{0} - {1}", operator.sub, _elementwise, False),
    ("mul", "{0} * {1}", operator.mul, _elementwise, False),
    ("truediv", "{0} / {1}", operator.truediv, _truediv, False),
    ("floordiv", "{0} // {1}", operator.floordiv, _elementwise, True),
    ("mod", "{0} % {1}", operator.mod, _elementwise, False),
    ("pow", "{0} ** {1}", operator.pow, _pow, False),
]
for _name, _fmt, _impl, _infer, _nd in _BINARY:
    register(Prim(_name, _fmt, _infer, _impl, nondiff=_nd))


def _int_pow_fmt(ins, outs):
    """Two int scalars: Python gives a float for a negative exponent, numba an int (0 for
    2 ** -2); `rt.int_pow` raises in that case rather than compute a wrong value."""
    if all(isinstance(t, ArrayType) and t.ndim == 0 and t.is_int for t in ins):
        return "rt.int_pow({0}, {1})"
    return "{0} ** {1}"


PRIMS["pow"].meta["select_fmt"] = _int_pow_fmt

register(Prim("neg", "-{0}", _same, operator.neg))
register(Prim("pos", "+{0}", _same, operator.pos))
register(Prim("abs", "np.abs({0})", _same, abs), [builtins.abs, np.abs, np.absolute, math.fabs])
register(Prim("copy", "{0}", _same, lambda x: x))
register(Prim("stop_gradient", "{0}", _same, lambda x: x, nondiff=True))
register(Prim("to_float", "float({0})", _to_float, float), [builtins.float])
register(Prim("to_int", "int({0})", _to_int, int, nondiff=True), [builtins.int])
register(Prim("power", "np.power({0}, {1})", _pow, np.power), [np.power, math.pow])
register(Prim("maximum", "np.maximum({0}, {1})", _elementwise, np.maximum), [np.maximum, np.fmax])
register(Prim("minimum", "np.minimum({0}, {1})", _elementwise, np.minimum), [np.minimum, np.fmin])
register(Prim("arctan2", "np.arctan2({0}, {1})", _float_elementwise, np.arctan2),
         [np.arctan2, math.atan2])
register(Prim("hypot", "np.hypot({0}, {1})", _float_elementwise, np.hypot), [np.hypot, math.hypot])

_UNARY = {
    "exp": (np.exp, math.exp), "log": (np.log, math.log), "log1p": (np.log1p, math.log1p),
    "expm1": (np.expm1, math.expm1), "sqrt": (np.sqrt, math.sqrt), "sin": (np.sin, math.sin),
    "cos": (np.cos, math.cos), "tan": (np.tan, math.tan), "tanh": (np.tanh, math.tanh),
    "sinh": (np.sinh, math.sinh), "cosh": (np.cosh, math.cosh),
    "arcsin": (np.arcsin, math.asin), "arccos": (np.arccos, math.acos),
    "arctan": (np.arctan, math.atan), "arcsinh": (np.arcsinh, math.asinh),
    "arccosh": (np.arccosh, math.acosh), "arctanh": (np.arctanh, math.atanh),
    "log2": (np.log2, math.log2), "log10": (np.log10, math.log10), "exp2": (np.exp2,),
    "square": (np.square,), "cbrt": (np.cbrt,),
}
for _name, _callables in _UNARY.items():
    register(Prim(_name, f"np.{_name}({{0}})", _float_elementwise if _name != "square" else
                  _elementwise, _callables[0]), _callables)


def _lower_math_log(lowerer, node, block, dest):
    """``math.log(x)``, and ``math.log(x, base)`` as ``log(x) / log(base)``."""
    if node.keywords or len(node.args) not in (1, 2):
        raise lowerer.error(node, "math.log", "math.log takes one or two positional arguments")
    args = [lowerer.lower_value(a, block) for a in node.args]
    if len(args) == 1:
        return lowerer.emit(block, "log", args, node, dest=dest)
    num = lowerer.emit(block, "log", args[:1], node)
    den = lowerer.emit(block, "log", args[1:], node)
    return lowerer.emit(block, "truediv", (num, den), node, dest=dest)


CALL_LOWERINGS[math.log] = _lower_math_log



def _scalar_float(in_types, params, weak):
    if in_types[0].ndim:
        raise TypeError("math.lgamma takes a scalar")
    return [to_float(in_types[0])]


# scalar only; no adjoint rule (digamma is not available in numba): constant arguments only
register(Prim("lgamma", "math.lgamma({0})", _scalar_float, math.lgamma), [math.lgamma])

# Piecewise-constant functions: zero derivative almost everywhere.
for _name, _callable, _infer in [("floor", np.floor, _same), ("ceil", np.ceil, _same),
                                 ("trunc", np.trunc, _same), ("rint", np.rint, _same),
                                 ("sign", np.sign, _same)]:
    register(Prim(_name, f"np.{_name}({{0}})", _infer, _callable, nondiff=True),
             [_callable] + ([np.round] if _name == "rint" else []))
register(Prim("ifloor", "math.floor({0})", _to_int, math.floor, nondiff=True), [math.floor])
register(Prim("iceil", "math.ceil({0})", _to_int, math.ceil, nondiff=True), [math.ceil])
register(Prim("itrunc", "math.trunc({0})", _to_int, math.trunc, nondiff=True), [math.trunc])
register(Prim("iround", "round({0})", _to_int, round, nondiff=True), [builtins.round])

# Comparisons and logic (conditions): booleans, never differentiated.
for _name, _fmt, _impl in [("lt", "{0} < {1}", operator.lt), ("le", "{0} <= {1}", operator.le),
                           ("gt", "{0} > {1}", operator.gt), ("ge", "{0} >= {1}", operator.ge),
                           ("eq", "{0} == {1}", operator.eq), ("ne", "{0} != {1}", operator.ne),
                           ("and_", "{0} and {1}", lambda a, b: a and b),
                           ("or_", "{0} or {1}", lambda a, b: a or b)]:
    register(Prim(_name, _fmt, _compare, _impl, nondiff=True))
register(Prim("not_", "not {0}", _compare, operator.not_, nondiff=True))
register(Prim("isnan", "np.isnan({0})", _compare, np.isnan, nondiff=True), [np.isnan, math.isnan])
register(Prim("isinf", "np.isinf({0})", _compare, np.isinf, nondiff=True), [np.isinf, math.isinf])

# Shapes and indexing.
register(Prim("shape", "{0}.shape", _shape, np.shape, nondiff=True), [np.shape])
register(Prim("unpack", "{0}", _unpack, None, nondiff=True))
register(Prim("len", "len({0})", _len, len, nondiff=True), [builtins.len])


def _getitem(in_types, params, weak):
    base = in_types[0]
    index = params["index"]
    if isinstance(base, TupleType):  # x.shape[k]
        from .ir import Const

        if len(index) != 1 or not isinstance(index[0], Const):
            raise TypeError("tuples can only be indexed by a constant")
        return [base.items[index[0].value]]
    ndim = base.ndim
    from .ir import NEWAXIS, Slice

    pos = 1
    for item in index:
        if item is NEWAXIS:
            ndim += 1
        elif isinstance(item, Slice):
            pos += len(item.atoms())
        else:
            t = in_types[pos]
            pos += 1
            # an integer scalar removes an axis; an index array replaces it by its own axes
            ndim += -1 + (t.ndim if not t.is_bool else 1)
            if t.is_bool:
                if t.ndim > 1 and not (len(index) == 1 and t.ndim == base.ndim):
                    # numba's compiler crashes on these; x[m] with m.shape == x.shape is
                    # rewritten to 1-D masks (masks.py)
                    raise TypeError("a boolean mask with more than one dimension must be the only "
                                    "index and have the array's number of dimensions (or use "
                                    "np.where(mask, x, 0.0))")
                ndim -= t.ndim - 1
    if ndim < 0:
        raise TypeError(f"too many indices for {base}")
    return [ArrayType(base.dtype, ndim)]


register(Prim("getitem", "{0}[{index}]", _getitem, None, params=("index",)))


# ---------------------------------------------------------------------------------------------
# internal primitives emitted by the reverse pass (never written by users)


def _none(in_types, params, weak):
    return [None]


def _first(in_types, params, weak):
    return [in_types[0]]


def _tape(in_types, params, weak):
    from .types import TapeType

    return [TapeType()]


def _like_second(in_types, params, weak):
    return [in_types[1]]


def _float_like(in_types, params, weak):
    t = in_types[0]
    return [t if t.is_float and t.ndim else (ArrayType("float64") if t.ndim == 0 else
                                             t.with_dtype("float64"))]


def _bar_of(in_types, params, weak):
    t = in_types[1]  # (contribution, input): unbroadcast gives the input's shape and dtype
    return [t if t.is_float else t.with_dtype("float64")]


for _prim in [
    Prim("iadd", "{0} += {1}", lambda i, p, w: [], nondiff=True),
    Prim("zeros_like_any", "rt.zeros_like_any({0})", _float_like, nondiff=True),
    Prim("unbroadcast", "rt.unbroadcast({0}, {1})", _bar_of, nondiff=True),
    Prim("cast_like", "rt.cast_like({0}, {1})", _like_second, nondiff=True),
    Prim("range_last", "rt.range_last({0}, {1}, {2})", _int_scalar, nondiff=True),
    Prim("sign_int", "rt.sign_int({0})", _int_scalar, nondiff=True),
    Prim("tape_new", "[]", _tape, nondiff=True),
    Prim("tape_push", "{0}.append({1})", lambda i, p, w: [], nondiff=True),
    Prim("tape_pop", "{0}.pop()", _none, nondiff=True),
    Prim("zero_of", "", _none, nondiff=True),
    Prim("getitem_copy", "{0}[{index}].copy()", _getitem, nondiff=True, params=("index",)),
    Prim("restore", "", _none, nondiff=True),
    Prim("restore_item", "", lambda i, p, w: [], nondiff=True),
    # (idx, base): repeated entries of an index array a store writes through (reverse.py)
    Prim("unique_index", "rt.unique_index({0}, {1}, {axis}, {where})", lambda i, p, w: [],
         nondiff=True, params=("axis", "where")),
]:
    register(_prim)


# the array primitives register themselves on import
from . import (  # noqa: E402,F401
    array_prims,
    elementwise_prims,
    linalg_prims,
    reduction_prims,
    shape_prims,
)
from .static_fmt import install as _install_static_fmt  # noqa: E402

_install_static_fmt()  # type-specialised templates in front of the generic runtime calls
