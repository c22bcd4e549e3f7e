"""The cotangent of a factor of a 1-D product as one call: ``t = g * b; u = unbroadcast(t, x)``
-> ``u = rt.mul_unbroadcast_1(g, b, x)``; both factors' as one call when both are wanted
(``rt.mul_adj_pair_1``, `_pair`).

Every product ``x * b`` on arrays gives its adjoint ``unbroadcast(g * b, x)``: two calls of cached
helpers, each a call, its error check and its reference counting in the generated function
(about 14 ms of numba compile per call, measured).  The NumPy form of the ADBench LSTM has 26
such pairs.  When the product's only use is the unbroadcast and every operand is a 1-D array of
one float dtype, the pair becomes one helper call at the product's place: it reads only x's
shape, so the rewrite requires that nothing between the two statements redefines x or reads or
defines the unbroadcast's result.  The helper computes the same products and sums them in the
same order.

Runs on the copy of the generated function that codegen prints (forward mode, which
differentiates the generated IR again for ``hessian``, has no rule for the fused primitive).
"""

from __future__ import annotations

from .ir import Eqn, Func, Var, all_blocks, child_blocks, read_counts, stmt_defs, stmt_uses, var_names, walk
from .primitives import PRIMS, Prim, register
from .types import ArrayType

if "mul_unbroadcast" not in PRIMS:
    register(Prim("mul_unbroadcast", "rt.mul_unbroadcast_1({0}, {1}, {2})",
                  lambda in_types, params, weak: [in_types[2]], None, nondiff=True))
    register(Prim("mul_adj_pair", "rt.mul_adj_pair_1({0}, {1}, {2})",
                  lambda in_types, params, weak: [in_types[1], in_types[2]], None, nondiff=True))


def fuse_mul_unbroadcasts(func: Func) -> int:
    """Rewrite the pairs in place; how many."""
    uses = read_counts(func)
    fused = 0
    for block in all_blocks(func.body):
        stmts = block.stmts
        i = 0
        while i < len(stmts):
            j = _partner(func, stmts, i, uses)
            if j is not None:
                mul, ub = stmts[i], stmts[j]
                stmts[i] = Eqn("mul_unbroadcast", (*mul.ins, ub.ins[1]), ub.outs, {}, ub.loc or mul.loc)
                del stmts[j]
                func.types.pop(mul.outs[0].name, None)
                fused += 1
            i += 1
    return fused + _pair(func)


def _pair(func: Func) -> int:
    """``u = mul_unbroadcast(g, b, x)`` and, later in the block, ``v = mul_unbroadcast(g, x, b)``
    (both factors of one product) -> ``u, v = mul_adj_pair(g, x, b)`` at the first one's place:
    one call instead of two.  Everything between must be a plain assignment that neither writes
    in place nor redefines g, x, b or u, and neither reads nor defines v."""
    paired = 0
    for block in all_blocks(func.body):
        stmts = block.stmts
        for i, first in enumerate(stmts):
            if not (isinstance(first, Eqn) and first.prim == "mul_unbroadcast"):
                continue
            g, b, x = first.ins
            j = next((k for k in range(i + 1, len(stmts)) if isinstance(stmts[k], Eqn) and
                      stmts[k].prim == "mul_unbroadcast" and stmts[k].ins == (g, x, b)), None)
            if j is None:
                continue
            v = stmts[j].outs[0]
            fixed = {a.name for a in (g, b, x, first.outs[0]) if isinstance(a, Var)}
            if all(isinstance(st, Eqn) and st.outs and st.prim != "iadd" and
                   not (fixed | {v.name}) & set(var_names(stmt_defs(st))) and
                   v.name not in set(var_names(stmt_uses(st)))
                   for st in stmts[i + 1:j]):
                stmts[i] = Eqn("mul_adj_pair", (g, x, b), (first.outs[0], v), {}, first.loc)
                del stmts[j]
                paired += 1
    return paired


def _vec(func, atom, dtype=None) -> bool:
    t = func.types.get(atom.name) if isinstance(atom, Var) else None
    return isinstance(t, ArrayType) and t.ndim == 1 and t.dtype in ("float64", "float32") and \
        (dtype is None or t.dtype == dtype)


def _partner(func, stmts, i, uses) -> int | None:
    """Index of the unbroadcast that fuses with the product at ``stmts[i]``, or None."""
    mul = stmts[i]
    if not (isinstance(mul, Eqn) and mul.prim == "mul" and len(mul.outs) == 1 and len(mul.ins) == 2):
        return None
    t = mul.outs[0]
    if uses[t.name] != 1 or not _vec(func, t):
        return None
    dtype = func.types[t.name].dtype
    if not all(_vec(func, a, dtype) for a in mul.ins):
        return None
    for j in range(i + 1, len(stmts)):
        st = stmts[j]
        if isinstance(st, Eqn) and st.prim == "unbroadcast" and st.ins[0] == t and len(st.outs) == 1:
            x, u = st.ins[1], st.outs[0]
            if not (_vec(func, x, dtype) and _vec(func, u, dtype)):
                return None
            if any(_touches(between, x.name, u.name) for between in stmts[i + 1:j]):
                return None
            return j
        if t.name in set(var_names(stmt_uses(st))) or any(t.name in _names(b) for b in child_blocks(st)):
            return None  # used elsewhere first (in a nested block)
    return None


def _names(block) -> set:
    out = set()
    for stmt in walk(block):
        out.update(var_names(stmt_uses(stmt) + stmt_defs(stmt)))
    return out


def _touches(stmt, x: str, u: str) -> bool:
    """Whether ``stmt`` (or a block in it) defines x or u, or reads u."""
    for st in [stmt, *(s for b in child_blocks(stmt) for s in walk(b))]:
        defs = set(var_names(stmt_defs(st)))
        if x in defs or u in defs or u in set(var_names(stmt_uses(st))):
            return True
    return False
