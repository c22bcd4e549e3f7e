"""Shape primitives: transpose/.T, reshape, ravel/flatten, expand_dims/squeeze,
np.concatenate and np.stack.

``np.concatenate((a, b, c), axis)`` becomes a balanced tree of two-operand ``concat2``
equations (whose adjoint splits the cotangent with views); ``np.stack`` is a concatenation of
``expand_dims``.  Sequences must be written as tuple or list literals.
"""

from __future__ import annotations

import ast

import numpy as np

from . import runtime
from .ir import Const
from .primitives import CALL_LOWERINGS, METHODS, PRIMS, Prim, register
from .types import ArrayType, TupleType, promote_dtypes


def _same(in_types, params, weak):
    return [in_types[0]]


def _needs_array(label, t):
    if not isinstance(t, ArrayType) or t.ndim == 0:
        raise TypeError(f"{label} needs an array")


def _transpose(in_types, params, weak):
    _needs_array("transpose", in_types[0])
    return [in_types[0]]


register(Prim("transpose", "{0}.T", _transpose, None), [np.transpose])
METHODS[".T"] = "transpose"


def _transpose_axes(in_types, params, weak):
    t, axes = in_types
    _needs_array("transpose", t)
    if not isinstance(axes, TupleType) or len(axes.items) != t.ndim:
        raise TypeError(f"transpose axes must be a tuple of {t.ndim} ints")
    return [t]


register(Prim("transpose_axes", "np.transpose({0}, {1})", _transpose_axes, None))
register(Prim("transpose_back", "rt.transpose_back({0}, {1})", _same, None),
         [runtime.transpose_back])


def _shape_ndim(t) -> int:
    if isinstance(t, TupleType) and all(isinstance(i, ArrayType) and i.is_int for i in t.items):
        return len(t.items)
    if isinstance(t, ArrayType) and t.ndim == 0 and t.is_int:
        return 1
    raise TypeError(f"a shape must be an int or a tuple of ints, not {t}")


def _reshape(in_types, params, weak):
    _needs_array("reshape", in_types[0])
    return [in_types[0].with_ndim(_shape_ndim(in_types[1]))]


# numba reshapes contiguous arrays only: ascontiguousarray is free for C arrays, copies others
register(Prim("reshape", "np.ascontiguousarray({0}).reshape({1})", _reshape, None),
          [np.reshape])


def _flat(in_types, params, weak):
    _needs_array("ravel", in_types[0])
    return [in_types[0].with_ndim(1)]


register(Prim("ravel", "np.ravel({0})", _flat, None), [np.ravel])


def _cumsum(in_types, params, weak):  # np.cumsum without an axis: the flattened running sum
    _needs_array("np.cumsum", in_types[0])
    t = in_types[0]
    return [ArrayType("int64", 1) if t.is_bool else t.with_ndim(1)]


register(Prim("cumsum", "np.cumsum({0})", _cumsum, None), [np.cumsum])
METHODS["cumsum"] = "cumsum"


def _same_shape(in_types, params, weak):
    _needs_array("np.flip", in_types[0])
    return [in_types[0]]


register(Prim("flip", "np.flip({0})", _same_shape, None), [np.flip])  # every axis reversed
def _int_scalar(t) -> bool:
    return isinstance(t, ArrayType) and t.ndim == 0 and (t.is_int or t.is_bool)


def _tri(label):
    def infer(in_types, params, weak):
        x, k = in_types
        if not isinstance(x, ArrayType) or x.ndim != 2:
            raise TypeError(f"{label} takes a 2-D array")
        if not _int_scalar(k):
            raise TypeError(f"{label}: k must be an int")
        return [x]

    return infer


register(Prim("tril", "np.tril({0}, {1})", _tri("np.tril"), None))  # (m, k): m below diagonal k
register(Prim("triu", "np.triu({0}, {1})", _tri("np.triu"), None))


def _roll(in_types, params, weak):
    x, shift = in_types
    _needs_array("np.roll", x)
    if not _int_scalar(shift):
        raise TypeError("np.roll: the shift must be an int")
    return [x]


register(Prim("roll", "np.roll({0}, {1})", _roll, None))  # no axis: the flattened array rolled

register(Prim("flatten", "{0}.flatten()", _flat, None))
METHODS["ravel"] = "ravel"
METHODS["flatten"] = "flatten"


def _axis_in(t_ndim, axis, label):
    if not -t_ndim <= axis < t_ndim:
        raise TypeError(f"{label}: axis {axis} is out of bounds for {t_ndim} dimensions")


