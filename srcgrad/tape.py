"""What the forward sweep records for the adjoint, and where: saves, tapes, recomputation.

An *overwrite site* is a statement that assigns a variable (or array element) that may already
hold a value: any assignment inside a loop, or a second assignment at the top level.  The
reverse pass leaves a ``restore`` marker at the mirror image of each site; once the adjoint is
built, `insert_saves` keeps only the markers of values the adjoint actually reads ("needed"),
and for each one either

* recomputes the value at the start of the reversed loop body, when it is a cheap pure function
  of values the loop does not modify (``a = x[i]`` over an input ``x``): no tape at all, or
* saves it before the overwrite (a local variable outside loops, a typed tape inside loops) and
  restores it at the marker.
"""

from __future__ import annotations

from dataclasses import dataclass

from .branch_recompute import BranchRecompute
from .ir import (
    Block,
    Const,
    Eqn,
    For,
    Func,
    If,
    Slice,
    Store,
    Var,
    While,
    child_blocks,
    for_vars_read_outside,
    index_atoms,
    stmt_defs,
    stmt_uses,
    walk,
)
from .passes import INPLACE_PRIMS, _substitute
from .recompute import IterationRerun
from .tape_sizes import capacity
from .types import ArrayType

# Pure and cheap enough to recompute in the adjoint instead of taping.
RECOMPUTABLE = {"getitem", "add", "sub", "mul", "neg", "pos", "copy", "truediv", "floordiv",
                "mod", "lt", "le", "gt", "ge", "eq", "ne", "and_", "or_", "not_", "to_float",
                "abs", "maximum", "minimum", "len", "shape", "unpack"}


@dataclass
class Site:
    stmt: object
    var: str
    block: Block  # the forward block holding stmt
    loops: tuple  # enclosing loops, outermost first
    init: tuple | None  # (outermost loop, its block) when the var needs an initial value

    def __repr__(self) -> str:  # keeps IR dumps short
        return f"<site {self.var}>"


def overwrite_sites(func: Func) -> dict:
    """(id(stmt), name) -> Site for every statement that may overwrite a value."""
    sites: dict = {}
    loop_entry: dict = {}  # id(outermost loop) -> names possibly defined at its entry
    restored_vars = for_vars_read_outside(func.body)

    def visit(block: Block, defined: set, loops: tuple) -> set:
        for stmt in block.stmts:
            if isinstance(stmt, Eqn):
                for v in stmt.outs:
                    if v.name in defined or loops:
                        init = None
                        if loops and v.name not in loop_entry[id(loops[0])]:
                            init = loop_entry[("block", id(loops[0]))]
                            init = (loops[0], init)
                        sites[(id(stmt), v.name)] = Site(stmt, v.name, block, loops, init)
                    defined.add(v.name)
            elif isinstance(stmt, Store):
                sites[(id(stmt), stmt.target.name)] = Site(stmt, stmt.target.name, block, loops,
                                                           None)
            elif isinstance(stmt, If):
                d1 = visit(stmt.then, set(defined), loops)
                d2 = visit(stmt.orelse, set(defined), loops)
                defined |= d1 | d2
            elif isinstance(stmt, (For, While)):
                if not loops:
                    loop_entry[id(stmt)] = set(defined)
                    loop_entry[("block", id(stmt))] = block
                if isinstance(stmt, For):
                    name = stmt.var.name
                    if name in restored_vars and (name in defined or loops):
                        init = None
                        if loops and name not in loop_entry[id(loops[0])]:
                            init = (loops[0], loop_entry[("block", id(loops[0]))])
                        sites[(id(stmt), name)] = Site(stmt, name, block, loops, init)
                    defined.add(name)
                inner = set(defined)
                for child in child_blocks(stmt):
                    inner = visit(child, inner, loops + (stmt,))
                defined |= inner
        return defined

    visit(func.body, {p.name for p in func.params}, ())
    return sites


def _adjoint_uses(block: Block) -> set:
    names = set()
    for stmt in walk(block):
        for a in stmt_uses(stmt):
            if isinstance(a, Var):
                names.add(a.name)
    return names


def _insert_before(block: Block, stmt, new: list):
    for i, s in enumerate(block.stmts):
        if s is stmt:
            block.stmts[i:i] = new
            return
    raise AssertionError("statement not found in its block")


