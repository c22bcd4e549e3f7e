"""IR-to-IR passes: type inference, constant folding, dead-code elimination, activity.

Each pass takes a `Func` and returns a `Func` (or an analysis result), so it can be run and
printed alone (see `srcgrad.pipeline`).
"""

from __future__ import annotations

import numpy as np

from .errors import TypeInferenceError
from .ir import (
    Block,
    Const,
    Eqn,
    For,
    Func,
    If,
    Store,
    Var,
    While,
    child_blocks,
    for_vars_read_outside,
    stmt_defs,
    stmt_uses,
    walk,
    written_names,
)
from .primitives import NONDIFF, PRIMS
from .types import I64, ArrayType, TupleType, from_value, promote_dtypes

# ---------------------------------------------------------------------------------------------
# type inference


def _join(old, new, name, loc):
    if old is None or old == new:
        return new
    if isinstance(old, TupleType) or isinstance(new, TupleType):
        if isinstance(old, TupleType) and isinstance(new, TupleType) and \
                len(old.items) == len(new.items):
            return TupleType(tuple(_join(a, b, name, loc) for a, b in zip(old.items, new.items)))
        raise TypeInferenceError(f"variable {name!r} holds {old} on one path and {new} on "
                                 "another", loc, construct="types")
    if old.ndim != new.ndim:
        raise TypeInferenceError(
            f"variable {name!r} is {old} on one path and {new} on another; numba needs one "
            "type per variable (use a different name)", loc, construct="types")
    return ArrayType(promote_dtypes(old.dtype, new.dtype), old.ndim)


# Operations that give a Python number when every operand is one (NumPy 2 treats those as
# "weak": ``0.1 * j`` with ``j`` from ``range`` does not make a float32 array float64).
_WEAK_PRIMS = {"add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "copy", "maximum",
               "minimum"}


