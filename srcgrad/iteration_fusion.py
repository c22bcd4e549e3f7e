"""Recompute each iteration of a loop whose iterations are independent right before its adjoint.

The adjoint of a loop normally runs in two sweeps: the forward sweep runs every iteration and
saves on tapes what the adjoint will need (values about to be overwritten, rows of scratch
arrays), then the reversed loop pops them back.  For ADBench's GMM (a loop over 10⁴ data points,
each computing ``Qxc = Q_k (x_i - mu_k)`` for every component ``k``) the tapes hold ``n·K·d``
doubles, 20 MB written in one sweep and read back in the other, while the hand-written adjoint
computes each point's forward values and adjoint in one pass, with nothing leaving the cache.

When no iteration reads anything an earlier iteration wrote, the forward sweep's values of
iteration ``i`` can be recomputed just before the reversed loop handles ``i``: this pass puts a
copy of the forward body (its tape pushes included) at the top of the reversed body and deletes
the forward loop::

    for i in range(n):            # deleted                for i in range(n - 1, -1, -1):
        F(i)   # pushes                                         F(i)   # pushes, then
    ...                                             ->          R(i)   # pops the same values
    for i in range(n - 1, -1, -1):
        R(i)   # pops

Each reversed iteration then pops exactly what its own copy pushed (the reversed body mirrors the
forward one), so the tapes hold one iteration's values and stay in cache.  The reversed loop
keeps its order, so the adjoint's own state (accumulated cotangents) evolves as before.

What is checked (anything else leaves the loop alone):

* the loops: the forward loop and its reversed twin stand in the function's top-level block
  (their (line, variable) pair occurs exactly twice there, and once in the user's function);
  neither holds a ``while``, ``break`` or ``continue``;
* independence, on the user's loop: every read of a variable or array the body writes is of a
  value written earlier in the same iteration: a variable assigned unconditionally before the
  read (or a loop variable around it), an array filled completely before the read (a loop
  ``for j in range(0, n, 1): a[j] = ...`` over its allocated length, or two nested ones for a
  2-D array).  Sums aside: a variable read only by ``t = s + e`` (or ``s - e``) with ``t`` read
  only by ``s = t``.  Checked on the user's loop because the generated forward loop has lost the
  statements whose values only the adjoint's recomputations use, and the reversed loop still
  reads what they read;
* the tapes: at least one; arrays allocated before the forward loop, stored into at a counter
  position only in its body and read only in the reversed body, with counters set to 0 before
  the forward loop and changed only by ``+ 1`` in the forward body and ``- 1`` in the reversed
  one; list tapes pushed only in the forward body and popped only in the reversed one.  (Without
  a tape the forward loop is there only for a value, and left alone it may vectorise.);
* the same independence on the generated forward body, where a value may also be read just to
  be pushed on a tape (the old value of an element about to be overwritten): the reversed body
  must not read the copy's value of such a variable;
* nothing else sees the difference: what the copy reads and neither loop writes is not written
  between the two loops; no variable or array the forward loop writes is read after it except by
  the reversed loop (so deleting it changes nothing else), an array's shape included when the
  loop allocates it anew; none written between the loops is read by the reversed body before it
  writes it.  Sums read after the loop (the value of a ``value_and_grad``) stay in the copy,
  which adds the terms in the reversed loop's order, and the equations between the loops that
  compute from them move after the reversed loop (when nothing else reads them and what they
  read keeps its value until then).

The gradient is the same arithmetic in the same order (bit-identical); a value summed in the
copy changes by rounding only.
"""

from __future__ import annotations

import copy

from .ir import (
    Block,
    Break,
    Const,
    Continue,
    Eqn,
    For,
    Func,
    Store,
    Var,
    While,
    assigned_names,
    child_blocks,
    position,
    stmt_defs,
    stmt_reads,
    walk,
    written_names,
)
from .linear_hoist import _chains, _covered
from .passes import EFFECT_PRIMS, INPLACE_PRIMS, _closure, _def_counts, _mark, _sweep, _view_links
from .types import ArrayType

# Statements reading an array only for its shape or type: they see the same array whatever its contents.
_SHAPE_ONLY = {"shape", "len", "zeros_like", "zeros_like_any", "empty_like"}
_ALLOC = {"zeros", "empty"}


