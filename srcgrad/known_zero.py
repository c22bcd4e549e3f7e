"""Drop additions to scalars known to hold zero.

The reverse pass keeps a loop's scalar cotangents as variables that start at ``0.0`` before the
reversed loop, are accumulated into (``t_bar = t_bar + g``) and are reset after use
(``t_bar = 0.0``), so that each reversed iteration starts from zero.  Inside an ``if`` in a loop
body that leaves code like::

    t7_bar = t7_bar + s_bar     # t7_bar is 0.0 here, every iteration
    ...
    t7_bar = 0.0

which makes the variable look loop-carried: LLVM keeps it in a register across iterations, and
``loop_order`` cannot prove the iterations independent.  This pass runs a forward dataflow
analysis of which scalar variables certainly hold zero (assigned the constant 0, not reassigned
since, on every path; loops to a fixed point) and rewrites ``v = v + e`` / ``v = e + v`` to
``v = e`` and ``v = v - e`` to ``v = -e`` where ``v`` is known to be zero and ``e`` has ``v``'s
type.  The resets then become dead and ``liveness.prune`` removes them.
"""

from __future__ import annotations

from .ir import Block, Const, Eqn, For, Func, If, Var, While, walk
from .loop_order import defs, jumps
from .types import ArrayType


def propagate_zeros(func: Func) -> int:
    """Rewrite accumulations into known-zero scalars in place; how many were rewritten."""
    pass_ = _KnownZero(func.types)
    pass_.block(func.body, frozenset(), rewrite=True)
    return pass_.rewritten


def _is_zero(atom) -> bool:
    return isinstance(atom, Const) and not isinstance(atom.value, bool) and \
        isinstance(atom.value, (int, float)) and atom.value == 0


def _assigned(block: Block) -> set:
    return {v.name for stmt in walk(block) for v in defs(stmt)}


class _KnownZero:
    def __init__(self, types: dict):
        self.types = types
        self.rewritten = 0

    def scalar(self, name: str) -> bool:
        t = self.types.get(name)
        return isinstance(t, ArrayType) and t.ndim == 0

    def block(self, block: Block, zero: frozenset, rewrite: bool) -> frozenset:
        for stmt in block.stmts:
            zero = self.stmt(stmt, zero, rewrite)
        return zero

    def stmt(self, stmt, zero: frozenset, rewrite: bool) -> frozenset:
        if isinstance(stmt, Eqn):
            if rewrite:
                self.maybe_rewrite(stmt, zero)
            outs = {o.name for o in stmt.outs}
            zero = zero - outs
            if stmt.prim == "copy" and len(stmt.outs) == 1 and _is_zero(stmt.ins[0]) and \
                    self.scalar(stmt.outs[0].name):
                zero = zero | {stmt.outs[0].name}
            return zero
        if isinstance(stmt, If):
            then = self.block(stmt.then, zero, rewrite)
            orelse = self.block(stmt.orelse, zero, rewrite)
            return then & orelse
        if isinstance(stmt, (For, While)):
            return self.loop(stmt, zero, rewrite)
        return zero  # stores change arrays only; break/continue end the path (handled by loop)

    def loop(self, loop, entry: frozenset, rewrite: bool) -> frozenset:
        body = loop.body
        if isinstance(loop, While) or jumps(body):
            head = entry - _assigned(body) - (_assigned(loop.cond_block) if isinstance(loop, While) else set())
        else:
            head = entry - {loop.var.name}
            while True:  # shrinks to the fixed point: zero at entry and after every iteration
                new = head & self.block(body, head, rewrite=False) - {loop.var.name}
                if new == head:
                    break
                head = new
        if isinstance(loop, While):
            self.block(loop.cond_block, head, rewrite)
        self.block(body, head, rewrite)
        return head

    def maybe_rewrite(self, eqn: Eqn, zero: frozenset):
        if eqn.prim not in ("add", "sub") or len(eqn.outs) != 1 or len(eqn.ins) != 2:
            return
        out = eqn.outs[0]
        if out.name not in zero:
            return
        a, b = eqn.ins
        if isinstance(a, Var) and a.name == out.name:
            other, prim = b, ("copy" if eqn.prim == "add" else "neg")
        elif isinstance(b, Var) and b.name == out.name and eqn.prim == "add":
            other, prim = a, "copy"
        else:
            return
        if not isinstance(other, Var) or self.types.get(other.name) != self.types.get(out.name):
            return
        eqn.prim, eqn.ins, eqn.params = prim, (other,), {}
        self.rewritten += 1