class _Inferrer:
    def __init__(self, func: Func):
        self.func = func
        self.types: dict = {}
        self.changed = False
        self.strict = False
        # Scalars with a definition that is not a Python number (arguments, array elements, NumPy
        # functions): grows monotonically, so the fixed point below is reached. The rest are weak.
        self.strong: set = {p.name for p in func.params}
        self.shapes: set = set()  # tuples made by ``x.shape`` (their entries are Python ints)

    def is_weak(self, atom) -> bool:
        if isinstance(atom, Const):
            return not isinstance(atom.value, (np.generic, bool))
        t = self.types.get(atom.name)
        return atom.name not in self.strong and isinstance(t, ArrayType) and t.ndim == 0 and \
            not t.is_bool

    def weak_def(self, stmt) -> bool:
        """Does this single-output equation give a Python number (NumPy 2's weak scalar)?"""
        if stmt.prim == "getitem":  # an entry of a shape tuple
            return isinstance(stmt.ins[0], Var) and stmt.ins[0].name in self.shapes
        return stmt.prim in ("len", "size") or (stmt.prim in _WEAK_PRIMS and all(self.is_weak(a) for a in stmt.ins))

    def atom_type(self, atom, loc):
        if isinstance(atom, Const):
            return from_value(atom.value) if atom.value is not None else None
        t = self.types.get(atom.name)
        if t is None and self.strict:
            raise TypeInferenceError(f"variable {atom.name!r} is used before it is assigned",
                                     loc, construct="name")
        return t

    def define(self, var, t, loc):
        new = _join(self.types.get(var.name), t, var.name, loc)
        if new != self.types.get(var.name):
            self.types[var.name] = new
            self.changed = True

    def block(self, block):
        for stmt in block.stmts:
            self.stmt(stmt)

    def stmt(self, stmt):
        loc = getattr(stmt, "loc", None)
        if isinstance(stmt, Eqn):
            in_types = [self.atom_type(a, loc) for a in stmt.ins]
            if any(t is None for t, a in zip(in_types, stmt.ins) if not
                   (isinstance(a, Const) and a.value is None)):
                return
            literal = [isinstance(a, Const) and self.is_weak(a) for a in stmt.ins]
            weak = [self.is_weak(a) for a in stmt.ins]
            try:
                outs = PRIMS[stmt.prim].infer(in_types, stmt.params, weak)
                if weak != literal and any(isinstance(t, ArrayType) and not t.is_float for t in outs):
                    # an integer result: numba widens int32 + n to int64 and codegen casts only
                    # float operands, so a weak integer *variable* stays strong here
                    outs = PRIMS[stmt.prim].infer(in_types, stmt.params, literal)
            except TypeInferenceError:
                raise
            except (TypeError, ValueError, IndexError, KeyError) as exc:
                raise TypeInferenceError(f"cannot apply {stmt.prim} to "
                                         f"{', '.join(map(str, in_types))}: {exc}", loc,
                                         construct=stmt.prim) from None
            if stmt.prim == "shape":
                self.shapes.update(o.name for o in stmt.outs)
            if len(stmt.outs) != 1 or not self.weak_def(stmt):
                for var in stmt.outs:
                    if var.name not in self.strong:
                        self.strong.add(var.name)
                        self.changed = True
            for var, t in zip(stmt.outs, outs):
                if t is not None:
                    self.define(var, t, loc)
        elif isinstance(stmt, Store):
            t = self.atom_type(stmt.target, loc)
            if t is not None and (isinstance(t, TupleType) or t.ndim == 0):
                raise TypeInferenceError(f"{stmt.target.name!r} is not an array; cannot store "
                                         "into it", loc, construct="store")
        elif isinstance(stmt, For):
            for b in (stmt.start, stmt.stop, stmt.step):
                t = self.atom_type(b, loc)
                if t is not None and not (isinstance(t, ArrayType) and t.ndim == 0 and
                                          (t.is_int or t.is_bool)):
                    raise TypeInferenceError(f"range() needs integers, got {t}", loc,
                                             construct="range")
            self.define(stmt.var, I64, loc)
            self.block(stmt.body)
        elif isinstance(stmt, While):
            self.block(stmt.cond_block)
            self.block(stmt.body)
        elif isinstance(stmt, If):
            self.block(stmt.then)
            self.block(stmt.orelse)


def infer_types(func: Func, arg_types: list) -> Func:
    """Fill ``func.types`` from the argument types, iterating loops to a fixed point."""
    inf = _Inferrer(func)
    for param, t in zip(func.params, arg_types):
        inf.types[param.name] = t
    for _ in range(20):
        inf.changed = False
        inf.block(func.body)
        if not inf.changed:
            break
    inf.strict = True
    inf.block(func.body)
    for atom in func.result_atoms():
        inf.atom_type(atom, func.loc)
    func.types = inf.types
    func.weak = frozenset(n for n in inf.types if inf.is_weak(Var(n)))
    return func


def result_type(func: Func, atom):
    if isinstance(atom, Const):
        return from_value(atom.value)
    return func.types[atom.name]


# ---------------------------------------------------------------------------------------------
# constant folding and copy propagation


def _def_counts(func: Func) -> dict:
    counts: dict = {p.name: 1 for p in func.params}
    for stmt in walk(func.body):
        for v in stmt_defs(stmt):
            counts[v.name] = counts.get(v.name, 0) + 1
    return counts


def _substitute(block: Block, mapping: dict):
    def sub(a):
        return mapping.get(a.name, a) if isinstance(a, Var) else a

    for stmt in block.stmts:
        if isinstance(stmt, Eqn):
            stmt.ins = tuple(sub(a) for a in stmt.ins)
            if "index" in stmt.params:  # getitem, getitem_copy, ...: the index renders from params
                stmt.params = dict(stmt.params, index=_sub_index(stmt.params["index"], sub))
        elif isinstance(stmt, Store):
            stmt.value = sub(stmt.value)
            stmt.index = _sub_index(stmt.index, sub)
        elif isinstance(stmt, If):
            stmt.cond = sub(stmt.cond)
        elif isinstance(stmt, For):
            stmt.start, stmt.stop, stmt.step = sub(stmt.start), sub(stmt.stop), sub(stmt.step)
        elif isinstance(stmt, While):
            stmt.cond = sub(stmt.cond)
        for child in child_blocks(stmt):
            _substitute(child, mapping)


