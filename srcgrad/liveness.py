"""Flow-sensitive dead-assignment elimination for generated code.

``passes.dce`` is mark and sweep over names: a variable read anywhere keeps every assignment to
it.  The adjoint sweep assigns the same names many times (``x_bar = zeros_like(x)`` after each
use, then ``x_bar = ...`` again in the next reversed iteration; ``x = tape.pop()`` to restore a
value nothing reads afterwards), so most of those assignments are dead at their point even
though the name is live elsewhere.  This pass computes liveness over the structured IR (loops
to a fixed point, ``break``/``continue`` included), deletes assignments whose results are dead
where they are made, and then deletes list tapes none of whose restored values is read (their
pushes, pops and creation), repeating until nothing changes.

Why it matters: every dead reset reads the primal value for its shape, and every such read made
the tape pass save that value for each iteration.  Dropping them removes the tapes themselves,
and with them most of the statements numba has to compile.
"""

from __future__ import annotations

from .ir import Block, Break, Continue, Eqn, For, Func, If, Store, Var, While, child_blocks, var_names

# Statements kept whatever their outputs: tapes (handled below), in-place updates, markers.
_EFFECTS = {"tape_push", "tape_new", "restore", "restore_item", "iadd", "unique_index"}




def _uses(stmt) -> set:
    names: set = set()
    if isinstance(stmt, Eqn):
        names.update(var_names(list(stmt.ins)))
        names.update(var_names(stmt.params))
    elif isinstance(stmt, Store):
        names.update(var_names([stmt.target, stmt.value, *stmt.index]))
    elif isinstance(stmt, If):
        names.update(var_names(stmt.cond))
    elif isinstance(stmt, For):
        names.update(var_names([stmt.start, stmt.stop, stmt.step]))
    elif isinstance(stmt, While):
        names.update(var_names(stmt.cond))
    return names


class _Liveness:
    """Backward liveness; with ``dead`` set, records removable assignments as it goes."""

    def __init__(self):
        self.dead: set | None = None  # ids of dead Eqns, filled on the recording pass
        self.dead_pops: dict = {}  # tape name -> [all pops dead so far?]

    def block(self, block: Block, live: frozenset, brk, cont) -> frozenset:
        for stmt in reversed(block.stmts):
            live = self.stmt(stmt, live, brk, cont)
        return live

    def stmt(self, stmt, live: frozenset, brk, cont) -> frozenset:
        if isinstance(stmt, Break):
            return brk
        if isinstance(stmt, Continue):
            return cont
        if isinstance(stmt, Eqn):
            outs = {o.name for o in stmt.outs}
            if stmt.prim == "tape_pop":
                if self.dead is not None:
                    flags = self.dead_pops.setdefault(stmt.ins[0].name, [True])
                    flags[0] &= not (outs & live)
                return (live - outs) | _uses(stmt)
            if stmt.prim not in _EFFECTS and outs and not (outs & live):
                if self.dead is not None:
                    self.dead.add(id(stmt))
                return live
            return (live - outs) | _uses(stmt)
        if isinstance(stmt, Store):
            return live | _uses(stmt)
        if isinstance(stmt, If):
            then = self.block(stmt.then, live, brk, cont)
            orelse = self.block(stmt.orelse, live, brk, cont)
            return then | orelse | _uses(stmt)
        if isinstance(stmt, For):
            return self.loop_for(stmt, live)
        if isinstance(stmt, While):
            return self.loop_while(stmt, live)
        return live

    def loop_for(self, loop: For, out: frozenset) -> frozenset:
        var = loop.var.name
        head = out
        recording, self.dead = self.dead, None
        while True:  # head: live where the next iteration may start (or the loop ends)
            body_in = self.block(loop.body, head, out, head)
            new = out | (body_in - {var})
            if new == head:
                break
            head = new
        self.dead = recording
        if recording is not None:
            self.block(loop.body, head, out, head)
        return head | _uses(loop)

    def loop_while(self, loop: While, out: frozenset) -> frozenset:
        head = out
        recording, self.dead = self.dead, None
        while True:
            body_in = self.block(loop.body, head, out, head)
            new = self.block(loop.cond_block, out | body_in | _uses(loop), out, head)
            if new == head:
                break
            head = new
        self.dead = recording
        if recording is not None:
            body_in = self.block(loop.body, head, out, head)
            self.block(loop.cond_block, out | body_in | _uses(loop), out, head)
        return head


def _remove(block: Block, drop) -> bool:
    changed = False
    kept = []
    for stmt in block.stmts:
        if drop(stmt):
            changed = True
            continue
        for child in child_blocks(stmt):
            changed |= _remove(child, drop)
        if isinstance(stmt, If) and not stmt.then.stmts and not stmt.orelse.stmts:
            changed = True  # nothing left to choose between
            continue
        kept.append(stmt)
    block.stmts = kept
    return changed


def prune(func: Func) -> Func:
    """Delete dead assignments and unread list tapes, to a fixed point."""
    result = frozenset(a.name for a in func.result_atoms() if isinstance(a, Var))
    while True:
        live = _Liveness()
        live.dead = set()
        live.block(func.body, result, frozenset(), frozenset())
        dead_tapes = {name for name, flags in live.dead_pops.items() if flags[0]}

        def drop(stmt, dead=live.dead, tapes=dead_tapes):
            if not isinstance(stmt, Eqn):
                return False
            if id(stmt) in dead:
                return True
            if stmt.prim in ("tape_push", "tape_pop"):
                return stmt.ins[0].name in tapes
            return stmt.prim == "tape_new" and stmt.outs[0].name in tapes

        if not _remove(func.body, drop):
            return func