def _modified_in(loop) -> set:
    names = set()
    for stmt in walk(Block([loop])):
        names.update(v.name for v in stmt_defs(stmt))
        if isinstance(stmt, Store):
            names.add(stmt.target.name)
    return names


def _all_uses(stmt) -> list:
    """Atoms a statement reads, slice bounds of an index included."""
    atoms = list(stmt_uses(stmt))
    if isinstance(stmt, Eqn) and "index" in stmt.params:
        for item in stmt.params["index"]:
            if isinstance(item, Slice):
                atoms.extend(a for a in item.atoms() if a not in atoms)
    return atoms


def _def_count(func: Func) -> dict:
    counts: dict = {}
    for stmt in walk(func.body):
        for v in stmt_defs(stmt):
            counts[v.name] = counts.get(v.name, 0) + 1
    return counts


def _view_bases(func: Func) -> dict:
    """view name -> the array it may share memory with (basic slices, array copies)."""
    from .stores import may_view

    views = {}
    for stmt in walk(func.body):
        if isinstance(stmt, Eqn) and stmt.ins and isinstance(stmt.ins[0], Var) and \
                may_view(func, stmt):
            views[stmt.outs[0].name] = stmt.ins[0].name
    return views


class _Saver:
    def __init__(self, func: Func, adjoint: Block, rev, names):
        self.func = func
        self.adjoint = adjoint
        self.rev = rev
        self.names = names
        self.tapes: dict = {}
        self.prelude: list = []  # tape creations, at the top of the function
        self.inited: set = set()
        self.replacements: dict = {}  # id(marker) -> list of statements
        self.recomputed: dict = {}  # id(forward loop) -> list of Eqns to re-run
        self.recompute_order: dict = {}  # id(Eqn) -> its position in the forward body
        self._pure_memo: dict = {}
        self._modified_memo: dict = {}
        self.def_counts = _def_count(func)
        self.views = _view_bases(func)
        self.rerun = IterationRerun(func)  # work arrays rebuilt per iteration (recompute.py)
        self.branches = BranchRecompute(self)  # values local to an if in a loop body
        self.trips: dict = {}
        self.late: list = []  # (loop, stmt, anchor stmt, recompute Eqn)
        self.counters = {st.counter.name for st in walk(func.body)
                         if isinstance(st, While) and st.counter is not None}
        self.loop_blocks = {}  # loops outside any other loop -> the block holding them
        todo = [func.body]
        while todo:
            block = todo.pop()
            for st in block.stmts:
                if isinstance(st, (For, While)):
                    self.loop_blocks[id(st)] = block
                elif isinstance(st, If):
                    todo += [st.then, st.orelse]

    def tape_for(self, key: str, like: Var) -> Var:
        if key not in self.tapes:
            tape = Var(self.names.fresh(f"tape_{key}"))
            self.tapes[key] = tape
            self.prelude.append(Eqn("tape_new", (), (tape,), {}, self.func.loc))
        return self.tapes[key]

    def can_recompute(self, site: Site) -> bool:
        stmt = site.stmt
        if not site.loops or not isinstance(stmt, Eqn) or site.init is None:
            return False
        loop = site.loops[-1]
        if not isinstance(loop, For) or stmt not in loop.body.stmts:
            return False
        self._outermost = len(site.loops) == 1
        return self._pure_in_body(loop, stmt, set())

    def _pure_in_body(self, loop, stmt, seen: set) -> bool:
        """``stmt`` (directly in the body of ``loop``) can be re-run at the top of the reversed
        body: cheap, pure, its output assigned only here and never read before this point of
        the iteration, its inputs unchanged by the loop or recomputable themselves."""
        if stmt.prim not in RECOMPUTABLE or len(stmt.outs) != 1:
            return False
        out = stmt.outs[0].name
        if self.def_counts.get(out) != 1 or out in seen:
            return False
        key = (id(loop), out, self._outermost)
        if key in self._pure_memo:
            return self._pure_memo[key]
        seen = seen | {out}
        if self.rerun.reads_stale(stmt):
            return False
        self._pure_memo[key] = False
        body = loop.body.stmts
        pos = next(k for k, s in enumerate(body) if s is stmt)
        if any(isinstance(a, Var) and a.name == out
               for s in walk(Block(body[:pos + 1])) for a in _all_uses(s)):
            return False  # read before it is (re)assigned: the previous iteration's value
        if not self._outermost and self._reads(self.func.body, out) != self._reads(loop.body, out):
            return False  # read after the loop, in an enclosing loop's next (reversed) iteration
        modified = self._modified(loop)
        for a in _all_uses(stmt):
            if not isinstance(a, Var) or a.name not in modified or a.name == loop.var.name:
                continue
            dep = next((s for s in body if isinstance(s, Eqn) and
                        any(o.name == a.name for o in s.outs)), None)
            if dep is None or not self._pure_in_body(loop, dep, seen):
                return False
        self._pure_memo[key] = True
        return True

    @staticmethod
    def _reads(block: Block, name: str) -> int:
        return sum(1 for s in walk(block) for a in _all_uses(s)
                   if isinstance(a, Var) and a.name == name)

    def _modified(self, loop) -> set:
        if id(loop) not in self._modified_memo:
            counter = {loop.var.name} if isinstance(loop, For) else set()
            self._modified_memo[id(loop)] = _modified_in(loop) - counter
        return self._modified_memo[id(loop)]

    def schedule_recompute(self, loop, stmt):
        """Re-run ``stmt`` and the loop-body values it reads at the top of the reversed body."""
        todo = self.recomputed.setdefault(id(loop), [])
        if any(e.outs[0].name == stmt.outs[0].name for e in todo):
            return
        modified = self._modified(loop)
        for a in _all_uses(stmt):
            if isinstance(a, Var) and a.name in modified and a.name != loop.var.name:
                dep = next(s for s in loop.body.stmts if isinstance(s, Eqn) and
                           any(o.name == a.name for o in s.outs))
                self.schedule_recompute(loop, dep)
        todo.append(Eqn(stmt.prim, stmt.ins, stmt.outs, dict(stmt.params), stmt.loc))
        self.recompute_order[id(todo[-1])] = next(
            k for k, s in enumerate(loop.body.stmts) if s is stmt)

    def after_restore(self, site: Site):
        """For ``v = prim(...)`` directly in a ``for`` or ``while`` body whose inputs the rest of the
        iteration changes (``t = icf[k, idx]; ...; idx += 1``): the first statement after it
        that changes an input, when every read of ``v`` comes before that statement.  The
        adjoint restores the inputs at that statement's mirror, so ``v`` can be recomputed
        there instead of taped."""
        stmt = site.stmt
        if not site.loops or site.init is None or stmt.prim not in RECOMPUTABLE or \
                len(stmt.outs) != 1 or self.def_counts.get(site.var) != 1:
            return None
        loop = site.loops[-1]
        if not isinstance(loop, (For, While)) or stmt not in loop.body.stmts:
            return None
        body = loop.body.stmts
        pos = next(k for k, s in enumerate(body) if s is stmt)
        element = self._element_anchor(site, loop, body, pos)
        if element is not None:
            return element
        inputs = {a.name for a in _all_uses(stmt) if isinstance(a, Var)}
        changed = inputs & self._modified(loop)
        if not changed or site.var in inputs:
            return None
        if isinstance(loop, While) and any(v.name in changed for s in walk(loop.cond_block)
                                           for v in stmt_defs(s)):
            return None  # a while condition block changing an input before the next iteration
        early = {}  # input -> its definition earlier in the body, itself recomputed late
        for s in walk(loop.body):  # inputs changed only by plain statements after the def
            if isinstance(s, Store) and s.target.name in changed:
                return None
            for v in stmt_defs(s):
                if v.name not in changed or any(s is b for b in body[pos + 1:]):
                    continue
                if not any(s is b for b in body[:pos]) or self.def_counts.get(v.name) != 1:
                    return None
                early[v.name] = s
        later = [k for k in range(pos + 1, len(body))
                 if any(v.name in changed for v in stmt_defs(body[k]))]
        anchor = body[later[0]] if later else None
        for name, dep in early.items():  # ``t = 3.0 * u`` after ``u = x[i]``: same anchor as u
            dep_site = self.rev.sites.get((id(dep), name))
            dep_anchor = self.after_restore(dep_site) if dep_site is not None else None
            if dep_anchor is None or (anchor is not None and dep_anchor is not anchor):
                return None
            anchor = dep_anchor
        if anchor is None:
            return None
        first = next(k for k, b in enumerate(body) if b is anchor)
        if first <= pos or self._reads(self.func.body, site.var) != \
                self._reads(Block(body[pos + 1:first]), site.var):
            return None  # read after the inputs change, or outside the iteration
        if not isinstance(anchor, Eqn) or not any(m for m, st, _ in self.rev.markers
                                                  if st is anchor):
            return None
        return anchor

    def _element_anchor(self, site: Site, loop, body: list, pos: int):
        """For ``t = a[i, j]`` (one element) in a ``for`` body, read only before the body's next
        write to ``a``, when that write is ``a[i, j] = ...`` (the same element, the index
        unchanged by the loop): the store whose restore puts back exactly ``t``.  The adjoint then
        re-reads ``t`` after that restore instead of taping it (the store's old value is taped
        anyway).  ``a`` must have no views and no per-iteration rebuild (recompute.py)."""
        stmt = site.stmt
        if not isinstance(loop, For) or stmt.prim != "getitem" or not isinstance(stmt.ins[0], Var):
            return None
        name = stmt.ins[0].name
        at, vt = self.func.types.get(name), self.func.types.get(site.var)
        index = stmt.params.get("index")
        if not isinstance(at, ArrayType) or not isinstance(vt, ArrayType) or vt.ndim != 0 or \
                index is None or len(index) != at.ndim or name in self.rerun.by_array:
            return None
        modified = self._modified(loop)
        for i in index:
            if not isinstance(i, (Var, Const)) or (isinstance(i, Var) and (
                    i.name in modified or getattr(self.func.types.get(i.name), "ndim", 1) != 0)):
                return None
        if name in self.views or name in self.views.values():
            return None
        for k in range(pos + 1, len(body)):
            if name in _modified_in(body[k]) or any(isinstance(s, Eqn) and s.prim in INPLACE_PRIMS and s.ins and
                                                   s.ins[0] == Var(name) for s in walk(Block([body[k]]))):
                break
        else:
            return None
        anchor = body[k]
        if not (isinstance(anchor, Store) and anchor.target.name == name and tuple(anchor.index) == tuple(index)):
            return None
        if self._reads(self.func.body, site.var) != self._reads(Block(body[pos + 1:k]), site.var):
            return None  # read after the element changes, or outside the iteration
        if not any(st is anchor for _, st, _ in self.rev.markers):
            return None
        return anchor

    def _first_write_onto_zero(self, site: Site) -> bool:
        """``a[i, j] = v`` in a nest of ``for`` loops over ``i`` and ``j`` (one loop per axis, the
        nest at the function's top level, after ``a = np.zeros(...)`` with nothing touching ``a``
        in between), the nest's only write to ``a``, ``a`` without views: every iteration writes
        another element for the first time, so the value it overwrites is 0."""
        stmt = site.stmt
        name = stmt.target.name
        t = self.func.types.get(name)
        if stmt.op is not None or not site.loops or not isinstance(t, ArrayType) or \
                len(stmt.index) != t.ndim or len(site.loops) != t.ndim or \
                any(not isinstance(lp, For) for lp in site.loops) or self.def_counts.get(name) != 1 or \
                name in self.views or name in self.views.values() or name in self.rerun.by_array:
            return False
        loop_vars = [lp.var.name for lp in site.loops]
        index = [i.name if isinstance(i, Var) else None for i in stmt.index]
        if sorted(index, key=str) != sorted(loop_vars) or any(
                v.name in loop_vars for x in walk(site.loops[0].body) if not any(x is lp for lp in site.loops)
                for v in stmt_defs(x)):
            return False  # a loop variable reassigned in the nest
        top = self.func.body.stmts
        outer = site.loops[0]
        pos = next((k for k, s in enumerate(top) if s is outer), None)
        if pos is None:
            return False
        alloc = None
        for s in reversed(top[:pos]):
            if isinstance(s, Eqn) and any(o.name == name for o in s.outs):
                alloc = s
                break
            if name in _modified_in(s) or any(a.name == name for x in walk(Block([s])) for a in _all_uses(x)
                                              if isinstance(a, Var)):
                return False
        if alloc is None or alloc.prim not in ("zeros", "zeros_like"):
            return False
        writes = [x for x in walk(Block([outer])) if (isinstance(x, Store) and x.target.name == name) or
                  (isinstance(x, Eqn) and (any(o.name == name for o in x.outs) or
                                           (x.prim in INPLACE_PRIMS and x.ins and x.ins[0] == Var(name))))]
        return writes == [stmt]

    def push_pop(self, site: Site, key: str, value: Var, loc):
        """Statements saving ``value`` in the forward sweep and restoring it in the adjoint.

        Scalars saved once per iteration of ``for`` loops whose trip counts are known before the
        outermost starts go to a preallocated array (``tape_x[pos_x] = x``); all else to a
        growable list (``tape_x.append(x)`` / ``tape_x.pop()``)."""
        loop = site.loops[0] if site.loops else None
        vt = self.func.types.get(value.name) if not isinstance(site.stmt, Store) else None
        if isinstance(site.stmt, Store):  # the old element (named x_old, x_old_1, ...)
            t = self.func.types.get(site.stmt.target.name)
            if isinstance(t, ArrayType) and not any(isinstance(i, Slice) or (
                    isinstance(i, Var) and self.func.types.get(i.name, t).ndim > 0)
                    for i in site.stmt.index) and len(site.stmt.index) == t.ndim:
                vt = ArrayType(t.dtype)
        n = capacity(self, site, vt)  # None: unknown in advance (tape_sizes.py)
        if n is None:
            tape = self.tape_for(key, value)
            return ([Eqn("tape_push", (tape, value), (), {}, loc)],
                    [Eqn("tape_pop", (tape,), (value,), {}, loc)])
        tape = Var(self.names.fresh(f"tape_{key}"))
        pos = Var(self.names.fresh(f"pos_{key}"))
        _insert_before(self.loop_blocks[id(loop)], loop, [
            Eqn("empty", (n,), (tape,), {"dtype": vt.dtype}, loc),
            Eqn("copy", (Const(0),), (pos,), {}, loc)])
        push = [Store(tape, (pos,), value, None, loc), Eqn("add", (pos, Const(1)), (pos,), {}, loc)]
        pop = [Eqn("sub", (pos, Const(1)), (pos,), {}, loc),
               Eqn("getitem", (tape, pos), (value,), {"index": (pos,)}, loc)]
        return push, pop

    def trip_count(self, loop: For) -> Var:
        """``len(range(start, stop, step))`` for a constant step, computed before the loop."""
        if id(loop) in self.trips:
            return self.trips[id(loop)]
        step = loop.step.value
        lo, hi = (loop.start, loop.stop) if step > 0 else (loop.stop, loop.start)
        n = Var(self.names.fresh("trips"))
        if abs(step) == 1 and isinstance(lo, Const) and lo.value == 0:
            stmts = [Eqn("maximum", (hi, Const(0)), (n,), {}, loop.loc)]
        elif abs(step) == 1:
            span = Var(self.names.fresh("span"))
            stmts = [Eqn("sub", (hi, lo), (span,), {}, loop.loc), Eqn("maximum", (span, Const(0)), (n,), {}, loop.loc)]
        else:
            span, up, n0 = (Var(self.names.fresh(b)) for b in ("span", "t", "t"))
            stmts = [Eqn("sub", (hi, lo), (span,), {}, loop.loc),
                     Eqn("add", (span, Const(abs(step) - 1)), (up,), {}, loop.loc),
                     Eqn("floordiv", (up, Const(abs(step))), (n0,), {}, loop.loc),
                     Eqn("maximum", (n0, Const(0)), (n,), {}, loop.loc)]
        _insert_before(self.loop_blocks[id(loop)], loop, stmts)
        self.trips[id(loop)] = n
        return n

    def inverse_step(self, site: Site):
        """``v = t`` right after ``t = v + c`` (``v += c``) on an integer ``v`` with a constant or
        never-reassigned ``c``: the old value is ``v - c``."""
        stmt = site.stmt
        if not (isinstance(stmt, Eqn) and stmt.prim == "copy" and isinstance(stmt.ins[0], Var)):
            return None
        v, t = stmt.outs[0], stmt.ins[0]
        vt = self.func.types.get(v.name)
        if not (isinstance(vt, ArrayType) and vt.ndim == 0 and vt.is_int):
            return None
        k = next(i for i, s in enumerate(site.block.stmts) if s is stmt)
        prev = site.block.stmts[k - 1] if k else None
        if not (isinstance(prev, Eqn) and prev.prim in ("add", "sub") and prev.outs == (t,)):
            return None
        a, b = prev.ins
        if prev.prim == "add" and b == v:
            a, b = b, a
        if a != v or b == v:
            return None
        step_ok = isinstance(b, Const) and isinstance(b.value, int) and \
            not isinstance(b.value, bool)
        if isinstance(b, Var):
            bt = self.func.types.get(b.name)
            step_ok = (self.def_counts.get(b.name, 0) == 0 and isinstance(bt, ArrayType) and
                       bt.is_int and bt.ndim == 0)  # an integer parameter
        if not step_ok:
            return None
        back = "sub" if prev.prim == "add" else "add"
        # marked: the value is one v held before (nonneg.py relies on it)
        return Eqn(back, (v, b), (v,), {"undo_step": True}, stmt.loc)

    def handle(self, marker, stmt, var: Var):
        site = marker.params["site"]
        loc = stmt.loc
        if isinstance(stmt, For):  # its variable's value before the loop (ir.for_vars_read_outside)
            self.save_before(site, stmt, var, marker, loc)
            return
        if self.rerun.skip(site):  # rebuilt at the top of the reversed iteration instead
            self.replacements[id(marker)] = []
            return
        anchor = self.after_restore(site) if isinstance(stmt, Eqn) and \
            not self.rerun.reads_stale(stmt) else None
        if anchor is not None:  # recomputed once the inputs it reads are restored
            self.late.append((site.loops[-1], stmt, anchor,
                              Eqn(stmt.prim, stmt.ins, stmt.outs, dict(stmt.params), loc)))
            self.replacements[id(marker)] = []
            return
        if isinstance(stmt, Eqn) and self.can_recompute(site):
            self.schedule_recompute(site.loops[-1], stmt)
            self.replacements[id(marker)] = []
            return
        if self.branches.plan(site):
            self.replacements[id(marker)] = []
            return
        if var.name in self.counters and isinstance(stmt, Eqn) and isinstance(stmt.ins[0], Var):
            self.replacements[id(marker)] = []  # only the reversed loop's bound reads it
            return
        undo = self.inverse_step(site)
        if undo is not None:  # an integer counter step: undone exactly, no tape
            self.replacements[id(marker)] = [undo]
            return
        if isinstance(stmt, Eqn):
            self.save_before(site, stmt, var, marker, loc)
            return
        self.save_element(site, stmt, var, marker, loc)

    def save_before(self, site: Site, stmt, var: Var, marker, loc):
        """Save ``var`` just before ``stmt`` overwrites it; restore it at the marker."""
        if site.loops:
            push, pop = self.push_pop(site, var.name, var, loc)
            _insert_before(site.block, stmt, push)
            self.replacements[id(marker)] = pop
            if site.init is not None and var.name not in self.inited:
                loop, block = site.init
                _insert_before(block, loop, [Eqn("zero_of", (), (var,), {}, loc)])
                self.inited.add(var.name)
        else:
            save = Var(self.names.fresh(f"{var.name}_save"))
            _insert_before(site.block, stmt, [Eqn("copy", (var,), (save,), {}, loc)])
            self.replacements[id(marker)] = [Eqn("copy", (save,), (var,), {}, loc)]

    def save_element(self, site: Site, stmt, var: Var, marker, loc):
        """Save the element (or slice) a store is about to overwrite; restore it at the marker."""
        in_loop = bool(site.loops)
        # an array element (or slice) about to be overwritten
        if self._first_write_onto_zero(site):  # the old value is a known zero: no save
            zero = Const(0.0) if self.func.types[stmt.target.name].is_float else Const(0)
            self.replacements[id(marker)] = [Store(stmt.target, stmt.index, zero, None, loc)]
            return
        old = Var(self.names.fresh(f"{var.name}_old"))
        # a scalar element is a value; anything else (slice, row st[j] of a 2-D st) is a view
        # that the store would overwrite: save a copy
        target_t = self.func.types.get(stmt.target.name)
        element = isinstance(target_t, ArrayType) and len(stmt.index) == target_t.ndim and \
            not any(isinstance(i, Slice) or not isinstance(i, (Var, Const)) or
                    getattr(self.func.types.get(getattr(i, "name", "")), "ndim", 0) > 0
                    for i in stmt.index)
        prim = "getitem" if element else "getitem_copy"
        read = Eqn(prim, (stmt.target, *index_atoms(stmt.index)), (old,),
                   {"index": stmt.index}, loc)
        restore = Store(stmt.target, stmt.index, old, None, loc)
        if in_loop:
            push, pop = self.push_pop(site, old.name, old, loc)
            _insert_before(site.block, stmt, [read] + push)
            self.replacements[id(marker)] = pop + [restore]
        else:
            _insert_before(site.block, stmt, [read])
            self.replacements[id(marker)] = [restore]

    def run(self):
        pending = list(self.rev.markers)
        primal = {p.name for p in self.func.params}
        for stmt in walk(self.func.body):
            primal.update(v.name for v in stmt_defs(stmt))
            if isinstance(stmt, Store):
                primal.add(stmt.target.name)
        views = _view_bases(self.func)
        while True:
            needed = (_adjoint_uses(self.adjoint) | self._replacement_uses()) & primal
            for name in list(needed):  # reading a view reads its base's current elements
                seen = {name}
                while name in views and views[name] not in seen:  # a = a[1:] links both ways
                    name = views[name]
                    seen.add(name)
                    needed.add(name)
            ready = [m for m in pending if m[2].name in needed]
            if not ready:
                break
            for m in ready:
                pending.remove(m)
                self.handle(*m)
        for marker, _, _ in pending:
            self.replacements[id(marker)] = []
        def forward_position(item):
            loop, stmt = item[0], item[1]
            return next(k for k, b in enumerate(loop.body.stmts) if b is stmt)

        for _loop, _stmt, anchor, eqn in sorted(self.late, key=forward_position):
            target = next(m for m, st, _ in self.rev.markers if st is anchor)
            self.replacements[id(target)] = self.replacements.get(id(target), []) + [eqn]
        self.splice(self.adjoint)
        # Recomputed values get fresh names in the scope they are recomputed for (a reversed
        # loop body, a mirror branch). Scopes nest both ways (a branch in a loop, a loop in a
        # branch), so every recomputation is inserted first and every renaming applied after:
        # each then reaches the recomputations the others put inside its scope (else they read
        # the forward sweep's last value: wrong gradients, found by fuzzing).
        renames = []  # (scope, {old name: new Var}, the Eqns defining the old names)
        for loop, _stmt, _anchor, eqn in self.late:
            new = Var(self.names.fresh(f"{eqn.outs[0].name}_r"))
            renames.append((self.rev.rev_loops[id(loop)], {eqn.outs[0].name: new}, [eqn]))
        for loop_id, eqns in self.recomputed.items():
            # fresh names inside the reversed body: the forward values become dead (dce)
            body = self.rev.rev_loops[loop_id]
            mapping = {e.outs[0].name: Var(self.names.fresh(f"{e.outs[0].name}_r"))
                       for e in eqns}
            body.stmts[:0] = sorted(eqns, key=lambda e: self.recompute_order[id(e)])
            renames.append((body, mapping, eqns))
        renames += self.branches.insert(self.rev, self.names)
        for scope, mapping, _eqns in renames:
            _substitute(scope, mapping)
        for _scope, mapping, eqns in renames:
            for e in eqns:
                e.outs = (mapping[e.outs[0].name],)
        self.rerun.insert(self.rev, self)
        self.func.body.stmts[:0] = self.prelude

    def _replacement_uses(self) -> set:
        names = set()
        for stmts in self.replacements.values():
            names |= _adjoint_uses(Block(stmts))
        for eqns in self.recomputed.values():
            names |= _adjoint_uses(Block(eqns))
        names |= _adjoint_uses(Block([e for *_, e in self.late])) | self.rerun.needed()
        names |= _adjoint_uses(Block(self.branches.eqns()))
        return names

    def splice(self, block: Block):
        out = []
        for stmt in block.stmts:
            if id(stmt) in self.replacements:
                out.extend(self.replacements[id(stmt)])
                continue
            for child in child_blocks(stmt):
                self.splice(child)
            out.append(stmt)
        block.stmts = out


def insert_saves(func: Func, adjoint: Block, rev, names) -> None:
    """Turn the adjoint's restore markers into saves/tapes or recomputation (see module doc)."""
    _Saver(func, adjoint, rev, names).run()