def _sub_index(index, sub):
    from .ir import NEWAXIS, Slice

    out = []
    for item in index:
        if isinstance(item, Slice):
            out.append(Slice(*[None if p is None else sub(p)
                               for p in (item.start, item.stop, item.step)]))
        elif item is NEWAXIS:
            out.append(item)
        else:
            out.append(sub(item))
    return tuple(out)


def _fold_eqn(stmt):
    prim = PRIMS[stmt.prim]
    if prim.impl is None or len(stmt.outs) != 1 or stmt.params:
        return None
    if not all(isinstance(a, Const) and a.value is not None for a in stmt.ins):
        return None
    try:
        with np.errstate(all="ignore"):
            value = prim.impl(*[a.value for a in stmt.ins])
    except (ArithmeticError, ValueError, TypeError):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, (bool, int, float)):
        return None
    return Const(value)


def _view_links(func: Func) -> dict:
    """name -> names that may share its memory through one view operation (both directions)."""
    from .stores import may_view

    links: dict = {}
    for stmt in walk(func.body):
        if isinstance(stmt, Eqn) and stmt.ins and isinstance(stmt.ins[0], Var) and may_view(func, stmt):
            for a, b in ((stmt.outs[0].name, stmt.ins[0].name), (stmt.ins[0].name, stmt.outs[0].name)):
                links.setdefault(a, set()).add(b)
    return links


def _closure(names: set, links: dict) -> set:
    out, todo = set(names), list(names)
    while todo:
        for other in links.get(todo.pop(), ()):
            if other not in out:
                out.add(other)
                todo.append(other)
    return out


def _written_arrays(func: Func, blocks=None) -> set:
    """Arrays written in place (stores, ``iadd``) in ``func`` (or only in ``blocks``) and every
    array sharing memory with one."""
    written = set()
    for stmt in (s for block in (blocks or [func.body]) for s in walk(block)):
        if isinstance(stmt, Store):
            written.add(stmt.target.name)
        elif isinstance(stmt, Eqn) and stmt.prim in INPLACE_PRIMS:
            written.add(stmt.ins[0].name)
    return _closure(written, _view_links(func))


def fold(func: Func) -> Func:
    """Fold constant expressions; propagate constants and copies of single-assignment values."""
    result_names = {a.name for a in func.result_atoms() if isinstance(a, Var)}
    for _ in range(10):
        _strength_reduce(func)
        counts = _def_counts(func)
        written = _written_arrays(func)  # their values change without a new assignment
        mapping = {}
        seen: dict = {}
        keep = []
        for stmt in func.body.stmts:  # top level only: these run exactly once, in order
            if isinstance(stmt, Eqn) and len(stmt.outs) == 1:
                out = stmt.outs[0]
                single = counts.get(out.name) == 1 and out.name not in result_names
                folded = _fold_eqn(stmt)
                if single and folded is not None:
                    mapping[out.name] = folded
                    continue
                if single and stmt.prim in CSE_PRIMS:
                    ins = tuple(mapping.get(a.name, a) if isinstance(a, Var) else a
                                for a in stmt.ins)
                    if all(isinstance(a, Const) or (counts.get(a.name) == 1 and a.name not in written)
                           for a in ins):
                        sig = (stmt.prim, ins, repr(sorted(stmt.params.items())))
                        if sig in seen:
                            mapping[out.name] = seen[sig]
                            continue
                        seen[sig] = out
                if single and stmt.prim == "copy" and out.name not in written:  # (stores keep their target)
                    src = stmt.ins[0]
                    if isinstance(src, Var):
                        src = mapping.get(src.name, src)
                    if isinstance(src, Const) or counts.get(src.name) == 1:
                        mapping[out.name] = src
                        continue
            keep.append(stmt)
        if not mapping:
            break
        func.body.stmts = keep
        _substitute(func.body, mapping)
    return func


