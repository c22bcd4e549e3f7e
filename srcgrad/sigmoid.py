"""The logistic function as one primitive: ``1 / (1 + exp(-v))`` recognised in the typed primal.

Written out, the logistic function is four primitives (negate, exponentiate, add one, divide);
the reverse pass inlines four adjoint rules and saves their operands per loop iteration (the
ADBench LSTM taped ``exp(-v)``, ``1 + exp(-v)`` and the quotient for each gate), and numba
compiles four array temporaries where one loop would do.  `fuse_sigmoid` rewrites the chain

    a = neg v ; b = exp a ; c = add 1 b (or add b 1) ; d = truediv 1 c     ->     d = sigmoid v

when the four statements stand next to each other in one block (so v cannot change between
them), a, b and c are temporaries (assigned once, read once, by the next link) and all are of
v's float64 type.  The adjoint needs only the result s: ``g * s * (1 - s)`` (which also stays
finite where the written-out chain gives ``0 * inf``).  The forward value is computed by the
same formula, so primal results are unchanged to the last bit.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .backends import kernelgen as _kernelgen
from .ir import Block, Const, Eqn, Func, Var, child_blocks, stmt_defs, stmt_uses, var_names, walk
from .primitives import PRIMS, Prim, register
from .rules import adjoint_rule
from .rules.tangents import tangent_rule
from .types import ArrayType

_F64 = "float64"


def _sigmoid_value(x):
    return 1.0 / (1.0 + np.exp(-x))


def _sigmoid_fmt(ins, outs):
    t = ins[0]
    if isinstance(t, ArrayType) and t.dtype == _F64:
        return "rt.sigmoid_f64({0})" if t.ndim else "(1.0 / (1.0 + np.exp(-{0})))"
    return "(1.0 / (1.0 + np.exp(-{0})))"


if "sigmoid" not in PRIMS:
    # fmt (scalar, math module) is what kernel generators use; codegen picks by type.
    register(Prim("sigmoid", "(1.0 / (1.0 + math.exp(-{0})))", lambda i, p, w: [i[0]],
                  _sigmoid_value, meta={"select_fmt": _sigmoid_fmt, "exact_cotangents": True}))

    @adjoint_rule("sigmoid")
    def _sigmoid_adjoint(g, ans, x):
        return g * (ans * (1.0 - ans))

    @tangent_rule("sigmoid")
    def _sigmoid_tangent(ans, x, x_dot):
        return (ans * (1.0 - ans)) * x_dot


# CUDA kernels (backends/kernelgen.py) render numbers with the math module, never np.
_kernelgen._TEMPLATES.setdefault("sigmoid", "(1.0 / (1.0 + math.exp(-{0})))")


# ---------------------------------------------------------------------------------------------
# recognition




def _counts(func: Func):
    uses: Counter = Counter()
    defs: Counter = Counter(p.name for p in func.params)
    for stmt in walk(func.body):
        uses.update(a.name for a in stmt_uses(stmt) if isinstance(a, Var))
        if isinstance(stmt, Eqn):
            uses.update(var_names(stmt.params))
        if getattr(stmt, "counter", None) is not None:
            uses[stmt.counter.name] += 1
        defs.update(v.name for v in stmt_defs(stmt))
    uses.update(a.name for a in func.result_atoms() if isinstance(a, Var))
    return uses, defs


def _is_one(atom) -> bool:
    return isinstance(atom, Const) and type(atom.value) in (int, float) and atom.value == 1


def _f64(func: Func, atom) -> ArrayType | None:
    t = func.types.get(atom.name) if isinstance(atom, Var) else None
    return t if isinstance(t, ArrayType) and t.dtype == _F64 else None


def fuse_sigmoid(func: Func) -> int:
    """Rewrite each written-out logistic function in ``func`` into one ``sigmoid``; the count."""
    uses, defs = _counts(func)
    return _block(func.body, func, uses, defs)


def _block(block: Block, func: Func, uses: Counter, defs: Counter) -> int:
    found = 0
    for stmt in block.stmts:
        for child in child_blocks(stmt):
            found += _block(child, func, uses, defs)
    where = {}  # name -> index of its (single) definition in this block
    for pos, stmt in enumerate(block.stmts):
        if isinstance(stmt, Eqn):
            for v in stmt.outs:
                where[v.name] = pos
    drop = set()
    for pos, stmt in enumerate(block.stmts):
        chain = _chain(block, pos, func, uses, defs, where)
        if chain is None:
            continue
        (p_neg, neg), (p_exp, _), (p_add, _) = chain
        if (p_neg, p_exp, p_add) != (pos - 3, pos - 2, pos - 1) or drop & {p_neg, p_exp, p_add}:
            continue  # not adjacent: v might change in between
        block.stmts[pos] = Eqn("sigmoid", (neg.ins[0],), stmt.outs, {}, stmt.loc)
        drop.update((p_neg, p_exp, p_add))
        found += 1
    if drop:
        block.stmts = [s for i, s in enumerate(block.stmts) if i not in drop]
    return found


def _chain(block, pos, func, uses, defs, where):
    """The (position, Eqn) of neg, exp and add feeding ``1 / c`` at ``pos``, or None."""
    div = block.stmts[pos]
    if not (isinstance(div, Eqn) and div.prim == "truediv" and len(div.outs) == 1
            and _is_one(div.ins[0]) and isinstance(div.ins[1], Var)):
        return None
    t = _f64(func, div.outs[0])
    if t is None:
        return None
    links = []
    want = [("add", None), ("exp", 0), ("neg", 0)]
    atom = div.ins[1]
    for prim, arg in want:
        name = atom.name if isinstance(atom, Var) else None
        if name is None or uses[name] != 1 or defs[name] != 1 or name not in where:
            return None
        p = where[name]
        eqn = block.stmts[p]
        if p >= pos or eqn.prim != prim or _f64(func, atom) != t or len(eqn.outs) != 1:
            return None
        if prim == "add":
            if _is_one(eqn.ins[0]):
                atom = eqn.ins[1]
            elif _is_one(eqn.ins[1]):
                atom = eqn.ins[0]
            else:
                return None
        else:
            atom = eqn.ins[arg]
        links.append((p, eqn))
        pos = p
    if _f64(func, atom) != t:  # v: the neg's operand, a variable of the same type
        return None
    add, exp, neg = links
    return neg, exp, add