def fuse_iterations(func: Func, primal: Func) -> int:
    """Apply the rewrite to every qualifying loop of ``func`` (the generated function built
    from ``primal``), in place; how many."""
    copies, originals = _top_loops(func), _top_loops(primal)
    done = 0
    for key, same in copies.items():
        if len(same) == 2 and len(originals.get(key, ())) == 1 and _independent_primal(primal, originals[key][0]) \
                and _Fusion(func, *same).run():
            done += 1
    return done


def _top_loops(func: Func) -> dict:
    """(loc, var) -> the loops with them, when all stand in the function's top-level block."""
    out: dict = {}
    for loop in walk(func.body):
        if isinstance(loop, For) and loop.loc is not None:
            out.setdefault((loop.loc, loop.var.name), []).append(loop)
    top = {id(s) for s in func.body.stmts}
    return {key: loops for key, loops in out.items() if all(id(s) in top for s in loops)}


def _independent_primal(primal: Func, loop: For) -> bool:
    """Every read in the user's loop body of something the body writes reads a value written
    earlier in the same iteration, sums ``s += ...`` read only by their own additions aside.

    Checked on the primal because the generated forward loop has lost the statements whose
    values only the adjoint's own recomputations use (the terms of the objective's sum), while
    the reversed loop still reads what they read."""
    if any(isinstance(s, (While, Break, Continue)) for s in walk(loop.body)):
        return False
    written = written_names(loop.body.stmts)  # (the loop's variable is set by the loop itself)
    sums = _sums(loop.body)
    for stmt, chain in _chains(loop.body):
        for name in _reads(stmt):
            if name not in written or name in sums:
                continue
            if not (_filled(primal, name, chain) if _is_array(primal, name) else _covered(name, chain)):
                return False
    return True


def _sums(body: Block) -> set:
    """Variables the body reads only in ``t = v + e`` / ``t = v - e`` whose ``t`` is read only by
    ``v = t``, and assigns only that way: no running value of ``v`` reaches anything but ``v``
    itself, so what one iteration adds, no iteration reads."""
    stmts = list(walk(body))
    reads: dict = {}
    defs: dict = {}
    for s in stmts:
        for n in stmt_reads(s):
            reads.setdefault(n, []).append(s)
        for v in stmt_defs(s):
            defs.setdefault(v.name, []).append(s)
    out = set()
    for v, vdefs in defs.items():
        if not all(isinstance(d, Eqn) and d.prim == "copy" and isinstance(d.ins[0], Var) for d in vdefs):
            continue
        adds = reads.get(v, [])
        if not adds or not all(_adds_back(a, v, reads, defs) for a in adds):
            continue
        if all(any(d.ins[0] == a.outs[0] for a in adds) for d in vdefs):
            out.add(v)
    return out


def _adds_back(stmt, v: str, reads: dict, defs: dict) -> bool:
    """``stmt`` is ``t = v + e`` or ``t = v - e`` (``v`` once) and only ``v = t`` reads ``t``."""
    if not (isinstance(stmt, Eqn) and len(stmt.outs) == 1 and stmt.ins.count(Var(v)) == 1 and
            (stmt.prim == "add" or (stmt.prim == "sub" and stmt.ins[0] == Var(v)))):
        return False
    t = stmt.outs[0].name
    readers = reads.get(t, [])
    return len(defs.get(t, [])) == 1 and len(readers) == 1 and isinstance(readers[0], Eqn) and \
        readers[0].prim == "copy" and readers[0].outs == (Var(v),)


def _reads(stmt, rebound=frozenset()) -> list:
    """Names ``stmt`` reads directly: a plain store does not read its target, and a statement
    that only looks at an array's shape does not read the array, unless ``rebound`` names it
    (a loop that allocates the array anew may change its shape)."""
    if isinstance(stmt, Eqn) and stmt.prim in _SHAPE_ONLY:
        return [n for n in stmt_reads(stmt) if n in rebound]
    names = stmt_reads(stmt)
    if isinstance(stmt, Store) and stmt.op is None:
        names.remove(stmt.target.name)
    return names


def _exposed(stmts: list, names: set, rebound=frozenset()) -> set:
    """Those of ``names`` that ``stmts`` read before assigning them (loop variables count as
    assigned inside their loop)."""
    live, out = set(names), set()
    for s in stmts:
        out |= live & set(_reads(s, rebound))
        for child in child_blocks(s):
            inner = live - {s.var.name} if isinstance(s, For) else live
            out |= _exposed(child.stmts, inner, rebound)
        if isinstance(s, Eqn):
            live -= {o.name for o in s.outs}
    return out