def prune_constant_branches(func: Func) -> int:
    """Fold constant expressions inside loops and branches too (single-assignment variables), and
    replace an ``if`` whose condition is a constant by the branch it takes; how many ``if``s.

    ``s = 0.3`` then ``if s > 0.2:`` inside a loop: ``fold`` leaves ``0.3 > 0.2`` in the loop (it
    folds the top level only) and numba's own dead-branch pass prunes the branch in compiled
    code, but not always both copies (the forward sweep's and the reverse sweep's): a list tape
    pushed only in the pruned copy was left without a type.  Pruned here, neither sweep has the
    branch."""
    result_names = {a.name for a in func.result_atoms() if isinstance(a, Var)}
    pruned = 0
    for _ in range(10):
        counts = _def_counts(func)
        mapping = {}
        for stmt in walk(func.body):
            if isinstance(stmt, Eqn) and len(stmt.outs) == 1:
                out = stmt.outs[0]
                if counts.get(out.name) == 1 and out.name not in result_names:
                    folded = _fold_eqn(stmt)
                    if folded is not None:
                        mapping[out.name] = folded
        if mapping:
            _drop_defs(func.body, set(mapping))
            _substitute(func.body, mapping)
        conds = _fold_reaching_constants(func.body, {})
        taken = _inline_constant_ifs(func.body)
        pruned += taken
        if not mapping and not taken and not conds:
            break
    return pruned


def _fold_reaching_constants(block: Block, known: dict) -> int:
    """Comparisons whose operands hold known constants *at that point* become those constants.

    ``tot = 0.0; if tot > 1.3: tot += ...`` assigns ``tot`` twice, so the single-assignment folding
    above leaves ``tot > 1.3``; numba's dead-branch pass then prunes the forward sweep's copy of the
    ``if`` but not the reverse sweep's, which reads variables the pruned copy defined (a crash).
    ``known`` maps names to the constant they hold here (a copy of a constant, or an expression of
    such); only boolean results are written back, the rest only feed later folds.  Entering a loop
    forgets what the loop assigns; after any compound statement, what it assigns anywhere."""
    changed = 0
    for k, stmt in enumerate(block.stmts):
        if isinstance(stmt, Eqn):
            value = None
            if len(stmt.outs) == 1:
                ins = tuple(known.get(a.name, a) if isinstance(a, Var) else a for a in stmt.ins)
                if stmt.prim == "copy" and isinstance(ins[0], Const):
                    value = ins[0]
                elif ins != stmt.ins:
                    value = _fold_eqn(Eqn(stmt.prim, ins, stmt.outs, stmt.params, stmt.loc))
                    if value is not None and isinstance(value.value, bool):
                        block.stmts[k] = Eqn("copy", (value,), stmt.outs, {}, stmt.loc)
                        changed += 1
            for v in stmt_defs(stmt):
                known.pop(v.name, None)
            if value is not None:
                known[stmt.outs[0].name] = value
            continue
        held = known.get(stmt.cond.name) if isinstance(stmt, If) and isinstance(stmt.cond, Var) else None
        if held is not None and isinstance(held.value, bool):
            stmt.cond = held
            changed += 1
        children = child_blocks(stmt)
        if children:
            written = written_names([stmt])
            inner = known if isinstance(stmt, If) else {n: c for n, c in known.items() if n not in written}
            for child in children:
                changed += _fold_reaching_constants(child, dict(inner))
            for n in written:
                known.pop(n, None)
        else:
            for v in stmt_defs(stmt):
                known.pop(v.name, None)
    return changed


