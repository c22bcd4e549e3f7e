"""Forward mode: a typed `Func` -> one `Func` computing the outputs and their tangents (jvp).

Every statement that produces an active value is followed by the statements computing its
tangent (``y_dot``), written in the same IR, so loops, branches, ``break``/``continue`` and
in-place stores need no tape: a tangent array shadows each active local array
(``a[i] = v`` is followed by ``a_dot[i] = v_dot``) and mirrors its aliasing (``b = a`` gives
``b_dot = a_dot``; ``b = a.copy()`` gives a copy).  Tangents of statements come from
`srcgrad.rules.tangents` (inlined, with inactive tangents simplified away); primitives linear in
their array operand (indexing, reductions, reshapes) are applied to the tangent itself.

The transformation also accepts the output of the reverse pass (tape pushes and pops, ``iadd``,
``unbroadcast``, ``cast_like``...): a tape of active values gets a tangent tape pushed and
popped in step with it.  That is how srcgrad builds second derivatives: forward over reverse
(`srcgrad.higher`).
"""

from __future__ import annotations

import copy as _copy

from .errors import DifferentiationError
from .frontend import NameGen
from .ir import Block, Break, Const, Continue, Eqn, For, Func, If, Store, Var, While, walk
from .primitives import NONDIFF, PRIMS, Prim, register
from .rules import load_builtin_rules
from .rules.tangents import TANGENTS
from .tangent_inline import inline_tangent
from .types import ArrayType

# Internal primitives of the reverse pass that carry tangents (the rest are non-differentiable).
CARRY = {"unbroadcast", "cast_like", "getitem_copy", "iadd", "tape_push", "tape_pop",
         "tangent_like"}
# Multilinear primitives: prim -> the input positions it is linear in (jointly multilinear: the
# tangent is the sum over those positions of the primitive with one input replaced by its
# tangent); the other inputs are indices, shapes, axes, dtypes.
_LINEAR_FIRST = ["getitem", "getitem_copy", "unbroadcast", "cast_like", "sum", "mean", "reshape",
                 "transpose", "transpose_axes", "transpose_back", "ravel", "flatten", "squeeze",
                 "expand_dims", "sum_axis", "mean_axis", "squeeze_axis", "expand_dims_axis",
                 "broadcast_to", "diag", "trace", "cumsum", "swapaxes", "moveaxis", "tile",
                 "repeat", "expand_reduced", "diagonal", "triu", "tril", "roll", "flip",
                 "astype", "tangent_like", "mean_scale", "diag_adj", "trace_adj",
                 "concat_adj_a", "concat_adj_b"]
MULTILINEAR = {p: (0,) for p in _LINEAR_FIRST}
MULTILINEAR.update({p: (0, 1) for p in ("matmul", "dot", "outer", "inner", "vdot", "cross",
                                        "kron", "tensordot", "matmul_adj_b")})
MULTILINEAR["matmul_adj_a"] = (0, 2)
MULTILINEAR.update({"fill_like": (1,), "mean_fill": (1,)})  # (x, g): x gives only the shape
# Jointly linear in these positions: inactive ones are filled with zero arrays.
LINEAR_FILL = {"concat2": (0, 1)}
# Piecewise constant in their differentiable inputs.
ZERO_TANGENT = {"argmax_mask"}
# Reductions along an axis with a weight: y_dot = sum_axis(x_dot * weight(x, ans, axis, keepdims)).
WEIGHTED_AXIS = {"max_axis": "argmax_mask", "min_axis": "argmax_mask", "prod_axis": "prod_others",
                 "norm_axis": None}
STRUCTURAL = set(MULTILINEAR) | set(LINEAR_FILL) | ZERO_TANGENT | set(WEIGHTED_AXIS) | {"copy"}


def _tangent_like_type(in_types, params, weak):
    t = in_types[1]
    return [t if t.is_float else t.with_dtype("float64")]


if "tangent_like" not in PRIMS:
    register(Prim("tangent_like", "rt.tangent_like({0}, {1})", _tangent_like_type, nondiff=True))


def _is_float(types, name) -> bool:
    t = types.get(name)
    return isinstance(t, ArrayType) and t.is_float


def carries(prim: str) -> bool:
    return prim not in NONDIFF or prim in CARRY