def _expand_dims(in_types, params, weak):
    t = in_types[0]
    _axis_in(t.ndim + 1, params["axis"], "expand_dims")
    return [t.with_ndim(t.ndim + 1)]


def _squeeze(in_types, params, weak):
    t = in_types[0]
    _needs_array("squeeze", t)
    _axis_in(t.ndim, params["axis"], "squeeze")
    return [t.with_ndim(t.ndim - 1)]


register(Prim("expand_dims", "rt.expand_dims_axis({0}, {1})", _expand_dims, None))
register(Prim("squeeze", "rt.squeeze_axis({0}, {1})", _squeeze, None))
register(Prim("expand_dims_axis", "rt.expand_dims_axis({0}, {1})",
              lambda i, p, w: [i[0].with_ndim(i[0].ndim + 1)], None), [runtime.expand_dims_axis])
register(Prim("squeeze_axis", "rt.squeeze_axis({0}, {1})",
              lambda i, p, w: [i[0].with_ndim(i[0].ndim - 1)], None), [runtime.squeeze_axis])


def _concat2(in_types, params, weak):
    a, b = in_types[:2]
    _needs_array("concatenate", a)
    if a.ndim != b.ndim:
        raise TypeError("np.concatenate needs arrays with the same number of dimensions")
    _axis_in(a.ndim, params["axis"], "concatenate")
    return [ArrayType(promote_dtypes(a.dtype, b.dtype), a.ndim)]


register(Prim("concat2", "np.concatenate(({0}, {1}), axis={2})", _concat2, None))
for _name in ("concat_adj_a", "concat_adj_b"):
    register(Prim(_name, f"rt.{_name}({{0}}, {{1}}, {{2}})",
                  lambda i, p, w: [i[0]], None), [getattr(runtime, _name)])


# ---------------------------------------------------------------------------------------------
# lowerings


def _static_int(lw, node, block, label, what="axis"):
    value = lw.static_value(node, block, label)
    if type(value) is not int:
        raise lw.error(node, label, f"{what} must be a constant int")
    return value


def _lower_reshape(lw, node, block, dest, base=None):
    label = "np.reshape" if base is None else ".reshape"
    args = list(node.args)
    if base is None:
        if len(args) != 2:
            raise lw.error(node, label, "np.reshape(x, shape) takes two arguments")
        base = lw.lower_value(args.pop(0), block)
    for kw in node.keywords:
        if kw.arg != "order" or lw.static_value(kw.value, block, label) != "C":
            raise lw.error(node, label, f"keyword {kw.arg!r} is not supported (C order only)")
    if not args:
        raise lw.error(node, label, "reshape needs a shape")
    if len(args) == 1:
        shape = lw.lower_arg(args[0], block)
    else:  # x.reshape(2, 3)
        shape = lw.emit(block, "tuple", [lw.lower_value(a, block) for a in args], node)
    return lw.emit(block, "reshape", (base, shape), node, dest=dest)


def _lower_transpose(lw, node, block, dest, base=None):
    label = "np.transpose" if base is None else ".transpose"
    args = list(node.args)
    if node.keywords:
        raise lw.error(node, label, "keyword arguments are not supported")
    if base is None:
        if not args:
            raise lw.error(node, label, "np.transpose needs an array")
        base = lw.lower_value(args.pop(0), block)
    if not args:
        return lw.emit(block, "transpose", (base,), node, dest=dest)
    if len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List)):
        args = list(args[0].elts)
    axes = [_static_int(lw, a, block, label, "each axis") for a in args]
    if sorted(a % len(axes) for a in axes) != list(range(len(axes))):
        raise lw.error(node, label, f"axes {tuple(axes)} are not a permutation")
    perm = lw.emit(block, "tuple", [Const(a) for a in axes], node)
    return lw.emit(block, "transpose_axes", (base, perm), node, dest=dest)


def _lower_axis_op(prim, label):
    def lower(lw, node, block, dest):
        if len(node.args) == 2 and not node.keywords:
            x_node, axis_node = node.args
        elif len(node.args) == 1 and len(node.keywords) == 1 and node.keywords[0].arg == "axis":
            x_node, axis_node = node.args[0], node.keywords[0].value
        else:
            raise lw.error(node, label, f"{label}(x, axis) with one constant int axis")
        x = lw.lower_value(x_node, block)
        axis = _static_int(lw, axis_node, block, label)
        return lw.emit(block, prim, (x, Const(axis)), node, dest=dest, params={"axis": axis})

    return lower


