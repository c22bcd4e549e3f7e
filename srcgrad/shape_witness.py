"""Shape-only reads of 1-D intermediates read the operands they were broadcast from instead.

``y = x + w`` has the adjoint ``unbroadcast(y_bar, x)``: only x's length matters, yet the read
makes the tape pass save x itself every loop iteration.  In the ADBench LSTM (NumPy form) nine
of the 24 arrays saved per step were such products and sums (``z * weight[:b]`` before the bias
is added, ``cell * forget`` before the sum...), kept only for their lengths.

When x = op(p, q) is elementwise (a binary arithmetic operation or a shape-keeping unary one),
its length is the broadcast of its operands' lengths, and p and q are often read by the
adjoint anyway (``mul`` reads each operand for the other's cotangent).  For the statements the
reverse pass just emitted for one primitive (`retarget`), a shape-only read of a 1-D x

    unbroadcast(c, x)   ->   n = bcast_len(len_of(p), len_of(q)); unbroadcast_len(c, n)
    fill_like(x, g)     ->   full_len(n, g)

is rewritten when every such operand ("leaf", followed through nested elementwise
definitions) is free to read where the adjoint reads it: a parameter, a value assigned once at
the top level, or an operand of a ``mul`` in the chain whose other operand is active.  Sound
because the definitions are single assignments in the consumer's block with none of their
operands reassigned before the consumer: at the consumer the leaves have the shapes they had
when x was computed (in-place stores never change a shape).  numbers broadcast to anything
and drop out.
"""

from __future__ import annotations

from collections import Counter

from srcgrad import runtime as rt

from . import forward as _forward
from .ir import Block, Const, Eqn, Var, all_blocks, child_blocks, stmt_defs, walk
from .primitives import PRIMS, Prim, register
from .shape_sources import SHAPE_KEEPING
from .types import I64, ArrayType

_BINARY = frozenset(("add", "sub", "mul", "truediv", "maximum", "minimum"))
_UNARY = SHAPE_KEEPING | {"sigmoid"}
_DEPTH = 4
_F64_1 = ArrayType("float64", 1)


def _int(in_types, params, weak):
    return [I64]


def _full_type(in_types, params, weak):
    return [ArrayType("float64", 1)]


if "len_of" not in PRIMS:
    register(Prim("len_of", "{0}.shape[0]", _int, None, nondiff=True))
    register(Prim("bcast_len", "rt.bcast_len({0}, {1})", _int, None, nondiff=True), [rt.bcast_len])
    register(Prim("unbroadcast_len", "rt.unbroadcast_len({0}, {1})", lambda i, p, w: [i[0]], None),
             [rt.unbroadcast_len])
    register(Prim("full_len", "rt.full_len({0}, {1})", _full_type, None), [rt.full_len])
# Forward mode (hvp over a gradient): linear in the cotangent, the lengths are constants.
_forward.MULTILINEAR.setdefault("unbroadcast_len", (0,))
_forward.MULTILINEAR.setdefault("full_len", (1,))


class _Index:
    """Where each statement of the primal stands, and each single assignment's Eqn."""

    def __init__(self, func):
        self.func = func
        self.where: dict = {}  # id(stmt) -> (block, position)
        defs: Counter = Counter(p.name for p in func.params)
        first: dict = {}
        self.top: set = set()
        self._scan(func.body, defs, first, top=True)
        self.single = {n: e for n, e in first.items() if defs[n] == 1 and isinstance(e, Eqn)}
        self.params = {p.name for p in func.params}
        self.assigned_deep: dict = {}

    def _scan(self, block: Block, defs: Counter, first: dict, top: bool):
        for pos, stmt in enumerate(block.stmts):
            self.where[id(stmt)] = (block, pos)
            for v in stmt_defs(stmt):
                defs[v.name] += 1
                first.setdefault(v.name, stmt)
                if top:
                    self.top.add(v.name)
            if getattr(stmt, "counter", None) is not None:
                defs[stmt.counter.name] += 1
            for child in child_blocks(stmt):
                self._scan(child, defs, first, top=False)

    def assigned(self, stmt) -> set:
        key = id(stmt)
        if key not in self.assigned_deep:
            names = {v.name for v in stmt_defs(stmt)}
            for child in child_blocks(stmt):
                names |= {v.name for s in walk(child) for v in stmt_defs(s)}
            if getattr(stmt, "counter", None) is not None:
                names.add(stmt.counter.name)
            self.assigned_deep[key] = names
        return self.assigned_deep[key]


def _array1(types, atom) -> bool:
    t = types.get(atom.name) if isinstance(atom, Var) else None
    return isinstance(t, ArrayType) and t.ndim == 1


def _leaves(index: _Index, types, x: Var, block, s_pos: int, depth: int, chain: list):
    """Atoms whose broadcast length is x's at the consumer; [x] when nothing better."""
    eqn = index.single.get(x.name)
    if eqn is None or depth == 0 or id(eqn) not in index.where:
        return [x]
    blk, pos = index.where[id(eqn)]
    if blk is not block or pos >= s_pos:
        return [x]
    if not ((eqn.prim in _BINARY and len(eqn.ins) == 2) or (eqn.prim in _UNARY and len(eqn.ins) == 1)):
        return [x]
    between = set()  # the consumer's own outputs too: its adjoint sees their new values
    for stmt in block.stmts[pos + 1:s_pos + 1]:
        between |= index.assigned(stmt)
    out = []
    for a in eqn.ins:
        if isinstance(a, Const):
            continue
        t = types.get(a.name)
        if not isinstance(t, ArrayType):
            return [x]
        if t.ndim == 0:
            continue  # a number broadcasts to anything
        if t.ndim != 1 or a.name in between:
            return [x]
        out += _leaves(index, types, a, block, s_pos, depth - 1, chain)
    if not out:
        return [x]
    chain.append(eqn)
    return out