def activity(func: Func, wrt: list) -> set:
    """Names whose values depend on ``wrt`` (flow-insensitive, loops included); tapes too."""
    types = func.types
    varied = {n for n in wrt if _is_float(types, n)}
    changed = True
    while changed:
        changed = False
        new = set()
        for stmt in walk(func.body):
            if isinstance(stmt, Eqn):
                hit = any(isinstance(a, Var) and a.name in varied for a in stmt.ins)
                if stmt.prim == "tape_push":
                    if isinstance(stmt.ins[1], Var) and stmt.ins[1].name in varied:
                        new.add(stmt.ins[0].name)
                elif stmt.prim == "iadd":
                    if isinstance(stmt.ins[1], Var) and stmt.ins[1].name in varied:
                        new.add(stmt.ins[0].name)
                elif stmt.prim == "tape_pop":
                    if stmt.ins[0].name in varied:
                        new.update(o.name for o in stmt.outs if _is_float(types, o.name))
                elif hit and carries(stmt.prim):
                    new.update(o.name for o in stmt.outs if _is_float(types, o.name))
            elif isinstance(stmt, Store):
                v = stmt.value
                if isinstance(v, Var) and v.name in varied and _is_float(types, stmt.target.name):
                    new.add(stmt.target.name)
        if not new <= varied:
            varied |= new
            changed = True
    return varied


def _mutated(func: Func) -> set:
    names = set()
    for stmt in walk(func.body):
        if isinstance(stmt, Store):
            names.add(stmt.target.name)
        elif isinstance(stmt, Eqn) and stmt.prim == "iadd":
            names.add(stmt.ins[0].name)
    return names


def _names_in(func: Func) -> set:
    names = {p.name for p in func.params} | set(func.types)
    for stmt in walk(func.body):
        for a in list(getattr(stmt, "ins", ())) + list(getattr(stmt, "outs", ())):
            if isinstance(a, Var):
                names.add(a.name)
        if isinstance(stmt, Store):
            names.add(stmt.target.name)
        if isinstance(stmt, For):
            names.add(stmt.var.name)
    return names