def _lower_tri(prim, label):
    """np.tril(m) / np.tril(m, k) / np.tril(m, k=k), k any int expression (default 0)."""
    def lower(lw, node, block, dest):
        kws = {kw.arg: kw.value for kw in node.keywords}
        if not 1 <= len(node.args) <= 2 or set(kws) - {"k"} or (len(node.args) == 2 and kws):
            raise lw.error(node, label, f"{label}(m, k=0): a 2-D array and an int")
        x = lw.lower_value(node.args[0], block)
        k_node = node.args[1] if len(node.args) == 2 else kws.get("k")
        k = lw.lower_value(k_node, block) if k_node is not None else Const(0)
        return lw.emit(block, prim, (x, k), node, dest=dest)

    return lower


def _lower_roll(lw, node, block, dest):
    if len(node.args) != 2 or node.keywords:
        raise lw.error(node, "np.roll", "np.roll(x, shift) with an int shift and no axis (the "
                       "flattened array is rolled); for one axis of a 2-D array use slices and "
                       "np.concatenate")
    x = lw.lower_value(node.args[0], block)
    shift = lw.lower_value(node.args[1], block)
    return lw.emit(block, "roll", (x, shift), node, dest=dest)


def _sequence(lw, node, block, label):
    """Arrays of a literal sequence argument and the constant axis keyword/positional."""
    if not node.args or not isinstance(node.args[0], (ast.Tuple, ast.List)):
        raise lw.error(node, label, f"{label} takes a tuple or list literal of arrays, e.g. "
                       f"{label}((a, b))")
    items = [lw.lower_value(e, block) for e in node.args[0].elts]
    if not items:
        raise lw.error(node, label, f"{label} needs at least one array")
    axis_nodes = list(node.args[1:]) + [kw.value for kw in node.keywords if kw.arg == "axis"]
    if len(axis_nodes) > 1 or any(kw.arg != "axis" for kw in node.keywords):
        raise lw.error(node, label, "only the sequence and axis arguments are supported")
    axis = _static_int(lw, axis_nodes[0], block, label) if axis_nodes else 0
    return items, axis


def _tree(lw, node, block, items, axis, dest):
    if len(items) == 1:
        return lw.emit(block, "copy_array", (items[0],), node, dest=dest)
    mid = len(items) // 2
    left = items[0] if mid == 1 else _tree(lw, node, block, items[:mid], axis, None)
    right = items[mid] if len(items) - mid == 1 else _tree(lw, node, block, items[mid:], axis,
                                                           None)
    return lw.emit(block, "concat2", (left, right, Const(axis)), node, dest=dest,
                   params={"axis": axis})


def _lower_concatenate(lw, node, block, dest):
    items, axis = _sequence(lw, node, block, "np.concatenate")
    return _tree(lw, node, block, items, axis, dest)


def _lower_stack(lw, node, block, dest):
    items, axis = _sequence(lw, node, block, "np.stack")
    expanded = [lw.emit(block, "expand_dims", (x, Const(axis)), node, params={"axis": axis})
                for x in items]
    return _tree(lw, node, block, expanded, axis, dest)


CALL_LOWERINGS[np.reshape] = _lower_reshape
CALL_LOWERINGS[("method", "reshape")] = _lower_reshape
METHODS["reshape"] = "reshape"
CALL_LOWERINGS[np.transpose] = _lower_transpose
CALL_LOWERINGS[("method", "transpose")] = _lower_transpose
METHODS["transpose"] = "transpose"
CALL_LOWERINGS[np.expand_dims] = _lower_axis_op("expand_dims", "np.expand_dims")
CALL_LOWERINGS[np.squeeze] = _lower_axis_op("squeeze", "np.squeeze")
CALL_LOWERINGS[np.tril] = _lower_tri("tril", "np.tril")
CALL_LOWERINGS[np.triu] = _lower_tri("triu", "np.triu")
CALL_LOWERINGS[np.roll] = _lower_roll
CALL_LOWERINGS[np.concatenate] = _lower_concatenate
CALL_LOWERINGS[np.stack] = _lower_stack

for _name in ("transpose", "transpose_axes", "reshape", "ravel", "flatten", "expand_dims",
              "squeeze", "concat2", "cumsum", "flip", "tril", "triu", "roll"):
    PRIMS[_name].meta["exact_cotangents"] = True  # rules give each input's shape
