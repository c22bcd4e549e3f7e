"""Three fixed elementwise chains on 1-D float64 arrays as one cached call each.

* ``t1 = 1.0 - y; t2 = y * t1; u = g * t2`` -> ``u = rt.sigmoid_adj_1(g, y)`` (the adjoint of
  the logistic function, the rule's ``g * ans * (1 - ans)``);
* ``t1 = y * y; t2 = 1.0 - t1; u = g * t2`` -> ``u = rt.tanh_adj_1(g, y)``;
* ``t = a * b; u = t + c`` -> ``u = rt.mul_add_1(a, b, c)`` (a gate's ``x * w + b``).

Each cached array helper call costs ~12-14 ms of numba compile at its call site; the NumPy form
of the ADBench LSTM has ten of these chains (20 calls).  The helpers (runtime/fused.py) do the
same operations in the same order, so the values are the same bit for bit (products and sums
commute exactly; only the grouping matters, and it is kept).  A chain is fused when its
intermediates are read once, defined once, and everything between the chain's first statement
and its last is a plain assignment that neither writes an operand in place nor redefines one.

Runs on the copy of the generated function that codegen prints, like mul_unbroadcast.py.
"""

from __future__ import annotations

from collections import Counter

from .ir import Const, Eqn, Func, Var, all_blocks, read_counts, stmt_defs, walk
from .passes import INPLACE_PRIMS
from .primitives import PRIMS, Prim, register
from .types import ArrayType

for _name, _fmt in (("sigmoid_adj", "rt.sigmoid_adj_1({0}, {1})"), ("tanh_adj", "rt.tanh_adj_1({0}, {1})"),
                    ("mul_add", "rt.mul_add_1({0}, {1}, {2})")):
    if _name not in PRIMS:
        register(Prim(_name, _fmt, lambda in_types, params, weak: [in_types[0]], None, nondiff=True))


def fuse_chains(func: Func) -> int:
    """Rewrite the chains in place; how many."""
    uses = read_counts(func)
    defs = Counter(v.name for stmt in walk(func.body) for v in stmt_defs(stmt))
    fused = 0
    for block in all_blocks(func.body):
        i = 0
        while i < len(block.stmts):
            match = _match(func, block.stmts, i, uses, defs)
            if match is not None:
                prim, ins, drop = match
                root = block.stmts[i]
                block.stmts[i] = Eqn(prim, ins, root.outs, {}, root.loc)
                for k in sorted(drop, reverse=True):
                    func.types.pop(block.stmts[k].outs[0].name, None)
                    del block.stmts[k]
                    i -= 1
                fused += 1
            i += 1
    return fused


def _vec(func, atom) -> bool:
    t = func.types.get(atom.name) if isinstance(atom, Var) else None
    return isinstance(t, ArrayType) and t.ndim == 1 and t.dtype == "float64"


def _one(atom) -> bool:
    return isinstance(atom, Const) and type(atom.value) is float and atom.value == 1.0


def _match(func, stmts, i, uses, defs):
    """(fused primitive, its inputs, indices of the statements it replaces) for a chain ending
    at ``stmts[i]``, or None."""
    root = stmts[i]
    if not (isinstance(root, Eqn) and root.prim in ("mul", "add") and len(root.outs) == 1 and
            len(root.ins) == 2 and _vec(func, root.outs[0]) and all(_vec(func, a) for a in root.ins)):
        return None
    found = {}  # intermediate name -> (index, Eqn)
    for k in range(i - 1, -1, -1):
        st = stmts[k]
        if isinstance(st, Eqn) and len(st.outs) == 1:
            found.setdefault(st.outs[0].name, (k, st))

    def inner(atom, prim):
        """The single-use, single-definition Eqn of ``prim`` defining ``atom`` in this block."""
        if not isinstance(atom, Var) or uses[atom.name] != 1 or defs[atom.name] != 1 or atom.name not in found:
            return None
        k, st = found[atom.name]
        return (k, st) if st.prim == prim and len(st.ins) == 2 else None

    if root.prim == "add":
        for t, c in (root.ins, root.ins[::-1]):
            hit = inner(t, "mul")
            if hit and all(_vec(func, a) for a in hit[1].ins) and c != t:
                return _checked(func, stmts, [hit[0]], i, ("mul_add", (*hit[1].ins, c)))
        return None
    for t2, g in (root.ins, root.ins[::-1]):
        hit2 = inner(t2, "mul")
        if hit2 and g != t2:
            for y, t1 in (hit2[1].ins, hit2[1].ins[::-1]):  # sigmoid: t2 = y * (1.0 - y)
                hit1 = inner(t1, "sub")
                if hit1 and _one(hit1[1].ins[0]) and hit1[1].ins[1] == y and _vec(func, y):
                    return _checked(func, stmts, [hit1[0], hit2[0]], i, ("sigmoid_adj", (g, y)))
        hit2 = inner(t2, "sub")
        if hit2 and g != t2 and _one(hit2[1].ins[0]):  # tanh: t2 = 1.0 - y * y
            hit1 = inner(hit2[1].ins[1], "mul")
            if hit1 and hit1[1].ins[0] == hit1[1].ins[1] and _vec(func, hit1[1].ins[0]):
                return _checked(func, stmts, [hit1[0], hit2[0]], i, ("tanh_adj", (g, hit1[1].ins[0])))
    return None


def _checked(func, stmts, drop, i, fused):
    """``fused`` if nothing between the chain's first statement and its root could change what
    the statements moved to the root read: only assignments with outputs, none of them in place
    or redefining an operand of a moved statement (the root's own operands are read where they
    were)."""
    prim, ins = fused
    chain = {stmts[k].outs[0].name for k in drop}
    operands = {a.name for k in drop for a in stmts[k].ins if isinstance(a, Var)} - chain
    for k in range(min(drop) + 1, i):
        if k in drop:
            continue
        st = stmts[k]
        if not (isinstance(st, Eqn) and st.outs) or st.prim in INPLACE_PRIMS:
            return None
        if {o.name for o in st.outs} & (operands | chain):
            return None
    return prim, tuple(ins), drop