class Forward:
    def __init__(self, func: Func, wrt: list, names: NameGen):
        self.func = func
        self.types = func.types
        self.names = names
        self.varied = activity(func, wrt)
        self.mutated = _mutated(func)
        self.dots: dict = {}

    def dot(self, name: str) -> Var:
        if name not in self.dots:
            self.dots[name] = Var(self.names.fresh(f"{name}_dot"))
        return self.dots[name]

    def is_varied(self, atom) -> bool:
        return isinstance(atom, Var) and atom.name in self.varied

    def is_array(self, name) -> bool:
        t = self.types.get(name)
        return isinstance(t, ArrayType) and t.ndim > 0

    def tangent_of(self, atom):
        """The tangent atom of an input, or None when it is identically zero."""
        return self.dot(atom.name) if self.is_varied(atom) else None

    def zero(self, name: str, out: list, loc):
        if self.is_array(name):
            out.append(Eqn("zeros_like_any", (Var(name),), (self.dot(name),), {}, loc))
        else:
            out.append(Eqn("copy", (Const(0.0),), (self.dot(name),), {}, loc))

    def set_dot(self, y: Var, t, out: list, loc):
        if t is None:
            self.zero(y.name, out, loc)
        else:
            out.append(Eqn("copy", (t,), (self.dot(y.name),), {}, loc))

    # -- statements ------------------------------------------------------------------------
    def block(self, block: Block) -> Block:
        out: list = []
        for stmt in block.stmts:
            self.stmt(stmt, out)
        return Block(out)

    def stmt(self, stmt, out: list):
        if isinstance(stmt, Eqn):
            out.append(stmt)
            self.eqn(stmt, out)
        elif isinstance(stmt, Store):
            out.append(stmt)
            self.store(stmt, out)
        elif isinstance(stmt, If):
            out.append(If(stmt.cond, self.block(stmt.then), self.block(stmt.orelse), stmt.loc))
        elif isinstance(stmt, For):
            out.append(For(stmt.var, stmt.start, stmt.stop, stmt.step, self.block(stmt.body),
                           stmt.loc))
        elif isinstance(stmt, While):
            out.append(While(self.block(stmt.cond_block), stmt.cond, self.block(stmt.body),
                             stmt.loc, stmt.counter))
        elif isinstance(stmt, (Break, Continue)):
            out.append(stmt)
        else:
            raise TypeError(stmt)

    def _holds_float(self, atom) -> bool:
        """Whether a tape value is a float (scalar or array): only those have tangents."""
        if isinstance(atom, Const):
            return isinstance(atom.value, float)
        return _is_float(self.types, atom.name)

    def store(self, st: Store, out: list):
        if st.target.name not in self.varied:
            return
        target = self.dot(st.target.name)
        if self.is_varied(st.value):
            out.append(Store(target, st.index, self.dot(st.value.name), st.op, st.loc))
        elif st.op is None:
            out.append(Store(target, st.index, Const(0.0), None, st.loc))

    def eqn(self, eqn: Eqn, out: list):
        loc, prim = eqn.loc, eqn.prim
        if prim == "tape_new":
            if eqn.outs[0].name in self.varied:
                out.append(Eqn("tape_new", (), (self.dot(eqn.outs[0].name),), {}, loc))
            return
        if prim == "tape_push":
            tape, v = eqn.ins
            if tape.name in self.varied and self._holds_float(v):
                t = self.tangent_of(v)
                if t is None:
                    t = Const(0.0)
                    if self.is_array(v.name):
                        t = Var(self.names.fresh("t"))
                        out.append(Eqn("zeros_like_any", (v,), (t,), {}, loc))
                out.append(Eqn("tape_push", (self.dot(tape.name), t), (), {}, loc))
            return
        if prim == "iadd":
            if self.is_varied(eqn.ins[1]):
                out.append(Eqn("iadd", (self.dot(eqn.ins[0].name), self.dot(eqn.ins[1].name)),
                               (), {}, loc))
            return
        live = [o for o in eqn.outs if o.name in self.varied]
        if prim == "tape_pop":
            if eqn.ins[0].name in self.varied and self._holds_float(eqn.outs[0]):
                # every push of a float value onto a varied tape pushed a tangent, so every pop of a
                # float value pops one, also of a value without a tangent: the two stacks stay
                # aligned (found by fuzzing: hessians through while loops were wrong). A merged
                # tape's integer counters and break flags get none, which keeps the tangent list
                # of one type (a 0.0 beside arrays did not compile, found by fuzzing)
                target = self.dot(eqn.outs[0].name) if live else Var(self.names.fresh("t_unused"))
                out.append(Eqn("tape_pop", (self.dot(eqn.ins[0].name),), (target,), {}, loc))
            elif live:
                self.zero(eqn.outs[0].name, out, loc)
            return
        if not live:
            return
        active = [a for a in eqn.ins if self.is_varied(a)]
        if prim == "zeros_like_any":  # a fresh zero array: its tangent needs only the shape
            out.append(Eqn(prim, eqn.ins, (self.dot(eqn.outs[0].name),), {}, loc))
            return
        if not carries(prim) or not active:
            for o in live:
                self.zero(o.name, out, loc)
            return
        if len(eqn.outs) != 1:
            raise DifferentiationError(f"no tangent rule for multi-output {prim}", loc,
                                       construct=prim)
        y = eqn.outs[0]
        if prim == "copy":
            self.set_dot(y, self.tangent_of(eqn.ins[0]), out, loc)
        elif prim in MULTILINEAR:
            self.multilinear(eqn, MULTILINEAR[prim], out)
        elif prim in LINEAR_FILL:
            self.linear_fill(eqn, LINEAR_FILL[prim], out)
        elif prim in ZERO_TANGENT:
            self.zero(y.name, out, loc)
        elif prim in WEIGHTED_AXIS:
            self.weighted_axis(eqn, out)
        else:
            rule = TANGENTS.get(prim)
            if rule is None:
                label = PRIMS[prim].meta.get("label", prim) if prim in PRIMS else prim
                raise DifferentiationError(f"no tangent (forward-mode) rule for {label!r}",
                                           loc, construct=prim)
            self.apply_rule(rule, eqn, out)

    def multilinear(self, eqn: Eqn, positions, out: list):
        terms = []
        for k in positions:
            if k < len(eqn.ins) and self.is_varied(eqn.ins[k]):
                ins = list(eqn.ins)
                ins[k] = self.dot(ins[k].name)
                t = Var(self.names.fresh("t"))
                out.append(Eqn(eqn.prim, tuple(ins), (t,), dict(eqn.params), eqn.loc))
                terms.append(t)
        y = eqn.outs[0]
        if not terms:
            self.zero(y.name, out, eqn.loc)
            return
        acc = terms[0]
        for t in terms[1:]:
            s = Var(self.names.fresh("t"))
            out.append(Eqn("add", (acc, t), (s,), {}, eqn.loc))
            acc = s
        out.append(Eqn("copy", (acc,), (self.dot(y.name),), {}, eqn.loc))

    def linear_fill(self, eqn: Eqn, positions, out: list):
        ins = list(eqn.ins)
        for k in positions:
            if self.is_varied(ins[k]):
                ins[k] = self.dot(ins[k].name)
            else:
                z = Var(self.names.fresh("t"))
                out.append(Eqn("zeros_like_any", (ins[k],), (z,), {}, eqn.loc))
                ins[k] = z
        out.append(Eqn(eqn.prim, tuple(ins), (self.dot(eqn.outs[0].name),), dict(eqn.params),
                       eqn.loc))

    def weighted_axis(self, eqn: Eqn, out: list):
        x, axis, keepdims = eqn.ins
        y = eqn.outs[0]
        loc = eqn.loc
        if not self.is_varied(x):
            self.zero(y.name, out, loc)
            return
        fresh = self.names.fresh
        prod, s = Var(fresh("t")), Var(fresh("t"))
        weight = WEIGHTED_AXIS[eqn.prim]
        if weight is None:  # norm: sum(x * x_dot) / norm, 0 where the norm is 0
            out.append(Eqn("mul", (x, self.dot(x.name)), (prod,), {}, loc))
        else:
            w = Var(fresh("t"))
            args = (x, y, axis, keepdims) if weight == "argmax_mask" else (x, axis)
            out.append(Eqn(weight, args, (w,), {}, loc))
            out.append(Eqn("mul", (self.dot(x.name), w), (prod,), {}, loc))
        out.append(Eqn("sum_axis", (prod, axis, keepdims), (s,), dict(eqn.params), loc))
        if weight is None:
            z, d = Var(fresh("t")), Var(fresh("t"))
            out.append(Eqn("eq", (y, Const(0.0)), (z,), {}, loc))
            out.append(Eqn("add", (y, z), (d,), {}, loc))
            out.append(Eqn("truediv", (s, d), (self.dot(y.name),), {}, loc))
        else:
            out.append(Eqn("copy", (s,), (self.dot(y.name),), {}, loc))

    def apply_rule(self, rule, eqn: Eqn, out: list):
        y = eqn.outs[0]
        dots = [self.tangent_of(a) for a in eqn.ins]
        result, fresh = inline_tangent(rule, y, eqn.ins, dots, out, self.names, eqn.loc)
        loc = eqn.loc
        if result is None:
            self.zero(y.name, out, loc)
            return
        if self.is_array(y.name):
            if any(d is None for d in dots):  # an inactive operand: maybe a smaller shape
                t = Var(self.names.fresh("t"))
                out.append(Eqn("tangent_like", (result, y), (t,), {}, loc))
                result, fresh = t, False
            if not fresh and y.name in self.mutated:  # never alias another tangent
                t = Var(self.names.fresh("t"))
                out.append(Eqn("copy_array", (result,), (t,), {}, loc))
                result = t
        out.append(Eqn("copy", (result,), (self.dot(y.name),), {}, loc))


