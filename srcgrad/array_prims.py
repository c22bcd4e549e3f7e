"""Array construction primitives: np.zeros/ones/empty/full, their *_like forms, .copy(),
np.arange/linspace/eye, np.array([...]) of scalars or arrays, .astype and np.float32(x) casts.

(Reductions, linear algebra and shape primitives live in their own modules beside this one.)
"""

from __future__ import annotations

import ast

import numpy as np

from . import runtime
from .ir import Const, Eqn, Store
from .primitives import BY_CALLABLE, CALL_LOWERINGS, METHODS, Prim, register
from .types import ArrayType, TupleType, promote_dtypes


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


# ---------------------------------------------------------------------------------------------
# np.arange / np.linspace / np.eye / np.array([...]) / .astype / np.float32(x)


def _arange(in_types, params, weak):
    if not 1 <= len(in_types) <= 3 or any(t.ndim for t in in_types):
        raise TypeError("np.arange takes 1 to 3 scalar arguments")
    natural = "int64" if all(t.is_int or t.is_bool for t in in_types) else "float64"
    return [ArrayType(params.get("dtype") or natural, 1)]


def _arange_fmt(ins, outs):
    natural = "int64" if all(t.is_int or t.is_bool for t in ins) else "float64"
    if outs[0].dtype == natural:
        return "np.arange({args})"
    return "np.arange({args}).astype(np.{dtype})"


register(Prim("arange", "np.arange({args})", _arange, None, nondiff=True, params=("dtype",),
              meta={"select_fmt": _arange_fmt}), [np.arange])


def _linspace(in_types, params, weak):
    a, b, n = in_types
    if a.ndim or b.ndim or n.ndim or not n.is_int:
        raise TypeError("np.linspace(start, stop, num) takes scalars and an int num")
    return [ArrayType("float64", 1)]


register(Prim("linspace", "np.linspace({0}, {1}, {2})", _linspace, None))


def _lower_linspace(lw, node, block, dest):
    args = [lw.lower_value(a, block) for a in node.args]
    for kw in node.keywords:
        if kw.arg != "num" or len(args) != 2:
            raise lw.error(node, "np.linspace", f"keyword {kw.arg!r} is not supported "
                           "(np.linspace(start, stop, num))")
        args.append(lw.lower_value(kw.value, block))
    if len(args) == 2:
        args.append(Const(50))
    if len(args) != 3:
        raise lw.error(node, "np.linspace", "np.linspace(start, stop, num) takes 2 or 3 "
                       "arguments")
    return lw.emit(block, "linspace", args, node, dest=dest)


CALL_LOWERINGS[np.linspace] = _lower_linspace


def _eye(in_types, params, weak):
    if not 1 <= len(in_types) <= 2 or any(t.ndim or not t.is_int for t in in_types):
        raise TypeError("np.eye(n) / np.eye(n, m) take ints")
    return [ArrayType(params.get("dtype") or "float64", 2)]


register(Prim("eye", f"np.eye({{args}}, dtype=np.{_DTYPE})", _eye, None, nondiff=True,
              params=("dtype",)), [np.eye, np.identity])


def _astype(in_types, params, weak):
    return [in_types[0].with_dtype(params["dtype"])]


def _astype_fmt(ins, outs):
    return "np.{dtype}({0})" if ins[0].ndim == 0 else "{0}.astype(np.{dtype})"


register(Prim("astype", "{0}.astype(np.{dtype})", _astype, None, params=("dtype",),
              meta={"select_fmt": _astype_fmt}))
METHODS["astype"] = "astype"

_DTYPE_NAMES = {"float32", "float64", "int32", "int64", "bool"}


def _dtype_name(lw, node, block, label):
    name = lw.static_value(node, block, label)
    if name not in _DTYPE_NAMES:
        raise lw.error(node, label, f"dtype must be one of np.float32, np.float64, np.int32, "
                       f"np.int64, bool; got {name!r}")
    return name


def _lower_astype(lw, node, block, dest, base):
    if len(node.args) != 1 or node.keywords:
        raise lw.error(node, ".astype", ".astype(dtype) takes one dtype argument")
    dtype = _dtype_name(lw, node.args[0], block, ".astype")
    return lw.emit(block, "astype", (base,), node, dest=dest, params={"dtype": dtype})