class _Fusion:
    def __init__(self, func: Func, fwd: For, rev: For):
        self.func, self.fwd, self.rev = func, fwd, rev
        body = func.body.stmts
        self.a, self.b = position(func.body, fwd), position(func.body, rev)
        self.before, self.between, self.after = body[:self.a], body[self.a + 1:self.b], body[self.b + 1:]
        self.links = _view_links(func)
        self.rev_reads = {n for s in walk(rev.body) for n in stmt_reads(s)}

    def run(self) -> bool:
        if self.a > self.b or any(isinstance(s, (While, Break, Continue)) or (
                isinstance(s, Eqn) and s.prim in ("restore", "restore_item"))
                for loop in (self.fwd, self.rev) for s in walk(loop.body)):
            return False
        self._find_tapes()
        if not self.tapes:
            # no tape: the forward loop is there only for the value (value_and_grad), and left
            # alone it may vectorise; folded into the adjoint's loop, its sum serialises that loop
            # (Rosenbrock's value_and_grad at 10⁶: 1.54 -> 1.91 ms, measured)
            return False
        # sums the code after the loop reads (the value, for value_and_grad): the copy adds
        # into them, and what reads them moves after the reversed loop
        self.sums = _sums(self.fwd.body) - self.tapes - self.counters
        results = {a.name for a in self.func.result_atoms() if isinstance(a, Var)}
        rev_writes = written_names(self.rev.body.stmts)
        self.sums = {v for v in self.sums if v not in self.rev_reads and v not in rev_writes and (
            v in results or _exposed(self.between, {v}) or _exposed(self.after, {v}))}
        copied = Block(copy.deepcopy(self.fwd.body.stmts))
        # the whole forward body is checked: the reversed body mirrors its reads, also those of
        # statements the copy then drops (a sum's terms read from a scratch array)
        if not self._independent(copied):
            return False
        self._prune(copied)
        moved = self._unobserved(copied)
        if moved is None:
            return False
        self.rev.body.stmts[:0] = copied.stmts
        body = self.func.body.stmts
        del body[self.a]
        for stmt in moved:
            del body[position(self.func.body, stmt)]
        k = position(self.func.body, self.rev) + 1
        body[k:k] = moved
        return True

    # -----------------------------------------------------------------------------------------
    # tapes

    def _find_tapes(self) -> None:
        """Sets ``tapes`` and ``counters``: the arrays (and lists) only the forward body pushes
        onto and only the reversed body pops from, and their positions."""
        fwd_stmts, rev_stmts = list(walk(self.fwd.body)), list(walk(self.rev.body))
        fwd_ids, rev_ids = {id(s) for s in fwd_stmts}, {id(s) for s in rev_stmts}
        top_before = {id(s) for s in self.before}
        everything = list(walk(self.func.body))

        def region(s):
            return "fwd" if id(s) in fwd_ids else "rev" if id(s) in rev_ids else (
                "before" if id(s) in top_before else "other")

        counters = {s.outs[0].name for s in fwd_stmts if isinstance(s, Eqn) and s.prim == "add"
                    and s.ins == (s.outs[0], Const(1))}
        for s in everything:
            for v in (o.name for o in (s.outs if isinstance(s, Eqn) else ())):
                if v not in counters:
                    continue
                ok = {"fwd": s.prim == "add" and s.ins == (Var(v), Const(1)),
                      "rev": s.prim == "sub" and s.ins == (Var(v), Const(1)),
                      "before": s.prim == "copy" and s.ins == (Const(0),)}.get(region(s), False)
                if not ok:
                    counters.discard(v)
            if isinstance(s, For) and s.var.name in counters:
                counters.discard(s.var.name)
        for s in everything:  # read only by the loops
            if region(s) not in ("fwd", "rev"):
                counters -= set(_reads(s))
        counters = {c for c in counters
                    if sum(1 for s in self.before if isinstance(s, Eqn) and s.outs == (Var(c),)) == 1}

        tapes = set()
        for s in fwd_stmts:
            if isinstance(s, Store) and s.op is None and s.index and s.index[0] in map(Var, counters):
                tapes.add(s.target.name)
            elif isinstance(s, Eqn) and s.prim == "tape_push":
                tapes.add(s.ins[0].name)
        for tape in list(tapes):
            allocs = [s for s in everything if isinstance(s, Eqn) and any(o.name == tape for o in s.outs)]
            if len(allocs) != 1 or id(allocs[0]) not in top_before or allocs[0].prim not in ("empty", "tape_new"):
                tapes.discard(tape)
                continue
            for s in everything:
                if s is allocs[0] or tape not in stmt_reads(s):
                    continue
                kind = region(s)
                pushed = isinstance(s, Store) and s.target.name == tape and s.op is None and \
                    s.index[0] in map(Var, counters) and s.value != Var(tape)
                pushed = pushed or (isinstance(s, Eqn) and s.prim == "tape_push" and s.ins[0].name == tape)
                popped = (isinstance(s, Eqn) and s.prim == "getitem" and s.ins[0].name == tape
                          and s.params.get("index", ())[:1] in ((Var(c),) for c in counters)) or (
                    isinstance(s, Eqn) and s.prim == "tape_pop" and s.ins[0].name == tape)
                if not ((kind == "fwd" and pushed) or (kind == "rev" and popped)):
                    tapes.discard(tape)
                    break
        # (a store of the forward body into anything else is a write of the copy, checked as such)
        self.tapes, self.counters = tapes, counters

    # -----------------------------------------------------------------------------------------
    # the copy

    def _prune(self, copied: Block) -> None:
        """Drop from the copy what neither the reversed body nor the tapes need."""
        live = set(self.tapes) | set(self.counters) | set(self.sums) | self.rev_reads
        groups = {name: _closure({name}, self.links) - {name} for name in self.links}
        while _mark(copied, live, groups):
            pass
        _sweep(copied, live, groups)

    def _independent(self, copied: Block) -> bool:
        skip = self.tapes | self.counters | {self.fwd.var.name} | self.sums
        written = (written_names(copied.stmts) | written_names(self.rev.body.stmts)) - skip
        if any(_closure({n}, self.links) != {n} for n in written if _is_array(self.func, n)):
            return False  # an array sharing memory with another: not followed
        pushed_only, unchecked = self._pushed_only(copied), set()
        for stmt, chain in _chains(copied):
            names = _reads(stmt)
            if self._is_push(stmt):  # the value pushed: see _pushed_only
                names = [n for n in names if Var(n) != (stmt.value if isinstance(stmt, Store) else stmt.ins[1])]
            if all(n in skip or n not in written or (
                    _filled(self.func, n, chain) if _is_array(self.func, n) else _covered(n, chain)) for n in names):
                continue
            if not (isinstance(stmt, Eqn) and stmt.outs and all(o.name in pushed_only for o in stmt.outs)):
                return False
            unchecked.update(o.name for o in stmt.outs)  # an old value read only to be pushed
        # a variable set (unchecked) only to be pushed: the reversed body must not read the
        # copy's value of it
        for stmt, chain in _chains(self.rev.body):
            if any(n in unchecked and not _covered(n, chain) for n in _reads(stmt)):
                return False
        self.written = written
        return True

    def _is_push(self, stmt) -> bool:
        return (isinstance(stmt, Store) and stmt.target.name in self.tapes and stmt.op is None) or (
            isinstance(stmt, Eqn) and stmt.prim == "tape_push" and stmt.ins[0].name in self.tapes)

    def _pushed_only(self, copied: Block) -> set:
        """Variables the copy reads only as the value of a tape push.

        A push may save a value from before the iteration (the old value of an element about to
        be overwritten, a rotated tape's previous value): the reversed body pops it back, and
        reads what it restores only where the forward body read the variable, after writing it
        (anything else fails the check on the copy's reads)."""
        uses: dict = {}
        for s in walk(copied):
            value = (s.value if isinstance(s, Store) else s.ins[1]) if self._is_push(s) else None
            index = [a.name for a in s.index if isinstance(a, Var)] if isinstance(s, Store) else []
            for n in stmt_reads(s):
                uses.setdefault(n, []).append(Var(n) == value and n not in index)
        return {n for n, flags in uses.items() if all(flags)} - self.tapes - self.counters

    def _unobserved(self, copied: Block):
        """None when code outside the loops could see the difference; else the statements
        between the loops that read the sums (to be moved after the reversed loop)."""
        skip = self.tapes | self.counters
        moved = self._readers_of_sums(copied)
        if moved is None:
            return None
        between = [s for s in self.between if not any(s is m for m in moved)]
        between_writes = _closure(written_names(between), self.links)
        # what the copy reads and neither loop writes keeps the value the forward loop saw
        free = {n for s in walk(copied) for n in _reads(s)} - self.written - skip - {self.fwd.var.name}
        if free & between_writes:
            return None
        fwd_writes = (written_names(self.fwd.body.stmts) | {self.fwd.var.name}) - skip
        fwd_writes = _closure(fwd_writes, self.links) - skip - self.sums
        results = {a.name for a in self.func.result_atoms() if isinstance(a, Var)}
        rebound = assigned_names(self.fwd.body)
        if _exposed(between, fwd_writes, rebound) or _exposed(moved + self.after, fwd_writes, rebound) or \
                fwd_writes & results:
            return None
        # a name both loops' copy writes and code between them rewrites: the reversed body must
        # not read the value from between
        return None if _exposed(self.rev.body.stmts, fwd_writes & between_writes) else moved

    def _readers_of_sums(self, copied: Block):
        """The statements between the loops that compute from the sums (plain equations, read
        by nothing but each other, the code after the reversed loop and the result), or None
        when they cannot move after the reversed loop unchanged."""
        tainted, moved = set(self.sums), []
        for pos, s in enumerate(self.between):
            if not {n for x in walk(Block([s])) for n in stmt_reads(x)} & tainted:
                continue
            if not isinstance(s, Eqn) or s.prim in EFFECT_PRIMS | INPLACE_PRIMS:
                return None
            moved.append((pos, s))
            tainted.update(o.name for o in s.outs)
        loops = written_names(copied.stmts) | written_names(self.rev.body.stmts)
        if tainted & (loops - self.sums) or (tainted - self.sums) & self.rev_reads:
            return None
        stays = [(pos, s) for pos, s in enumerate(self.between) if not any(s is m for _, m in moved)]
        if tainted & written_names([s for _, s in stays]):
            return None
        for pos, s in moved:  # what each reads keeps its value until after the reversed loop
            later = written_names([x for q, x in stays if q > pos])
            if (set(stmt_reads(s)) - tainted) & (later | loops):
                return None
        return [s for _, s in moved]