def _drop_defs(block: Block, names: set) -> None:
    block.stmts = [s for s in block.stmts
                   if not (isinstance(s, Eqn) and len(s.outs) == 1 and s.outs[0].name in names)]
    for stmt in block.stmts:
        for child in child_blocks(stmt):
            _drop_defs(child, names)


def _inline_constant_ifs(block: Block) -> int:
    count, out = 0, []
    for stmt in block.stmts:
        for child in child_blocks(stmt):
            count += _inline_constant_ifs(child)
        if isinstance(stmt, If) and isinstance(stmt.cond, Const):
            out.extend((stmt.then if stmt.cond.value else stmt.orelse).stmts)
            count += 1
        else:
            out.append(stmt)
    block.stmts = out
    return count


# Pure value-producing primitives that common-subexpression elimination may merge.
CSE_PRIMS = {"add", "sub", "mul", "truediv", "neg", "pow", "exp", "log", "sqrt", "sin", "cos",
             "tanh", "log1p", "expm1", "abs", "sign", "maximum", "minimum", "gt", "lt", "ge",
             "le", "eq", "ne", "unbroadcast", "to_float"}


def _is_const(a, value) -> bool:
    return isinstance(a, Const) and not isinstance(a.value, bool) and a.value == value


def _strength_reduce(func: Func):
    """Cheaper equivalents that keep the type: x**2 -> x*x, x*1 -> x, x*-1 -> -x, x+0 -> x."""
    for stmt in walk(func.body):
        if not isinstance(stmt, Eqn) or len(stmt.outs) != 1:
            continue
        if stmt.prim in ("pow", "power"):
            exp = stmt.ins[1]
            if _is_const(exp, 2):
                stmt.prim, stmt.ins = "mul", (stmt.ins[0], stmt.ins[0])
            elif _is_const(exp, 1) and _keeps_type(func, stmt, stmt.ins[0]):
                stmt.prim, stmt.ins = "copy", (stmt.ins[0],)
            continue
        pairs = []
        if stmt.prim == "mul":
            pairs = [(0, 1), (1, 0)]
        elif stmt.prim == "add":
            pairs = [(0, 1), (1, 0)]
        elif stmt.prim in ("sub", "truediv"):
            pairs = [(0, 1)]
        for keep, const in pairs:
            x, c = stmt.ins[keep], stmt.ins[const]
            if not _keeps_type(func, stmt, x):
                continue
            unit = 0 if stmt.prim in ("add", "sub") else 1
            if _is_const(c, unit):
                stmt.prim, stmt.ins = "copy", (x,)
                break
            if stmt.prim == "mul" and _is_const(c, -1):
                stmt.prim, stmt.ins = "neg", (x,)
                break


def _keeps_type(func: Func, stmt, x) -> bool:
    """True when ``x`` is a number with the type of the statement's output (no promotion lost).
    Arrays never: ``c = x * 1.0`` is a new array, and ``c = x`` would make later writes into c
    write into x."""
    if not isinstance(x, Var) or not func.types:
        return False
    t = func.types.get(x.name)
    return t == func.types.get(stmt.outs[0].name) is not None and isinstance(t, ArrayType) and t.ndim == 0


# ---------------------------------------------------------------------------------------------
# dead-code elimination

EFFECT_PRIMS = {"tape_push", "tape_pop", "tape_new", "restore", "restore_item", "unique_index"}
# Statements that write into their first input: not a use of it, dead when it is dead.
INPLACE_PRIMS = {"iadd"}


def _written_live(name: str, live: set, groups: dict) -> bool:
    """Is the array written through ``name`` live, directly or through a view of it?"""
    return name in live or bool(groups.get(name, set()) & live)


