"""Reductions: np.sum/mean/max/min/prod and np.linalg.norm, as functions and as methods.

A whole-array reduction (no ``axis``, no ``keepdims``) is the primitive ``sum`` and compiles to
``np.sum(x)``; with ``axis=int`` (negative too) or ``keepdims`` it is ``sum_axis`` and calls the
runtime helper ``rt.sum_axis(x, axis, keepdims)`` (numba's own reductions take no ``axis`` or
``keepdims``).  ``axis`` and ``keepdims`` are compile-time constants: they are both parameters
of the equation (for type inference) and constant inputs (so the adjoint rules receive them).
"""

from __future__ import annotations

import numpy as np

from . import runtime
from .ir import Const
from .primitives import BY_CALLABLE, CALL_LOWERINGS, METHODS, PRIMS, Prim, register
from .runtime import adjoints as rt_adj
from .runtime import reductions as rt_red
from .types import I64, ArrayType, to_float

_KINDS = ("sum", "mean", "max", "min", "prod")


def _reduced_dtype(kind, t):
    if kind == "mean":
        return to_float(t).dtype
    if kind in ("sum", "prod") and (t.is_bool or t.is_int):
        return "int64"
    return t.dtype


def _check_array(kind, t):
    if not isinstance(t, ArrayType) or t.ndim == 0:
        raise TypeError(f"np.{kind} of a scalar: srcgrad reduces arrays only")


def _whole(kind):
    def infer(in_types, params, weak):
        t = in_types[0]
        if not isinstance(t, ArrayType):
            raise TypeError(f"np.{kind} needs an array or a number")
        return [ArrayType(_reduced_dtype(kind, t))]

    return infer


def _whole_fmt(kind):
    def select(ins, outs):
        if ins[0].ndim:
            return f"np.{kind}({{0}})"
        # a number reduces to itself (numba has no np.sum of a scalar)
        return "{0}" if ins[0].dtype == outs[0].dtype else f"np.{outs[0].dtype}({{0}})"

    return select


def _normalize_axis(axis, ndim):
    if axis is None:
        return None
    if not -ndim <= axis < ndim:
        raise TypeError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


def reduced_ndim(t, params) -> int:
    axis = _normalize_axis(params.get("axis"), t.ndim)
    if params.get("keepdims"):
        return t.ndim
    return 0 if axis is None else t.ndim - 1


def _by_axis(kind):
    def infer(in_types, params, weak):
        t = in_types[0]
        _check_array(kind, t)
        return [ArrayType(_reduced_dtype(kind, t), reduced_ndim(t, params))]

    return infer


for _kind in _KINDS:
    register(Prim(_kind, f"np.{_kind}({{0}})", _whole(_kind), None,
                  meta={"select_fmt": _whole_fmt(_kind)}))
    register(Prim(f"{_kind}_axis", f"rt.{_kind}_axis({{0}}, {{1}}, {{2}})", _by_axis(_kind), None))


# np.linalg.norm: the 2-norm of a vector, the Frobenius norm of a matrix (and of any array)
def _norm(in_types, params, weak):
    return [to_float(in_types[0]).with_ndim(0)]


def _norm_fmt(ins, outs):
    t = ins[0]
    if t.ndim == 0:
        return "np.abs({0})" if t.is_float else "np.abs(np.float64({0}))"
    if t.is_float and t.ndim <= 2:
        # numba's norm of float32 returns float64; NumPy keeps float32
        return "np.float32(np.linalg.norm({0}))" if t.dtype == "float32" else "np.linalg.norm({0})"
    return "np.sqrt(np.sum({0} * {0}))"


def _norm_axis(in_types, params, weak):
    t = in_types[0]
    _check_array("linalg.norm", t)
    return [to_float(t).with_ndim(reduced_ndim(t, params))]


register(Prim("norm", "np.linalg.norm({0})", _norm, None, meta={"select_fmt": _norm_fmt}))
register(Prim("norm_axis", "np.sqrt(rt.sum_axis({0} * {0}, {1}, {2}))", _norm_axis, None))


# ---------------------------------------------------------------------------------------------
# helpers the adjoint rules call (rt.expand_reduced(...)): internal primitives


def _float_like_x(pos):
    def infer(in_types, params, weak):
        return [to_float(in_types[pos])]

    return infer


def _like_first(in_types, params, weak):
    return [in_types[0]]


_NARGS = {"expand_reduced": 4, "argmax_mask": 4, "prod_others": 2, "mean_scale": 3,
          "fill_like": 2, "mean_fill": 2}
for _name, _infer in [("expand_reduced", _float_like_x(1)), ("argmax_mask", _float_like_x(0)),
                      ("prod_others", _float_like_x(0)), ("mean_scale", _like_first),
                      ("fill_like", _float_like_x(0)), ("mean_fill", _float_like_x(0))]:
    _fn = getattr(runtime, _name)
    _n = _NARGS[_name]
    _args = ", ".join(f"{{{i}}}" for i in range(_n))
    register(Prim(_name, f"rt.{_name}({_args})", _infer, None), [_fn])
assert runtime.expand_reduced is rt_red.expand_reduced and runtime.prod_others is rt_adj.prod_others


# ---------------------------------------------------------------------------------------------
# lowering of calls: np.sum(x, axis=1, keepdims=True), x.mean(0), np.linalg.norm(x)