def _lower_cast(dtype):
    def lower(lw, node, block, dest):
        if len(node.args) != 1 or node.keywords:
            raise lw.error(node, f"np.{dtype}", f"np.{dtype}(x) takes one argument")
        x = lw.lower_value(node.args[0], block)
        return lw.emit(block, "astype", (x,), node, dest=dest, params={"dtype": dtype})

    return lower


CALL_LOWERINGS[("method", "astype")] = _lower_astype
CALL_LOWERINGS[np.float32] = _lower_cast("float32")
CALL_LOWERINGS[np.float64] = _lower_cast("float64")


def _array_alloc(in_types, params, weak):
    """``np.empty(shape + element shape)`` for np.array([...]); the elements are stored next."""
    ndims = {t.ndim for t in in_types}
    if len(ndims) != 1:
        raise TypeError("np.array([...]): all elements must have the same number of dimensions")
    dtype = params.get("dtype") or promote_dtypes(*[t.dtype for t in in_types])
    return [ArrayType(dtype, len(params["shape"]) + ndims.pop())]


def _array_alloc_fmt(ins, outs):
    if ins[0].ndim == 0:
        return "np.empty({shape}, dtype=np.{dtype})"
    return "np.empty({shape} + np.shape({0}), dtype=np.{dtype})"


register(Prim("array_alloc", "np.empty({shape}, dtype=np.{dtype})", _array_alloc, None,
              nondiff=True, params=("shape", "dtype"), meta={"select_fmt": _array_alloc_fmt}))


def _nested(lw, node, block, pos, shape, out):
    """Lower a (nested) list/tuple literal into [(position, atom)], checking it is rectangular."""
    if isinstance(node, (ast.List, ast.Tuple)):
        depth = len(pos)
        if len(shape) == depth:
            shape.append(len(node.elts))
        elif len(shape) < depth or shape[depth] != len(node.elts):
            raise lw.error(node, "np.array", "nested sequences must be rectangular")
        if not node.elts:
            raise lw.error(node, "np.array", "empty sequences are not supported")
        for k, elt in enumerate(node.elts):
            _nested(lw, elt, block, pos + (k,), shape, out)
        return
    if len(shape) != len(pos):
        raise lw.error(node, "np.array", "nested sequences must be rectangular")
    out.append((pos, lw.lower_value(node, block)))


def _lower_array(lw, node, block, dest):
    if len(node.args) != 1:
        raise lw.error(node, "np.array", "np.array takes one sequence argument")
    dtype = None
    for kw in node.keywords:
        if kw.arg != "dtype":
            raise lw.error(node, "np.array", f"keyword {kw.arg!r} is not supported")
        dtype = _dtype_name(lw, kw.value, block, "np.array")
    arg = node.args[0]
    if not isinstance(arg, (ast.List, ast.Tuple)):  # np.array(x): a copy
        x = lw.lower_value(arg, block)
        out = lw.emit(block, "copy_array", (x,), node, dest=dest)
        if dtype is not None:
            out = lw.emit(block, "astype", (out,), node, dest=dest, params={"dtype": dtype})
        return out
    shape, elems = [], []
    _nested(lw, arg, block, (), shape, elems)
    out = dest if dest is not None else lw.temp()
    block.stmts.append(Eqn("array_alloc", tuple(a for _, a in elems), (out,),
                           {"shape": tuple(shape), "dtype": dtype}, lw.loc(node)))
    for pos, atom in elems:
        block.stmts.append(Store(out, tuple(Const(k) for k in pos), atom, None, lw.loc(node)))
    return out


CALL_LOWERINGS[np.array] = _lower_array


def _lower_asarray(lw, node, block, dest):
    """``np.asarray(x)``: ``x`` itself when it is an array (another name of it), like NumPy."""
    if len(node.args) != 1 or node.keywords:
        raise lw.error(node, "np.asarray", "np.asarray takes one argument here (no dtype/order)")
    if isinstance(node.args[0], (ast.List, ast.Tuple)):
        return _lower_array(lw, node, block, dest)
    x = lw.lower_value(node.args[0], block)
    return lw.emit(block, "copy", (x,), node, dest=dest)


CALL_LOWERINGS[np.asarray] = _lower_asarray

BY_CALLABLE.setdefault(runtime.cast_like, "cast_like")  # adjoint rules call rt.cast_like