def _kept(stmt, live: set, groups: dict, outside=frozenset()) -> bool:
    """Does this statement (or anything inside it) produce something live?"""
    if isinstance(stmt, Eqn):
        if stmt.prim in EFFECT_PRIMS:
            return True
        if stmt.prim in INPLACE_PRIMS:
            return _written_live(stmt.ins[0].name, live, groups)
        return any(o.name in live for o in stmt.outs)
    if isinstance(stmt, Store):
        return _written_live(stmt.target.name, live, groups)
    if isinstance(stmt, For) and stmt.var.name in outside and stmt.var.name in live:
        return True  # its variable's last value is read after it (ir.for_vars_read_outside)
    if isinstance(stmt, (If, For, While)):
        return any(_kept(s, live, groups, outside) for child in child_blocks(stmt) for s in child.stmts)
    return True  # break / continue


def _mark(block: Block, live: set, groups: dict, outside=frozenset()) -> bool:
    grew = False
    for stmt in block.stmts:
        if not _kept(stmt, live, groups, outside):
            continue
        atoms = stmt_uses(stmt)
        if isinstance(stmt, Store) or (isinstance(stmt, Eqn) and stmt.prim in INPLACE_PRIMS):
            target = atoms[0]
            atoms = atoms[1:]  # writing into an array is not a use of it...
            if target.name not in live:  # ...but a write kept for a view's sake needs its target
                live.add(target.name)
                grew = True
        for a in atoms:
            if isinstance(a, Var) and a.name not in live:
                live.add(a.name)
                grew = True
        for child in child_blocks(stmt):
            grew |= _mark(child, live, groups, outside)
    return grew


def _sweep(block: Block, live: set, groups: dict, outside=frozenset()):
    out = []
    for stmt in block.stmts:
        if not _kept(stmt, live, groups, outside):
            continue
        for child in child_blocks(stmt):
            _sweep(child, live, groups, outside)
        out.append(stmt)
    block.stmts = out


def dce(func: Func, keep=()) -> Func:
    """Mark and sweep: keep what the result, effects (tapes) and kept control flow need.
    A write into an array is kept when that array, or any array sharing its memory through a
    view, is live."""
    live = {a.name for a in func.result_atoms() if isinstance(a, Var)} | set(keep)
    links = _view_links(func) if func.types else {}
    groups = {name: _closure({name}, links) - {name} for name in links}
    outside = for_vars_read_outside(func.body)
    while _mark(func.body, live, groups, outside):
        pass
    _sweep(func.body, live, groups, outside)
    return func


# ---------------------------------------------------------------------------------------------
# activity analysis


def _is_float(func, name):
    t = func.types.get(name)
    return isinstance(t, ArrayType) and t.is_float


def activity(func: Func, wrt: list) -> set:
    """Names of float values that depend on ``wrt`` and reach the result: they get adjoints."""
    varied = {v.name for v in wrt if _is_float(func, v.name)}
    changed = True
    while changed:
        changed = False
        for stmt in walk(func.body):
            if isinstance(stmt, Eqn) and stmt.prim not in NONDIFF:
                if any(isinstance(a, Var) and a.name in varied for a in stmt.ins):
                    for o in stmt.outs:
                        if o.name not in varied and _is_float(func, o.name):
                            varied.add(o.name)
                            changed = True
            elif isinstance(stmt, Store):
                v = stmt.value
                if isinstance(v, Var) and v.name in varied and stmt.target.name not in varied \
                        and _is_float(func, stmt.target.name):
                    varied.add(stmt.target.name)
                    changed = True
    useful = {a.name for a in func.result_atoms() if isinstance(a, Var)}
    changed = True
    while changed:
        changed = False
        for stmt in walk(func.body):
            if isinstance(stmt, Eqn) and stmt.prim not in NONDIFF:
                if any(o.name in useful for o in stmt.outs):
                    for a in stmt.ins:
                        if isinstance(a, Var) and a.name not in useful:
                            useful.add(a.name)
                            changed = True
            elif isinstance(stmt, Store):
                v = stmt.value
                if stmt.target.name in useful and isinstance(v, Var) and v.name not in useful:
                    useful.add(v.name)
                    changed = True
    return varied & useful