def _options(lw, node, block, args, label, names):
    """Constant positional/keyword options after the array (axis, keepdims)."""
    opts = {"axis": None, "keepdims": False}
    if len(args) > len(names):
        raise lw.error(node, label, f"{label}() takes at most {len(names)} argument(s) after "
                       "the array here")
    for name, a in zip(names, args):
        opts[name] = lw.static_value(a, block, label)
    for kw in node.keywords:
        if kw.arg not in opts:
            raise lw.error(node, label, f"keyword argument {kw.arg!r} is not supported")
        opts[kw.arg] = lw.static_value(kw.value, block, label)
    axis = opts["axis"]
    if isinstance(axis, tuple) and axis and all(type(a) is int for a in axis) and \
            len(set(axis)) == len(axis) and (all(a >= 0 for a in axis) or all(a < 0 for a in axis)):
        axis = axis if len(axis) > 1 else axis[0]  # reduced one axis after another (_emit)
    elif axis is not None and (type(axis) is not int):
        raise lw.error(node, label, "axis must be a constant int, None, or a tuple of distinct "
                       "ints of one sign")
    if not isinstance(opts["keepdims"], (bool, int)):
        raise lw.error(node, label, "keepdims must be a constant bool")
    return axis, bool(opts["keepdims"])


def _array_arg(lw, node, block, base, label):
    if base is not None:
        return base, list(node.args)
    if not node.args:
        raise lw.error(node, label, f"{label}() needs an array argument")
    return lw.lower_value(node.args[0], block), list(node.args[1:])


def _emit(lw, node, block, dest, name, x, axis, keepdims):
    if isinstance(axis, tuple):
        # one axis at a time (sum, mean, max, min, prod and the 2-norm all nest); without
        # keepdims the later axes must keep their numbers: highest first (most negative first)
        order = sorted(axis, reverse=axis[0] >= 0)
        for k, a in enumerate(order):
            x = _emit(lw, node, block, dest if k == len(order) - 1 else None, name, x, a, keepdims)
        return x
    if axis is None and not keepdims:
        return lw.emit(block, name, (x,), node, dest=dest)
    return lw.emit(block, f"{name}_axis", (x, Const(axis), Const(keepdims)), node, dest=dest,
                   params={"axis": axis, "keepdims": keepdims})


def _lower_reduction(kind):
    def lower(lw, node, block, dest, base=None):
        label = f"np.{kind}" if base is None else f".{kind}"
        x, args = _array_arg(lw, node, block, base, label)
        axis, keepdims = _options(lw, node, block, args, label, ("axis",))
        return _emit(lw, node, block, dest, kind, x, axis, keepdims)

    return lower


def _lower_norm(lw, node, block, dest):
    label = "np.linalg.norm"
    x, args = _array_arg(lw, node, block, None, label)
    if args:  # ord
        raise lw.error(node, label, "only the default 2-norm / Frobenius norm is supported "
                       "(no ord argument)")
    axis, keepdims = _options(lw, node, block, [], label, ())
    return _emit(lw, node, block, dest, "norm", x, axis, keepdims)


for _kind in _KINDS:
    _lower = _lower_reduction(_kind)
    CALL_LOWERINGS[getattr(np, _kind)] = _lower
    CALL_LOWERINGS[("method", _kind)] = _lower
    METHODS[_kind] = _kind


def _lower_spread(kind):
    """np.var / np.std (and the methods), ddof 0: mean((x - mean(x))**2) from the mean primitive,
    so they differentiate (and vectorise) through the mean's rules."""
    def lower(lw, node, block, dest, base=None):
        label = f"np.{kind}" if base is None else f".{kind}"
        x, args = _array_arg(lw, node, block, base, label)
        axis, keepdims = _options(lw, node, block, args, label, ("axis",))
        centre = _emit(lw, node, block, None, "mean", x, axis, axis is not None)
        dev = lw.emit(block, "sub", (x, centre), node)
        var = _emit(lw, node, block, None if kind == "std" else dest, "mean",
                    lw.emit(block, "mul", (dev, dev), node), axis, keepdims)
        return lw.emit(block, "sqrt", (var,), node, dest=dest) if kind == "std" else var

    return lower


for _kind in ("var", "std"):
    CALL_LOWERINGS[getattr(np, _kind)] = _lower_spread(_kind)
    CALL_LOWERINGS[("method", _kind)] = _lower_spread(_kind)
    METHODS[_kind] = _kind  # (the method's lowering above decides; no primitive of that name)
CALL_LOWERINGS[np.amax] = _lower_reduction("max")
CALL_LOWERINGS[np.amin] = _lower_reduction("min")
CALL_LOWERINGS[np.linalg.norm] = _lower_norm

# x.size / x.ndim / np.size / np.ndim: integers known from the array (never differentiated)
register(Prim("size", "np.size({0})", lambda i, p, w: [I64], np.size, nondiff=True), [np.size])
register(Prim("ndim", "np.ndim({0})", lambda i, p, w: [I64], np.ndim, nondiff=True,
              meta={"select_fmt": lambda ins, outs: str(ins[0].ndim)}), [np.ndim])
METHODS[".size"] = "size"
METHODS[".ndim"] = "ndim"
BY_CALLABLE.setdefault(np.shape, "shape")

for _name in ("sum", "mean", "max", "min", "prod", "norm", "sum_axis", "mean_axis", "max_axis",
              "min_axis", "prod_axis", "norm_axis"):
    PRIMS[_name].meta["exact_cotangents"] = True  # rules give each input's shape