def _is_array(func: Func, name: str) -> bool:
    t = func.types.get(name)
    return isinstance(t, ArrayType) and t.ndim > 0


def _filled(func: Func, name: str, chain) -> bool:
    """An earlier statement of a block around this place writes every element of ``name``."""
    lengths = _lengths(func, name)
    if lengths is None:
        return False
    for blk, pos in chain:
        if any(_fills(s, name, lengths) for s in blk.stmts[:pos]):
            return True
    return False


def _lengths(func: Func, name: str):
    """The atoms giving the length of each axis of ``name`` when one ``zeros``/``empty`` of a
    shape made of never-reassigned variables or constants allocates it; else None."""
    defs = [s for s in walk(func.body) if isinstance(s, Eqn) and any(o.name == name for o in s.outs)]
    if len(defs) != 1 or defs[0].prim not in _ALLOC or name in {p.name for p in func.params}:
        return None
    shape = defs[0].ins[0]
    if isinstance(shape, Const) or isinstance(func.types.get(shape.name), ArrayType):
        atoms = (shape,)
    else:
        tup = [s for s in walk(func.body) if isinstance(s, Eqn) and s.outs == (shape,)]
        if len(tup) != 1 or tup[0].prim != "tuple":
            return None
        atoms = tup[0].ins
    counts = _def_counts(func)
    if any(isinstance(a, Var) and counts.get(a.name, 0) != 1 for a in atoms):
        return None
    return tuple(atoms)


def _fills(stmt, name: str, lengths: tuple, depth: int = 0, loop_vars: tuple = ()) -> bool:
    """``stmt`` is a nest of loops over the whole of each axis storing into every element."""
    if not isinstance(stmt, For) or depth >= len(lengths):
        return False
    if stmt.start != Const(0) or stmt.step != Const(1) or stmt.stop != lengths[depth]:
        return False
    loop_vars = loop_vars + (stmt.var,)
    if any(v in loop_vars for s in walk(stmt.body) for v in (s.outs if isinstance(s, Eqn) else ())):
        return False
    for s in stmt.body.stmts:
        if depth == len(lengths) - 1 and isinstance(s, Store) and s.target.name == name and s.op is None \
                and tuple(s.index) == loop_vars:
            return True
        if depth < len(lengths) - 1 and _fills(s, name, lengths, depth + 1, loop_vars):
            return True
    return False
