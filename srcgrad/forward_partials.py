"""Partial derivatives computed in the forward sweep, where that saves work in the reverse one.

In a loop, ``y = np.sin(x)`` with ``x`` rewritten every iteration has the adjoint ``g * cos(x)``:
computed there, it needs ``x`` saved for each iteration and one more transcendental per
iteration in the reverse sweep.  Computing ``c = cos(x)`` next to ``sin(x)`` in the forward sweep
costs the same tape entry (``c`` instead of ``x``, which is then often not needed at all), LLVM
merges the two calls into one ``sincos``, and the reverse sweep only multiplies.  (The damped
oscillator of the benchmarks goes from 1.4x to 1.07x the hand-written adjoint with this.)

`hoist` inserts those forward statements and records them on the primitive's statement
(``params["fwd_partials"]``); `substitute` is called by the reverse pass on the statements of an
inlined rule and replaces the rule's own ``cos(x)`` by a read of the forward value.  Only scalar
float inputs assigned inside the loop qualify: for a loop-invariant ``x`` the reverse sweep can
recompute ``cos(x)`` without any tape, and array inputs would trade a recomputation for memory.
"""

from __future__ import annotations

from .ir import Block, Eqn, For, If, Var, While, assigned_names
from .types import ArrayType

# primitive -> the primitive giving its derivative (as its adjoint rule computes it)
PARTIALS = {"sin": "cos", "cos": "sin"}


def hoist(func, names) -> None:
    """Compute the derivative of sin/cos of loop-carried scalars in the forward sweep."""

    def visit(block: Block, loop_assigned):
        out = []
        for stmt in block.stmts:
            if isinstance(stmt, Eqn) and loop_assigned and stmt.prim in PARTIALS and \
                    _qualifies(func, stmt, loop_assigned):
                x = stmt.ins[0]
                partial = PARTIALS[stmt.prim]
                d = Var(names.fresh(f"{partial}_{x.name}"))
                func.types[d.name] = func.types[stmt.outs[0].name]
                out.append(Eqn(partial, (x,), (d,), {}, stmt.loc))
                stmt.params = {**stmt.params, "fwd_partials": ((partial, x.name, d),)}
            elif isinstance(stmt, (For, While)):
                inner = loop_assigned | assigned_names(stmt.body)
                if isinstance(stmt, While):
                    inner |= assigned_names(stmt.cond_block)
                    visit(stmt.cond_block, inner)
                visit(stmt.body, inner)
            elif isinstance(stmt, If):
                visit(stmt.then, loop_assigned)
                visit(stmt.orelse, loop_assigned)
            out.append(stmt)
        block.stmts = out

    visit(func.body, frozenset())


def _qualifies(func, stmt: Eqn, loop_assigned) -> bool:
    x = stmt.ins[0]
    if not isinstance(x, Var) or x.name not in loop_assigned or len(stmt.outs) != 1:
        return False
    t = func.types.get(x.name)
    return isinstance(t, ArrayType) and t.ndim == 0 and t.is_float


def substitute(eqn: Eqn, stmts: list) -> None:
    """In an inlined rule of ``eqn``, read the forward partials instead of recomputing them."""
    partials = eqn.params.get("fwd_partials")
    if not partials:
        return
    for k, s in enumerate(stmts):
        if not (isinstance(s, Eqn) and len(s.ins) == 1 and isinstance(s.ins[0], Var)):
            continue
        for prim, xname, d in partials:
            if s.prim == prim and s.ins[0].name == xname:
                stmts[k] = Eqn("copy", (d,), s.outs, {}, s.loc)
