"""Recompute values defined inside an ``if`` in a loop body, at the top of the mirror branch.

`tape.py` recomputes cheap pure values defined directly in a ``for`` body (``a = x[i]``) at the
top of the reversed body instead of taping them.  A value defined inside a branch of that body
cannot go there: when the branch is not taken the value is stale.  But when every read of the
value comes after its definition *in the same branch*, every read the adjoint makes of it is
in the mirror branch of the reversed body, which runs exactly when the forward branch ran; the
value can be recomputed at the top of that mirror branch from what it was computed from, as
long as those inputs are not changed by the loop (arguments, values from before the loop, the
loop variable) or are themselves recomputable values of the same branch.  Before this, a loop
like ``if x[i] > 0: s += x[i] * x[i]`` taped ``x[i]`` twice per iteration.
"""

from __future__ import annotations

from .ir import Block, Eqn, For, If, Var, position


def _tape():
    """tape.py (imported late: it imports this module)."""
    from . import tape

    return tape


class BranchRecompute:
    """The branch-local values a `tape._Saver` recomputes instead of taping."""

    def __init__(self, saver):
        self.saver = saver
        self.planned: dict = {}  # id(forward branch block) -> [Eqns to re-run, in forward order]
        self.order: dict = {}  # id(Eqn) -> position in its forward block
        self._memo: dict = {}

    def plan(self, site) -> bool:
        """Schedule ``site``'s value for recomputation if that is valid; say whether it was."""
        stmt, loops = site.stmt, site.loops
        if not loops or not isinstance(stmt, Eqn) or not isinstance(loops[-1], For):
            return False
        loop = loops[-1]
        if site.block is loop.body or not _under_ifs(loop.body, site.block):
            return False
        if id(site.block) not in self.saver.rev.rev_branches:
            return False
        if not self._pure(loop, site.block, stmt, frozenset()):
            return False
        self._schedule(loop, site.block, stmt)
        return True

    def eqns(self) -> list:
        return [e for todo in self.planned.values() for e in todo]

    def insert(self, rev, names) -> list:
        """Put the planned statements at the top of each mirror branch; return, for each mirror,
        (the mirror, old name -> fresh Var, the statements): the caller renames (tape.py), once
        every recomputation is in place."""
        renames = []
        for block_id, todo in self.planned.items():
            mirror = rev.rev_branches[block_id]
            mapping = {e.outs[0].name: Var(names.fresh(f"{e.outs[0].name}_r")) for e in todo}
            mirror.stmts[:0] = sorted(todo, key=lambda e: self.order[id(e)])
            renames.append((mirror, mapping, todo))
        return renames

    # -----------------------------------------------------------------------------------------

    def _pure(self, loop: For, block: Block, stmt: Eqn, seen: frozenset) -> bool:
        tape, saver = _tape(), self.saver
        if stmt.prim not in tape.RECOMPUTABLE or len(stmt.outs) != 1:
            return False
        out = stmt.outs[0].name
        if saver.def_counts.get(out) != 1 or out in seen:
            return False
        key = (id(block), out)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = False
        if saver.rerun.reads_stale(stmt):
            return False
        pos = position(block, stmt)
        if saver._reads(saver.func.body, out) != saver._reads(Block(block.stmts[pos + 1:]), out):
            return False  # read elsewhere: outside the branch, or before this definition
        modified = saver._modified(loop)
        for a in tape._all_uses(stmt):
            if not isinstance(a, Var) or a.name not in modified:
                continue
            dep = _definition(block, pos, a.name)
            if dep is None or not self._pure(loop, block, dep, seen | {out}):
                return False
        self._memo[key] = True
        return True

    def _schedule(self, loop: For, block: Block, stmt: Eqn) -> None:
        tape = _tape()
        todo = self.planned.setdefault(id(block), [])
        if any(e.outs[0].name == stmt.outs[0].name for e in todo):
            return
        pos = position(block, stmt)
        modified = self.saver._modified(loop)
        for a in tape._all_uses(stmt):
            if isinstance(a, Var) and a.name in modified:
                self._schedule(loop, block, _definition(block, pos, a.name))
        todo.append(Eqn(stmt.prim, stmt.ins, stmt.outs, dict(stmt.params), stmt.loc))
        self.order[id(todo[-1])] = pos


def _definition(block: Block, pos: int, name: str):
    """The Eqn before ``pos`` in ``block`` (top level) that assigns ``name``, if any."""
    for s in reversed(block.stmts[:pos]):
        if isinstance(s, Eqn) and any(o.name == name for o in s.outs):
            return s
    return None


def _under_ifs(body: Block, target: Block) -> bool:
    """Is ``target`` a branch of an ``if`` nested (through ifs only) in ``body``?"""
    for stmt in body.stmts:
        if isinstance(stmt, If):
            for branch in (stmt.then, stmt.orelse):
                if branch is target or _under_ifs(branch, target):
                    return True
    return False
