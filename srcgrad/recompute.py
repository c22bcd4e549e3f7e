"""Per-iteration recomputation of work arrays that a loop body rewrites before reading.

A typical loop program keeps scratch arrays allocated once, outside a loop, and rewritten in
every iteration before they are read::

    xc = np.zeros(d)
    for i in range(n):              # the loop ``L``
        for j in range(d):          # covers all of xc: xc[0..d-1] written, unconditionally
            xc[j] = x[i, j] - mu[j]
        for j in range(d):
            acc += xc[j] * xc[j]

The overwrites of ``xc`` are overwrite sites, and without this module every old element would
be pushed on a tape in the forward sweep and popped in the adjoint.  Nothing of ``xc`` survives
from one iteration to the next, though, so the adjoint can rebuild it instead: at the top of the
reversed body of ``L`` it re-runs the statements of the forward body that write ``xc`` (and the
values they need, a *slice* of the body) and drops every save/restore of ``xc``.

The module proves, conservatively, that the re-run yields the values the forward iteration
ended with, else leaves the loop to the tapes:

* the array (1-D, allocated once by zeros/empty/ones outside ``L``) is used only inside ``L``,
  only element by element (no views, no whole-array operations);
* the first statement of ``L``'s body touching it is a ``for j in range(0, size, 1)`` over the
  allocation's own size whose body stores ``a[j] = ...`` at its top level (no break/continue);
* the slice is cheap arithmetic (`tape.RECOMPUTABLE`: no exp, sin, ... to evaluate twice);
* the slice writes nothing that the rest of ``L``'s body writes (loop counters read only inside
  their loops aside), and reads only values ``L`` does not modify, ``L``'s counter, and values
  it has assigned (or array elements it has covered) earlier in the same iteration.

An array whose rebuild would run a loop nest (GMM's ``qxcentered = Q_k (x_i - mu_k)``: O(d^2)
work per iteration) is saved instead, once per iteration: its final values go to a row of a
preallocated ``(iterations, size)`` array at the end of the forward iteration and are copied back
at the top of the reversed one (memory: iterations x size x 8 bytes; GMM 2.0x -> 1.6x the
hand-written adjoint).  That needs the iteration count before the outermost loop
(`tape_sizes.capacity`); otherwise, or when the other arrays' rebuild would read it, everything
is rebuilt.

The adjoint must then read such an array only at the mirror of statements after its last writer
(the rebuilt array holds the iteration's final values, and is not restored): an element read
before the last write is never recomputed in the adjoint (`reads_stale`), the tape keeps the
scalar read instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from .ir import Block, Break, Const, Continue, Eqn, For, Func, If, Store, Var, While, stmt_defs, walk, written_names
from .types import ArrayType

_ALLOC = {"zeros", "empty", "ones"}


def _recomputable() -> set:
    from .tape import RECOMPUTABLE

    return RECOMPUTABLE


def _reads(stmt) -> list:
    from .tape import _all_uses

    return [a.name for a in _all_uses(stmt) if isinstance(a, Var)]


@dataclass
class Plan:
    loop: For
    arrays: set  # the iteration-local arrays
    slice_: list  # clean copies of the body statements that rebuild them, in order
    free: set  # names the slice reads that the loop does not modify
    last_writer: dict  # array -> index of its last writing statement in the body
    position: dict  # id(stmt nested in the body) -> index of its top-level statement
    active: bool = False  # set once the adjoint needs one of the arrays
    snap: set = None  # arrays saved once per iteration instead of rebuilt (costly to rebuild)
    rest_slice: list = None  # the slice rebuilding the other arrays
    sizes: dict = None  # array -> its allocation size atom


class IterationRerun:
    """Finds the plans of a primal `Func` (before tapes are inserted) and applies them."""

    def __init__(self, func: Func):
        self.func = func
        self.plans: list = []
        self.by_array: dict = {}
        from .checkpointing import segment_loops

        if segment_loops(func):
            return
        self.def_counts: dict = {}
        for s in walk(func.body):
            for v in stmt_defs(s):
                self.def_counts[v.name] = self.def_counts.get(v.name, 0) + 1
        for loop in [s for s in walk(func.body) if isinstance(s, For)]:
            plan = self._plan(loop)
            if plan is not None:
                self.plans.append(plan)
                for a in plan.arrays:
                    self.by_array[a] = plan

    # -- analysis ------------------------------------------------------------------------
    def _allocation(self, name: str):
        if self.def_counts.get(name) != 1:
            return None
        t = self.func.types.get(name)
        if not (isinstance(t, ArrayType) and t.ndim == 1):
            return None
        alloc = next(s for s in walk(self.func.body) if isinstance(s, Eqn) and
                     any(o.name == name for o in s.outs))
        if alloc.prim not in _ALLOC or len(alloc.ins) != 1:
            return None
        size = alloc.ins[0]
        if isinstance(size, Var):
            st = self.func.types.get(size.name)
            if not (isinstance(st, ArrayType) and st.ndim == 0) or \
                    self.def_counts.get(size.name, 0) > 1:
                return None
        return alloc, size

    def _elementwise_only(self, name: str, loop: For, alloc) -> bool:
        """Every use of ``name`` but its allocation is an element read or store inside ``loop``."""
        inside = {id(s) for s in walk(loop.body)}
        for s in walk(self.func.body):
            if s is alloc or name not in _reads(s) and not (
                    isinstance(s, Store) and s.target.name == name):
                continue
            if id(s) not in inside:
                return False
            if isinstance(s, Store):
                if s.target.name != name or len(s.index) != 1 or \
                        not isinstance(s.index[0], (Var, Const)) or \
                        any(isinstance(a, Var) and a.name == name for a in (s.value, *s.index)):
                    return False
            elif not (isinstance(s, Eqn) and s.prim == "getitem" and s.ins[0] == Var(name) and
                      name not in [a.name for a in s.ins[1:] if isinstance(a, Var)] and
                      len(s.params["index"]) == 1 and
                      isinstance(s.params["index"][0], (Var, Const))):
                return False
        if any(isinstance(a, Var) and a.name == name for a in self.func.result_atoms()):
            return False
        return True

    @staticmethod
    def _covers(stmt, name: str, size) -> bool:
        if not (isinstance(stmt, For) and isinstance(stmt.start, Const) and stmt.start.value == 0
                and isinstance(stmt.step, Const) and stmt.step.value == 1 and stmt.stop == size):
            return False
        if any(isinstance(s, (Break, Continue, While)) for s in walk(stmt.body)):
            return False
        return any(isinstance(s, Store) and s.target.name == name and s.op is None and
                   s.index == (stmt.var,) for s in stmt.body.stmts)

    def _plan(self, loop: For):
        body = loop.body.stmts
        if any(isinstance(s, (Break, Continue, While)) for s in walk(loop.body)):
            return None
        arrays, sizes = set(), {}
        written = written_names(body)
        for name in written:
            found = self._allocation(name)
            if found is None or not self._elementwise_only(name, loop, found[0]):
                continue
            first = next(s for s in body if name in written_names([s]) or
                         any(name in _reads(x) for x in walk(Block([s]))))
            if self._covers(first, name, found[1]):
                arrays.add(name)
                sizes[name] = found[1]
        if not arrays:
            return None
        modified = written - {loop.var.name}
        chosen = self._select(loop, arrays, sizes, modified)
        if chosen is None:
            return None
        sliced = [body[k] for k in sorted(chosen)]
        if any(isinstance(s, Eqn) and s.prim not in _recomputable() for s in walk(Block(sliced))):
            return None  # costlier to re-run (exp, sin, ...) than to tape the old elements
        rest = [s for k, s in enumerate(body) if k not in chosen]
        clash = written_names(sliced) & written_names(rest)
        if any(not self._counter_only(name) for name in clash):
            return None
        position = {}
        for k, s in enumerate(body):
            for x in walk(Block([s])):
                position[id(x)] = k
        last = {a: max(k for k in chosen if a in written_names([body[k]])) for a in arrays}
        plan = Plan(loop, arrays, copy.deepcopy(sliced), _free(sliced, modified), last, position,
                    sizes=sizes)
        self._plan_snapshots(plan, chosen, modified)
        return plan

    def _select(self, loop: For, arrays: set, sizes: dict, modified: set):
        """Indices of the body statements that rebuild ``arrays`` (their writers and the
        loop-modified values they read, transitively), or None."""
        body = loop.body.stmts
        chosen = {k for k, s in enumerate(body) if written_names([s]) & arrays}
        while True:  # add the statements assigning loop-modified values the slice reads first
            sliced = [body[k] for k in sorted(chosen)]
            missing: set = set()
            if not self._ordered(sliced, set(), set(), modified, arrays, sizes, loop, missing):
                return None
            more = {k for k, s in enumerate(body) if written_names([s]) & missing} - chosen
            if not missing:
                return chosen
            if not more:
                return None
            chosen |= more

    def _plan_snapshots(self, plan: Plan, chosen: set, modified: set) -> None:
        """Arrays whose rebuild runs a loop nest (GMM's ``Q (x - mu)``, O(d^2) per iteration)
        are saved once per iteration instead: a row of a preallocated (iterations, size) array
        holding the final values, copied back at the top of the reversed iteration.  The others
        are still rebuilt, from a slice that must not touch the saved arrays."""
        body = plan.loop.body.stmts
        costly = {a for a in plan.arrays
                  if any(_loop_depth(body[k]) >= 2 for k in chosen if a in written_names([body[k]]))}
        if not costly:
            return
        loops = _enclosing_loops(self.func.body, plan.loop)
        if loops is None:
            return
        inside = {id(x) for x in walk(Block([loops[0]]))}
        if any(id(self._allocation(a)[0]) in inside for a in costly):
            return  # its size must be known before the outermost loop
        rest = plan.arrays - costly
        keep = self._select(plan.loop, rest, plan.sizes, modified) if rest else set()
        if keep is None or any(written_names([body[k]]) & costly for k in keep):
            return
        if any(a in _reads(x) for k in keep for x in walk(Block([body[k]])) for a in costly):
            return
        kept = [body[k] for k in sorted(keep)]
        plan.snap, plan.rest_slice = costly, copy.deepcopy(kept)

    def _counter_only(self, name: str) -> bool:
        """``name`` is only ever a ``for`` counter, read only inside loops it counts."""
        def visit(block, bound):
            for s in block.stmts:
                if isinstance(s, Eqn) and any(o.name == name for o in s.outs):
                    return False
                if name in _reads(s) and name not in bound:
                    return False
                for child in ([s.body] if isinstance(s, For) else
                              [s.then, s.orelse] if isinstance(s, If) else
                              [s.cond_block, s.body] if isinstance(s, While) else []):
                    inner = bound | {name} if isinstance(s, For) and s.var.name == name else bound
                    if not visit(child, inner):
                        return False
            return True

        return visit(self.func.body, frozenset()) and \
            not any(isinstance(a, Var) and a.name == name for a in self.func.result_atoms())

    def _ordered(self, stmts, assigned: set, covered: set, modified, arrays, sizes, loop,
                 missing: set) -> bool:
        """Each read in ``stmts`` sees a value the loop does not modify, the loop counter, or one
        assigned (an array element covered) earlier in the iteration, else its name goes to
        ``missing``; False if a statement cannot be re-run (a store to another array, a jump)."""
        def ok_name(n):
            if n not in modified or n == loop.var.name or n in assigned or \
                    (n in arrays and n in covered):
                return True
            if n in arrays:
                return False
            missing.add(n)
            return True

        for s in stmts:
            if isinstance(s, (Break, Continue, While)):
                return False
            if isinstance(s, Eqn):
                if not all(ok_name(n) for n in _reads(s)):
                    return False
                assigned.update(o.name for o in s.outs)
            elif isinstance(s, Store):
                reads = [n for n in _reads(s) if n != s.target.name or s.op is not None]
                if s.target.name not in arrays or not all(ok_name(n) for n in reads):
                    return False
            elif isinstance(s, For):
                if not all(ok_name(n) for n in _reads(s)):
                    return False
                if not self._ordered(s.body.stmts, assigned | {s.var.name}, set(covered),
                                     modified, arrays, sizes, loop, missing):
                    return False
                covered.update(a for a in arrays if self._covers(s, a, sizes[a]))
            elif isinstance(s, If):
                if not ok_name(s.cond.name if isinstance(s.cond, Var) else ""):
                    return False
                a1, a2 = set(assigned), set(assigned)
                if not (self._ordered(s.then.stmts, a1, set(covered), modified, arrays, sizes, loop,
                                      missing) and
                        self._ordered(s.orelse.stmts, a2, set(covered), modified, arrays, sizes,
                                      loop, missing)):
                    return False
                assigned |= a1 & a2
        return True

    # -- hooks for the tape pass -------------------------------------------------------------
    def skip(self, site) -> bool:
        """A store into an iteration-local array: no save; its loop's plan becomes active."""
        stmt = site.stmt
        if not isinstance(stmt, Store):
            return False
        plan = self.by_array.get(stmt.target.name)
        if plan is None or not any(lp is plan.loop for lp in site.loops):
            return False
        plan.active = True
        return True

    def reads_stale(self, stmt) -> bool:
        """``stmt`` reads an iteration-local array before that array's last write in the
        iteration: the adjoint must not re-read it (the array is not restored)."""
        if not (isinstance(stmt, Eqn) and stmt.prim == "getitem" and isinstance(stmt.ins[0], Var)):
            return False
        plan = self.by_array.get(stmt.ins[0].name)
        if plan is None:
            return False
        k = plan.position.get(id(stmt))
        return k is None or k <= plan.last_writer[stmt.ins[0].name]

    def needed(self) -> set:
        """Values the active plans' re-runs read: the adjoint must find them restored."""
        names = set()
        for plan in self.plans:
            if plan.active:
                names |= plan.free  # also when rows are saved: the fallback rebuilds all
        return names

    def insert(self, rev, saver) -> None:
        """Put each active plan's slice at the top of its loop's reversed body (saved arrays:
        their rows copied back first)."""
        for plan in self.plans:
            if not plan.active:
                continue
            body = rev.rev_loops[id(plan.loop)]
            restore = self._snapshot(plan, saver) if plan.snap else None
            if restore is None:
                body.stmts[:0] = copy.deepcopy(plan.slice_)
            else:
                body.stmts[:0] = restore + copy.deepcopy(plan.rest_slice)

    def _snapshot(self, plan: Plan, saver):
        """Statements saving the ``snap`` arrays at the end of each forward iteration; returns
        those restoring them in the reversed iteration, or None when the number of iterations
        is not known before the outermost loop (then the arrays are rebuilt)."""
        from .tape import Site
        from .tape_sizes import capacity

        loops = _enclosing_loops(self.func.body, plan.loop)
        if loops is None:
            return None
        site = Site(None, "", plan.loop.body, loops, None)
        total = capacity(saver, site, ArrayType("float64"))
        if total is None:
            return None
        fresh, loc = saver.names.fresh, plan.loop.loc
        pos = Var(fresh("pos_rows"))
        setup, save, restore = [Eqn("copy", (Const(0),), (pos,), {}, loc)], [], [
            Eqn("sub", (pos, Const(1)), (pos,), {}, loc)]
        for name in sorted(plan.snap):
            size, dtype = plan.sizes[name], self.func.types[name].dtype
            shape, tape = Var(fresh("rows_shape")), Var(fresh(f"rows_{name}"))
            setup += [Eqn("tuple", (total, size), (shape,), {}, loc),
                      Eqn("empty", (shape,), (tape,), {"dtype": dtype}, loc)]
            j, v = Var(fresh("j")), Var(fresh(f"{name}_j"))
            save.append(For(j, Const(0), size, Const(1), Block([
                Eqn("getitem", (Var(name), j), (v,), {"index": (j,)}, loc),
                Store(tape, (pos, j), v, None, loc)]), loc))
            j, v = Var(fresh("j")), Var(fresh(f"{name}_j"))
            restore.append(For(j, Const(0), size, Const(1), Block([
                Eqn("getitem", (tape, pos, j), (v,), {"index": (pos, j)}, loc),
                Store(Var(name), (j,), v, None, loc)]), loc))
        save.append(Eqn("add", (pos, Const(1)), (pos,), {}, loc))
        outer = loops[0]
        block = saver.loop_blocks[id(outer)]
        k = next(i for i, st in enumerate(block.stmts) if st is outer)
        block.stmts[k:k] = setup
        plan.loop.body.stmts.extend(save)
        return restore


def _free(stmts: list, modified: set) -> set:
    free = set()
    for s in walk(Block(list(stmts))):
        free.update(_reads(s))
    return free - modified


def _loop_depth(stmt) -> int:
    if isinstance(stmt, For):
        return 1 + max((_loop_depth(s) for s in stmt.body.stmts), default=0)
    if isinstance(stmt, If):
        return max((_loop_depth(s) for s in stmt.then.stmts + stmt.orelse.stmts), default=0)
    return 0


def _enclosing_loops(block: Block, target: For, outer: tuple = ()):
    """The loops around ``target`` (outermost first, ``target`` last), or None."""
    for stmt in block.stmts:
        if stmt is target:
            return outer + (target,)
        if isinstance(stmt, For):
            found = _enclosing_loops(stmt.body, target, outer + (stmt,))
        elif isinstance(stmt, If):
            found = _enclosing_loops(stmt.then, target, outer) or _enclosing_loops(stmt.orelse, target, outer)
        elif isinstance(stmt, While):
            found = None if not any(s is target for s in walk(stmt.body)) else ()
        else:
            continue
        if found is not None:
            return found or None
    return None

