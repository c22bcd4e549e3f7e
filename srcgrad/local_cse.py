"""Common-subexpression elimination of scalar arithmetic inside loop bodies and branches.

``passes.fold`` merges repeated pure expressions only at the top level of a function, where each
statement runs once.  Index arithmetic is repeated mostly inside loops: ``main_params[2 * j, q]``
and ``main_params[2 * j + 1, b + q]`` in every gate of the loop-form LSTM lower to a fresh
``2 * j`` each time, and the reverse pass recomputes every one of them again in the reversed
body.  numba's type inference and lowering pay for each statement.

Within one block, in order, a statement ``y = prim(ins)`` (a pure primitive, a number as result)
whose key (primitive, inputs, parameters) was already computed by ``x = ...`` earlier in the block
is dropped and y is replaced by x, when

- x and y are each assigned once in the function and are not parameters or results,
- every read of y lies after it in the same block (nested blocks of later statements included),
- no statement between them assigns any input of the key (nested statements included).

Scalar reads ``a[i, j]`` are merged the same way when nothing between them can write memory
(only pure arithmetic and reads in between: no store, no call, no nested block).  Only numbers
are merged: two equal array results are different objects that later in-place writes could
tell apart.
"""

from __future__ import annotations

from collections import Counter

from .ir import Block, Const, Eqn, Func, Var, child_blocks, stmt_defs, stmt_uses, var_names, walk
from .passes import CSE_PRIMS, _substitute
from .types import ArrayType

_PRIMS = (CSE_PRIMS - {"unbroadcast"}) | {"floordiv", "mod"}
# Statements that never write memory: a scalar read (getitem) stays valid across them.
_PURE = _PRIMS | {"getitem", "copy", "pos", "to_int", "tuple", "shape", "len"}




def _reads(stmt) -> list:
    names = [a.name for a in stmt_uses(stmt) if isinstance(a, Var)]
    if isinstance(stmt, Eqn):
        names.extend(var_names(stmt.params))
    return names


def _reads_deep(stmt) -> Counter:
    out = Counter(_reads(stmt))
    for child in child_blocks(stmt):
        for s in walk(child):
            out.update(_reads(s))
            if getattr(s, "counter", None) is not None:
                out[s.counter.name] += 1
    if getattr(stmt, "counter", None) is not None:
        out[stmt.counter.name] += 1
    return out


def _defs_deep(stmt) -> set:
    names = {v.name for v in stmt_defs(stmt)}
    for child in child_blocks(stmt):
        names |= {v.name for s in walk(child) for v in stmt_defs(s)}
    counter = getattr(stmt, "counter", None)
    if counter is not None:
        names.add(counter.name)
    return names


def local_cse(func: Func) -> int:
    """Merge repeated scalar expressions within blocks (in place); the number removed."""
    uses: Counter = Counter()
    defs: Counter = Counter(p.name for p in func.params)
    for stmt in func.body.stmts:
        uses += _reads_deep(stmt)
    for stmt in walk(func.body):  # every assignment counts (sc = x[i]; sc = sc * 0.5 + x[i]:
        defs.update(v.name for v in stmt_defs(stmt))  # twice, so x[i] is not read from sc)
        if getattr(stmt, "counter", None) is not None:
            defs[stmt.counter.name] += 1
    fixed = {a.name for a in func.result_atoms() if isinstance(a, Var)} | {p.name for p in func.params}
    mapping: dict = {}
    removed = _block(func.body, func, uses, defs, fixed, mapping, top=True)
    if mapping:
        _substitute(func.body, mapping)
    return removed


def _scalar(func: Func, var: Var) -> bool:
    t = func.types.get(var.name)
    return isinstance(t, ArrayType) and t.ndim == 0


def _block(block: Block, func, uses, defs, fixed, mapping, top=False) -> int:
    removed = 0
    for stmt in block.stmts:
        for child in child_blocks(stmt):
            removed += _block(child, func, uses, defs, fixed, mapping)
    if top:
        return removed  # fold handles the top level
    table: dict = {}  # key -> the Var holding it
    after = [Counter() for _ in range(len(block.stmts) + 1)]  # reads at or after each position
    for pos in range(len(block.stmts) - 1, -1, -1):
        after[pos] = after[pos + 1] + _reads_deep(block.stmts[pos])
    keep = []
    for pos, stmt in enumerate(block.stmts):
        if mapping:
            _substitute(Block([stmt]), mapping)
        key = _key(stmt, func, defs, fixed)
        if key is not None:
            y = stmt.outs[0]
            x = table.get(key)
            if x is not None and after[pos + 1][y.name] == uses[y.name]:
                mapping[y.name] = x
                removed += 1
                continue
        keep.append(stmt)
        if not (isinstance(stmt, Eqn) and stmt.prim in _PURE):  # may write memory
            table = {k: v for k, v in table.items() if k[0] != "getitem"}
        assigned = _defs_deep(stmt)
        if assigned:
            table = {k: v for k, v in table.items()
                     if v.name not in assigned and not (k[1] & assigned)}
        if key is not None:
            table.setdefault(key, stmt.outs[0])
    block.stmts = keep
    return removed


def _key(stmt, func, defs, fixed):
    if not (isinstance(stmt, Eqn) and stmt.prim in _PRIMS | {"getitem"} and len(stmt.outs) == 1):
        return None
    y = stmt.outs[0]
    if y.name in fixed or defs[y.name] != 1 or not _scalar(func, y):
        return None
    ins = []
    for a in stmt.ins:
        if isinstance(a, Var):
            ins.append(("v", a.name))
        elif isinstance(a, Const):
            ins.append(("c", type(a.value).__name__, repr(a.value)))
        else:
            return None
    names = [n for kind, n, *_ in ins if kind == "v"]
    names.extend(var_names(stmt.params))
    return (stmt.prim, frozenset(names), tuple(ins), repr(sorted(stmt.params.items())))