def _free(rev, index: _Index, leaf: Var, chain: list) -> bool:
    if leaf.name in index.params:
        return True
    if leaf.name in index.single and leaf.name in index.top:
        return True  # assigned once, never overwritten: nothing to save
    for e in chain:
        if e.prim == "mul" and leaf in e.ins:
            other = e.ins[1] if e.ins[0] == leaf else e.ins[0]
            if rev.is_active(other):
                return True  # the mul adjoint reads the leaf anyway
    return False


def _witness(rev, index, eqn, x):
    """Leaves standing in for x's length at ``eqn``, or None."""
    if id(eqn) not in index.where or not _array1(rev.types, x):
        return None
    block, s_pos = index.where[id(eqn)]
    chain: list = []
    leaves = _leaves(index, rev.types, x, block, s_pos, _DEPTH, chain)
    if leaves == [x]:
        return None
    unique = list(dict.fromkeys(leaves))
    if not all(_free(rev, index, leaf, chain) for leaf in unique):
        return None
    return unique


def _length(rev, leaves, loc, out: list) -> Var:
    n = None
    for leaf in leaves:
        m = Var(rev.names.fresh("n"))
        out.append(Eqn("len_of", (leaf,), (m,), {}, loc))
        if n is not None:
            both = Var(rev.names.fresh("n"))
            out.append(Eqn("bcast_len", (n, m), (both,), {}, loc))
            m = both
        n = m
    return n


def retarget(rev, eqn: Eqn, stmts: list, start: int) -> int:
    """Rewrite shape-only reads in ``stmts[start:]`` (the adjoint of ``eqn``); the count."""
    index = getattr(rev, "_witness_index", None)
    if index is None or index.func is not rev.func:
        index = rev._witness_index = _Index(rev.func)
    y = rev.types.get(eqn.outs[0].name) if len(eqn.outs) == 1 else None
    if not isinstance(y, ArrayType):
        return 0
    done = 0
    new = stmts[:start]
    for stmt in stmts[start:]:
        x = None
        if isinstance(stmt, Eqn) and stmt.prim == "unbroadcast" and len(stmt.ins) == 2 and y.ndim == 1:
            x = stmt.ins[1]  # the cotangent has y's length
        elif isinstance(stmt, Eqn) and stmt.prim == "fill_like" and len(stmt.ins) == 2 and y.ndim == 0 \
                and y.dtype == "float64" and rev.types.get(getattr(stmt.ins[0], "name", "")) == _F64_1:
            x = stmt.ins[0]  # np.sum(x)'s adjoint: a float64 array of x's length
        if x is not None:
            leaves = _witness(rev, index, eqn, x) if x in eqn.ins else None
            if leaves is not None:
                n = _length(rev, leaves, stmt.loc, new)
                if stmt.prim == "unbroadcast":  # in place: the statement keeps its identity
                    stmt.prim, stmt.ins = "unbroadcast_len", (stmt.ins[0], n)
                else:
                    stmt.prim, stmt.ins = "full_len", (n, stmt.ins[1])
                stmt.params = {}
                done += 1
        new.append(stmt)
    stmts[:] = new
    return done


def share_lengths(func) -> int:
    """In the printed code: a ``len_of``/``bcast_len`` that repeats one computed earlier in the
    same block, with none of its operands (nor the earlier result) reassigned since, copies the
    earlier result (``n_7 = z.shape[0]`` after ``n_1 = z.shape[0]``; the chains repeat for every
    rule that reads a length).  Operands are compared through the copies this makes, so whole
    chains collapse.  Statements with blocks end what is known (their bodies run 0..n times).
    Each ``bcast_len`` left out is a call (numba compile time); the values are the same."""
    shared = 0
    for block in all_blocks(func.body):
        known: dict = {}  # (prim, operand names) -> name holding the value
        same: dict = {}  # name -> the earlier name it copies
        for k, stmt in enumerate(block.stmts):
            if child_blocks(stmt):
                known.clear()
                same.clear()
                continue
            if isinstance(stmt, Eqn) and stmt.prim in ("len_of", "bcast_len") and len(stmt.outs) == 1 and \
                    all(isinstance(a, Var) for a in stmt.ins):
                key = (stmt.prim, tuple(same.get(a.name, a.name) for a in stmt.ins))
                out = stmt.outs[0]
                if key in known and known[key] != out.name:
                    block.stmts[k] = Eqn("copy", (Var(known[key]),), (out,), {}, stmt.loc)
                    _forget(known, same, out.name)
                    same[out.name] = known[key]
                    shared += 1
                    continue
                _forget(known, same, out.name)
                if out.name not in key[1]:
                    known[key] = out.name
                continue
            for v in stmt_defs(stmt):
                _forget(known, same, v.name)
    return shared


def _forget(known: dict, same: dict, name: str) -> None:
    """``name`` is (re)assigned: drop what depended on its old value."""
    for key in [k for k, v in known.items() if v == name or name in k[1]]:
        del known[key]
    for alias in [a for a, b in same.items() if a == name or b == name]:
        del same[alias]