def jvp(func: Func, argnums: tuple, seeds: dict | None = None, tangent_only: bool = False,
        name: str | None = None) -> Func:
    """``f_jvp(*params, *tangents) -> (result, result_dot)`` from a typed `Func`.

    With ``seeds`` ({argnum: Const}) the tangents of those parameters are constants instead of
    extra parameters; with ``tangent_only`` the function returns only the tangent.
    """
    load_builtin_rules()
    func = _copy.deepcopy(func)
    seeds = seeds or {}
    wrt = []
    for i in argnums:
        p = func.params[i]
        t = func.types.get(p.name)
        if not (isinstance(t, ArrayType) and t.is_float):
            raise DifferentiationError(
                f"cannot differentiate with respect to argument {p.name!r} (argnums={i}): it is "
                f"{t}; only float scalars and float arrays have tangents", func.loc,
                construct="argnums")
        wrt.append(p.name)
    names = NameGen()
    names.taken |= _names_in(func)
    fwd = Forward(func, wrt, names)
    head: list = []
    params = list(func.params)
    for i in argnums:
        p = func.params[i]
        d = fwd.dot(p.name)
        if i in seeds:
            head.append(Eqn("copy", (seeds[i],), (d,), {}, func.loc))
        else:
            params.append(d)
    for p in func.params:
        if p.name in fwd.varied and p.name not in wrt:
            fwd.zero(p.name, head, func.loc)
    body = fwd.block(func.body)
    tail: list = []

    def tangent(res):
        if isinstance(res, tuple):
            return tuple(tangent(r) for r in res)
        if isinstance(res, Var) and res.name in fwd.varied:
            return fwd.dot(res.name)
        if isinstance(res, Var) and fwd.is_array(res.name):
            t = Var(names.fresh("t"))
            tail.append(Eqn("zeros_like_any", (res,), (t,), {}, func.loc))
            return t
        return Const(0.0)

    result_dot = tangent(func.result)
    result = result_dot if tangent_only else (func.result, result_dot)
    return Func(name or f"{func.name}_jvp", params, Block(head + body.stmts + tail), result,
                func.loc)
