"""Sum a cotangent over a loop's iterations before a linear map that does not change with them.

The adjoint of a sum over data points runs the same linear map on every point's cotangent when
that part of the forward computation does not depend on the point.  ADBench's GMM computes
``Qxc = Q_k (x_i - mu_k)`` per point; its adjoint turns ``Qxc_bar`` into ``xc_bar = Q_kᵀ Qxc_bar``
(a triangular loop, ``d²/2`` multiply-adds) only to add ``-xc_bar`` into ``mu_bar[k]``.  Summed over
the points, that is ``Q_kᵀ (Σ_i Qxc_bar_i)``: the hand-written adjoint sums first and applies
``Q_kᵀ`` once per component.  This pass makes the generated adjoint do the same::

    acc = zeros((K, d))                         # one row per visit of the loop body below
    last_i = stop + 1                           # the reversed loop's last iteration
    for i in range(last, stop, -1):             # the reversed loop over the points
        is_last = i == last_i
        acc_pos = 0
        for ik in ...:                          # B: the block holding the linear part
            ...                                 # qxc_bar complete for this (i, ik)
            for j in range(0, d): acc[acc_pos, j] += qxc_bar[j]        # snapshot
            for col ...: for row ...:
                icf_bar[ik, idx] += qxc_bar[row] * xc[col]             # per point, kept
                if is_last:                                            # the linear part,
                    xc_bar[col] += acc[acc_pos, row] * icf[ik, idx]    # once, on the sum
            ...
            acc_pos = acc_pos + 1

The part moved (``P``) is the set of statements that compute, linearly, from reads of the
per-point cotangent arrays (the *seeds*, ``qxc_bar``), contributions that end as increments
``T[idx] += v`` of arrays ``T`` the loop never reads (``mu_bar``), possibly through scratch
adjoint arrays ``M`` (``xc_bar``) that only ``P`` touches and that are drained (read and
zeroed, element by element over their whole length) before each visit of ``B`` ends.
Conditions, each checked (anything else leaves the loop alone):

* linearity: each statement of ``P`` is a copy, a negation, a sum or difference of two ``P``
  values, a product of one ``P`` value with a coefficient, or a quotient of one by a
  coefficient; ``P``'s values are read only by ``P``;
* invariance: the coefficients, the indices of ``P``'s reads and stores, the bounds of the
  loops and the conditions of the branches around ``P`` are the same in every iteration of the
  loop.  Adjoint temporaries are checked in the reversed loop (single definition, dominating
  its use, computed from invariants, reads of arrays neither loop writes); primal variables the
  adjoint reads (``idx`` above, restored step by step) hold the primal's values, so they are
  checked in the forward loop: assigned before every use in each iteration (a tape push's read
  of the old value aside) from invariants;
* the seeds: 1-D arrays read element-wise in the same block as the ``P`` statement that uses the
  value; from the snapshot to those reads nothing writes the seed except the usual adjoint
  reset ``t = s[j]; s[j] = 0.0`` of the element just read;
* the loop: a ``for`` with step ±1, no ``break``/``continue``/``while`` in it or in its forward
  twin; the loops between it and ``B`` have bounds computable before it and step ±1;
* worth it: part of ``P`` sits two loops below ``B`` (work quadratic per visit, against a
  linear snapshot).

Only the last iteration runs ``P``, with ``acc`` in place of the seeds; every other statement
runs as before.  The sums change only by rounding (the order of the additions).
"""

from __future__ import annotations

import dataclasses

from .ir import (
    Block,
    Break,
    Const,
    Continue,
    Eqn,
    For,
    Func,
    If,
    Slice,
    Store,
    Var,
    While,
    child_blocks,
    index_atoms,
    position,
    stmt_defs,
    stmt_reads,
    unused_name,
    walk,
)
from .loop_carried import _parents
from .loop_order import _drop_copy_backs
from .passes import CSE_PRIMS, _closure, _view_links, _written_arrays
from .types import ArrayType

_PURE = (CSE_PRIMS - {"unbroadcast"}) | {"getitem", "copy", "shape", "len", "tuple", "range_last", "floordiv",
                                         "mod", "to_int", "pos"}
_HOISTABLE = {"add", "sub", "mul", "neg", "copy", "maximum", "minimum", "range_last"}
_ALLOC = {"zeros", "zeros_like", "zeros_like_any"}
_LINEAR = {"copy", "neg", "mul", "truediv", "add", "sub"}


def hoist_linear_maps(func: Func) -> int:
    """Apply the rewrite to every qualifying reversed loop of ``func``, in place; how many."""
    _drop_copy_backs(func.body)  # ``t = v_bar; v_bar = t`` in loop bodies: a second definition
    done = 0
    fors = [s for s in walk(func.body) if isinstance(s, For) and s.loc is not None]
    copies: dict = {}
    for loop in fors:
        copies.setdefault((loop.loc, loop.var.name), []).append(loop)
    rewritten: set = set()
    for loop in reversed(fors):  # inner loops first: the sums then have one row per visit of B
        # the forward sweep's copy of a loop comes first, the reversed one after; a loop that
        # appears more often (a helper inlined twice, checkpointed segments) is left alone
        same = copies[(loop.loc, loop.var.name)]
        if len(same) != 2 or same[1] is not loop or any(id(s) in rewritten for s in walk(loop.body)):
            continue
        if _Rewrite(func, same[0], loop).run():
            done += 1
            rewritten.add(id(loop))
    return done


# ---------------------------------------------------------------------------------------------
# where statements stand


def _chains(block: Block) -> list:
    """(stmt, chain) for every statement under ``block``: chain = ((blk, pos), ...) from
    ``block`` down to the statement's own place."""
    out = []

    def visit(blk, chain):
        for pos, stmt in enumerate(blk.stmts):
            here = chain + ((blk, pos),)
            out.append((stmt, here))
            for child in child_blocks(stmt):
                visit(child, here)

    visit(block, ())
    return out


def _ancestors(chain) -> list:
    return [blk.stmts[pos] for blk, pos in chain[:-1]]


def _covered(name: str, chain) -> bool:
    """Some statement assigns ``name`` unconditionally before this place in the same iteration
    of every enclosing loop (an earlier statement of an enclosing block), or a loop around it
    runs over ``name``."""
    for depth, (blk, pos) in enumerate(chain):
        if any(isinstance(s, Eqn) and any(o.name == name for o in s.outs) for s in blk.stmts[:pos]):
            return True
        if depth < len(chain) - 1 and isinstance(blk.stmts[pos], For) and blk.stmts[pos].var.name == name:
            return True
    return False


def _dominates(def_chain, use_chain) -> bool:
    blk, pos = def_chain[-1]
    return any(b is blk and pos < p for b, p in use_chain)


def _names(atoms) -> list:
    return [a.name for a in atoms if isinstance(a, Var)]



# ---------------------------------------------------------------------------------------------
# invariance


def _primal_invariants(loop: For, written: set) -> set | None:
    """Variables of the forward loop ``loop`` whose value at each place in its body is the same
    in every iteration; None when its control flow is not a plain nest of loops and branches."""
    items = _chains(loop.body)
    assigned = {loop.var.name}  # (changes every iteration: whatever depends on it is not invariant)
    for stmt, _ in items:
        if isinstance(stmt, (While, Break, Continue)):
            return None
        assigned.update(v.name for v in stmt_defs(stmt))
    # arrays the loop only writes (tapes): what it stores there does not feed its values
    read = set()
    for stmt, _ in items:
        names = stmt_reads(stmt)
        if isinstance(stmt, Store):
            names = [n for n in names if n != stmt.target.name]
        read.update(names)
    write_only = {s.target.name for s, _ in items if isinstance(s, Store)} - read
    bad = {loop.var.name}
    deps: dict = {}
    for stmt, chain in items:
        context = []
        for anc in _ancestors(chain):
            context += [anc.cond] if isinstance(anc, If) else [anc.start, anc.stop, anc.step]
        if isinstance(stmt, Eqn):
            if stmt.prim not in _PURE or len(stmt.outs) != 1 or (
                    stmt.prim == "getitem" and stmt.ins[0].name in written):
                bad.update(o.name for o in stmt.outs)
            for o in stmt.outs:
                deps.setdefault(o.name, set()).update(_names(context) + stmt_reads(stmt))
        elif isinstance(stmt, For):
            deps.setdefault(stmt.var.name, set()).update(_names([stmt.start, stmt.stop, stmt.step] + context))
        if isinstance(stmt, Store) and stmt.target.name in write_only:
            continue
        for name in stmt_reads(stmt):
            if name in assigned and not _covered(name, chain):
                bad.add(name)
    inv = assigned - bad
    changed = True
    while changed:
        changed = False
        for name in list(inv):
            if any(d in assigned and d not in inv for d in deps.get(name, ())):
                inv.discard(name)
                changed = True
    return inv


class _Invariance:
    """Which atoms of the reversed loop are the same in every one of its iterations."""

    def __init__(self, loop: For, items: list, fwd_assigned: set, primal_inv: set, written: set):
        self.loop, self.items = loop, items  # items: _chains(loop.body)
        self.fwd_assigned, self.primal_inv, self.written = fwd_assigned, primal_inv, written
        self.chain = {id(s): c for s, c in items}
        self.defs: dict = {}
        for stmt, _ in self.items:
            for v in stmt_defs(stmt):
                self.defs.setdefault(v.name, []).append(stmt)
        self.memo: dict = {}

    def atom(self, a, stmt) -> bool:
        if not isinstance(a, Var):
            return True
        name = a.name
        if name == self.loop.var.name:
            return False
        if name in self.fwd_assigned:  # a primal value, restored to what the forward loop had
            return name in self.primal_inv
        defs = self.defs.get(name)
        if not defs:
            return True  # set before the loop, never reassigned in it
        if len(defs) != 1:
            return False
        d, use = defs[0], self.chain[id(stmt)]
        if isinstance(d, For):
            return any(x is d for x in _ancestors(use)) and self.stmt(d)
        return _dominates(self.chain[id(d)], use) and self.stmt(d)

    def stmt(self, stmt) -> bool:
        """``stmt`` computes the same values, under the same control, in every iteration."""
        key = id(stmt)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = False  # cycles are not invariant
        ok = self.control(stmt)
        if ok and isinstance(stmt, Eqn):
            ok = (stmt.prim in _PURE and len(stmt.outs) == 1
                  and not (stmt.prim == "getitem" and stmt.ins[0].name in self.written)
                  and all(self.atom(Var(n), stmt) for n in stmt_reads(stmt)))
        elif ok and isinstance(stmt, For):
            ok = all(self.atom(a, stmt) for a in (stmt.start, stmt.stop, stmt.step))
        self.memo[key] = ok
        return ok

    def control(self, stmt) -> bool:
        for anc in _ancestors(self.chain[id(stmt)]):
            if isinstance(anc, While):
                return False
            if isinstance(anc, If) and not self.atom(anc.cond, anc):
                return False
            if isinstance(anc, For) and not self.stmt(anc):
                return False
        return True


# ---------------------------------------------------------------------------------------------
# the rewrite


class _Rewrite:
    def __init__(self, func: Func, fwd: For, rev: For):
        self.func, self.fwd, self.rev = func, fwd, rev
        self.taken: set = set()

    def fresh(self, base: str) -> Var:
        name = unused_name(self.func, base, self.taken)
        self.taken.add(name)
        return Var(name)

    # -- analysis -----------------------------------------------------------------------------

    def run(self) -> bool:
        rev = self.rev
        if not (isinstance(rev.step, Const) and rev.step.value in (1, -1)):
            return False
        items = _chains(rev.body)
        if any(isinstance(s, (Break, Continue, While)) for s, _ in items):
            return False
        # (list tapes are read only by tape_pop, never invariant: their pushes need not count)
        written = _written_arrays(self.func, [self.fwd.body, rev.body])
        primal_inv = _primal_invariants(self.fwd, written)
        if primal_inv is None:
            return False
        fwd_assigned = {v.name for s in walk(self.fwd.body) for v in stmt_defs(s)}
        self.inv = _Invariance(rev, items, fwd_assigned, primal_inv, written)
        self.items, self.chain = items, self.inv.chain
        candidates = self._arrays()
        bad_seeds: set = set()
        for _ in range(8):
            if not self._find_linear_part(candidates, bad_seeds):
                return False
            placed = self._place()
            if placed is True:
                break
            if not placed:
                return False
            bad_seeds |= placed  # seed arrays to leave out: find the linear part again without them
        else:
            return False
        self._rewrite()
        return True

    def _arrays(self):
        """Candidates for the scratch arrays M, the targets T and the seeds S."""
        func, types = self.func, self.func.types
        links = _view_links(func)
        in_loop = {id(s) for s, _ in self.items}
        rev_assigned = {v.name for s, _ in self.items for v in stmt_defs(s)}
        defs_all: dict = {}
        for stmt in walk(func.body):
            for v in stmt_defs(stmt):
                defs_all.setdefault(v.name, []).append(stmt)
        self.defs_all = defs_all

        def plain(name):
            t = types.get(name)
            return (isinstance(t, ArrayType) and t.is_float and name not in rev_assigned
                    and _closure({name}, links) == {name})

        scratch, targets, seeds = set(), set(), set()
        uses: dict = {}  # array -> statements reading it (any way)
        for stmt in walk(func.body):
            for n in set(stmt_reads(stmt)):
                uses.setdefault(n, []).append(stmt)
        result = set(_names(func.result_atoms()))
        for name, stmts in uses.items():
            if not plain(name):
                continue
            d = defs_all.get(name, [])
            elem_ok = all(
                id(s) in in_loop and (
                    (isinstance(s, Eqn) and s.prim == "getitem" and s.ins[0].name == name and _scalar_index(s, types)
                     and name not in _names(s.ins[1:]))
                    or (isinstance(s, Store) and s.target.name == name and _scalar_store(s, types)
                        and name not in _names([s.value, *index_atoms(s.index)])))
                for s in stmts)
            if (elem_ok and name not in result and types[name].ndim == 1 and len(d) == 1 and isinstance(d[0], Eqn)
                    and d[0].prim in _ALLOC and id(d[0]) not in in_loop):
                scratch.add(name)
            loop_uses = [s for s in stmts if id(s) in in_loop]
            if loop_uses and all(isinstance(s, Store) and s.op == "add" and s.target.name == name
                                 and _scalar_store(s, types) and name not in _names([s.value, *index_atoms(s.index)])
                                 for s in loop_uses):
                targets.add(name)
            if types[name].ndim == 1 and any(isinstance(s, Store) and s.target.name == name for s in loop_uses):
                # an array the loop writes: its reads vary with the iteration
                seeds.add(name)
        return scratch, targets, seeds

    def _find_linear_part(self, candidates: tuple, bad_seeds: set) -> bool:
        types = self.func.types
        scratch, targets, seed_arrays = candidates
        seed_arrays = seed_arrays - bad_seeds
        single = {n for n, d in self.defs_all.items() if len(d) == 1}
        banned: set = set()
        bad_targets: set = set()
        while True:
            targets = targets - bad_targets
            seed_vars: dict = {}  # var -> the getitem of a seed array it copies
            lin: set = set()
            part: list = []
            for stmt, _ in self.items:
                if isinstance(stmt, Eqn) and len(stmt.outs) == 1:
                    out = stmt.outs[0].name
                    if out not in single or not _is_float_scalar(types, out):
                        continue
                    ins = stmt.ins
                    if stmt.prim == "getitem" and ins[0].name in scratch and _scalar_index(stmt, types):
                        if out not in banned:
                            lin.add(out)
                            part.append(stmt)
                        continue
                    if stmt.prim == "getitem" and ins[0].name in seed_arrays and _scalar_index(stmt, types):
                        seed_vars[out] = stmt
                        continue
                    if stmt.prim == "copy" and _names(ins[:1]) and ins[0].name in seed_vars:
                        seed_vars[out] = seed_vars[ins[0].name]
                        continue
                    if out in banned:
                        continue
                    flow = [isinstance(a, Var) and (a.name in lin or a.name in seed_vars) for a in ins]
                    if stmt.prim not in _LINEAR or not any(flow):
                        continue
                    if stmt.prim in ("copy", "neg") or (stmt.prim in ("add", "sub") and all(flow)) or (
                            stmt.prim == "mul" and flow.count(True) == 1) or (
                            stmt.prim == "truediv" and flow == [True, False]):
                        lin.add(out)
                        part.append(stmt)
                elif isinstance(stmt, Store):
                    value_flows = isinstance(stmt.value, Var) and (stmt.value.name in lin
                                                                   or stmt.value.name in seed_vars)
                    if stmt.target.name in scratch and (
                            (stmt.op == "add" and value_flows)
                            or (stmt.op is None and isinstance(stmt.value, Const) and stmt.value.value == 0.0)):
                        part.append(stmt)
                    elif stmt.target.name in targets and stmt.op == "add" and value_flows:
                        part.append(stmt)
            ids = {id(s) for s in part}
            # P's values are read only by P; scratch arrays are touched only by P
            new_bans = set()
            for stmt in walk(self.func.body):
                if id(stmt) in ids:
                    continue
                for n in stmt_reads(stmt):
                    if n in lin:
                        new_bans.add(n)
            new_bans.update(n for n in _names(self.func.result_atoms()) if n in lin)
            bad_scratch = set()
            for stmt, _ in self.items:
                if id(stmt) in ids:
                    continue
                if isinstance(stmt, Store) and stmt.target.name in scratch:
                    bad_scratch.add(stmt.target.name)
                if isinstance(stmt, Eqn) and stmt.prim == "getitem" and stmt.ins[0].name in scratch:
                    bad_scratch.add(stmt.ins[0].name)
            # invariance of coefficients, indices and control
            for stmt in part:
                if not self._invariant_use(stmt, lin, seed_vars):
                    if isinstance(stmt, Eqn):
                        new_bans.add(stmt.outs[0].name)
                    elif stmt.target.name in scratch:
                        bad_scratch.add(stmt.target.name)
                    else:
                        bad_targets.add(stmt.target.name)
            if not new_bans and not bad_scratch and not (bad_targets & targets):
                break
            banned |= new_bans
            scratch = scratch - bad_scratch
        self.part, self.part_ids, self.lin, self.seed_vars = part, ids, lin, seed_vars
        self.scratch = {s.target.name for s in part if isinstance(s, Store) and s.target.name in scratch}
        self.scratch |= {s.ins[0].name for s in part if isinstance(s, Eqn) and s.prim == "getitem"}
        return any(isinstance(s, Store) and s.target.name in targets and s.target.name not in scratch
                   for s in part)

    def _invariant_use(self, stmt, lin: set, seed_vars: dict) -> bool:
        inv = self.inv
        if not inv.control(stmt):
            return False
        if isinstance(stmt, Eqn):
            others = [a for a in stmt.ins if not (isinstance(a, Var) and (a.name in lin or a.name in seed_vars))]
            if stmt.prim == "getitem":
                others = list(stmt.params.get("index", ()))
            for a in stmt.ins:  # a seed's index must be invariant too
                if isinstance(a, Var) and a.name in seed_vars:
                    others += list(seed_vars[a.name].params.get("index", ()))
            return all(inv.atom(a, stmt) for a in others if not isinstance(a, Slice))
        atoms = list(index_atoms(stmt.index))
        if isinstance(stmt.value, Var) and stmt.value.name in seed_vars:
            atoms += list(seed_vars[stmt.value.name].params.get("index", ()))
        return all(inv.atom(a, stmt) for a in atoms)

    # -- where the sum is taken ---------------------------------------------------------------

    def _place(self) -> bool:
        chains = [self.chain[id(s)] for s in self.part]
        depth = min(len(c) for c in chains) - 1
        level = 0
        while level < depth and all(c[level][0] is chains[0][level][0] and c[level][1] == chains[0][level][1]
                                    for c in chains):
            level += 1
        # B = the deepest block holding all of P; its path from the loop body: loop bodies only
        block = chains[0][level][0]
        if not all(c[level][0] is block for c in chains):
            return False
        path = chains[0][:level]
        loops = [blk.stmts[pos] for blk, pos in path]
        if not all(isinstance(s, For) and isinstance(s.step, Const) and s.step.value in (1, -1) for s in loops):
            return False
        if max(len(c) for c in chains) - level < 3:
            return False  # the linear part is not two loops deep below B: not worth a snapshot
        used_seeds = {}  # seed var -> getitem statement, for seeds P reads
        depth: dict = {}  # seed array -> how deep below B the P statements reading it sit
        for stmt in self.part:
            for n in stmt_reads(stmt):
                if n in self.seed_vars:
                    used_seeds[n] = get = self.seed_vars[n]
                    name = get.ins[0].name
                    depth[name] = max(depth.get(name, 0), len(self.chain[id(stmt)]) - level)
        if any(id(get) not in self.chain for get in used_seeds.values()):
            return False
        positions = [c[level][1] for c in chains]
        positions += [self.chain[id(g)][level][1] for g in used_seeds.values()
                      if len(self.chain[id(g)]) > level and self.chain[id(g)][level][0] is block]
        if len(positions) != len(chains) + len(used_seeds):
            return False
        start = min(positions)
        self.block, self.start, self.loops, self.used_seeds = block, start, loops, used_seeds
        self.seed_arrays = sorted({g.ins[0].name for g in used_seeds.values()})
        # a seed is worth its snapshot (its length, per visit of B) when P reads it two loops
        # below B; it must also keep, until P reads it, the value the snapshot took
        shallow = {name for name in self.seed_arrays if depth.get(name, 0) < 3}
        if shallow:  # (dropping them may move B and the snapshot: check stability after)
            return shallow
        unstable = {name for name in self.seed_arrays if not self._seed_stable(name)}
        if unstable:
            return unstable
        return self._scratch_drained() and self._bounds_hoistable() and self._groups()

    def _seed_stable(self, name: str) -> bool:
        """From the snapshot on, each read of seed ``name`` that P uses sees the value the
        snapshot took."""
        used_gets = {id(g) for g in self.used_seeds.values()}
        zeroed = False
        for stmt in self.block.stmts[self.start:]:
            sub = list(walk(Block([stmt])))
            writes = [s for s in sub if isinstance(s, Store) and s.target.name == name]
            reads = [s for s in sub
                     if name in stmt_reads(s) and not (isinstance(s, Store) and s.target.name == name)]
            if any(not (isinstance(s, Eqn) and s.prim == "getitem" and s.ins[0].name == name
                        and name not in _names(s.ins[1:])) for s in reads):
                return False
            if zeroed and any(id(s) in used_gets for s in reads):
                return False
            if not writes:
                continue
            if zeroed or not _reset_loop(stmt, name):
                return False
            zeroed = True
        return True

    def _scratch_drained(self) -> bool:
        """Each scratch array is zero again at the end of every visit of B: a loop over its whole
        length reads and zeroes each element after the last increment."""
        block = self.block
        for name in self.scratch:
            drains = [k for k, s in enumerate(block.stmts) if isinstance(s, For) and self._drains(s, name)]
            if len(drains) != 1:
                return False
            k = drains[0]
            for later in block.stmts[k + 1:]:
                if any(name in stmt_reads(s) for s in walk(Block([later]))):
                    return False
        return True

    def _drains(self, loop: For, name: str) -> bool:
        if not _reset_loop(loop, name):
            return False
        length = self._length(name)
        if length is None:
            return False
        # range(0, n, 1), or its reverse range(range_last(0, n, 1), -1, -1)
        if loop.step == Const(1) and loop.start == Const(0):
            return loop.stop == length
        if loop.step == Const(-1) and loop.stop == Const(-1) and isinstance(loop.start, Var):
            defs = self.defs_all.get(loop.start.name, [])
            return (len(defs) == 1 and isinstance(defs[0], Eqn) and defs[0].prim == "range_last"
                    and tuple(defs[0].ins) == (Const(0), length, Const(1)))
        return False

    def _length(self, name: str):
        """The atom an array's (1-D) allocation took its length from, when it never changes."""
        for _ in range(8):
            defs = self.defs_all.get(name, [])
            if len(defs) != 1 or not isinstance(defs[0], Eqn):
                return None
            d = defs[0]
            if d.prim in ("zeros_like_any", "zeros_like", "empty_like") and isinstance(d.ins[0], Var):
                name = d.ins[0].name
                continue
            if d.prim in ("zeros", "empty", "ones") and d.ins:
                n = d.ins[0]
                if isinstance(n, Const) or len(self.defs_all.get(n.name, [])) <= 1:
                    t = self.func.types.get(n.name) if isinstance(n, Var) else None
                    if t is None or (isinstance(t, ArrayType) and t.ndim == 0):
                        return n
            return None
        return None

    def _bounds_hoistable(self) -> bool:
        """The loops between the reversed loop and B: their bounds, computed before it."""
        self.pre: list = []
        self.hoisted: dict = {}
        for loop in self.loops:
            for a in (loop.start, loop.stop):
                if self._hoist(a, loop) is None:
                    return False
        return True

    def _hoist(self, a, at):
        if not isinstance(a, Var):
            return a
        if a.name in self.hoisted:
            return self.hoisted[a.name]
        defs = self.inv.defs.get(a.name)
        if not defs:
            return a  # not assigned in the loop: its value there is its value before it
        if len(defs) != 1 or not isinstance(defs[0], Eqn) or defs[0].prim not in _HOISTABLE:
            return None  # (evaluated before the loop even when it runs no iteration: nothing that can raise)
        d = defs[0]
        if not _dominates(self.chain[id(d)], self.chain[id(at)]):
            return None
        ins = [self._hoist(x, d) for x in d.ins]
        if any(x is None for x in ins):
            return None
        out = self.fresh(f"{a.name}_pre")
        self.pre.append(Eqn(d.prim, tuple(ins), (out,), dict(d.params), d.loc))
        self.hoisted[a.name] = out
        return out

    def _groups(self) -> bool:
        """Check that each run of P statements of a block can move to the run's last statement."""
        self.runs = []
        blocks = {}
        for stmt in self.part:
            blk, pos = self.chain[id(stmt)][-1]
            blocks.setdefault(id(blk), (blk, []))[1].append(pos)
        for blk, positions in blocks.values():
            positions.sort()
            run = [positions[0]]
            for pos in positions[1:]:
                between = blk.stmts[run[-1] + 1:pos]
                if any(self._holds_part(s) for s in between):
                    self.runs.append((blk, run))
                    run = [pos]
                else:
                    run.append(pos)
            self.runs.append((blk, run))
        for blk, run in self.runs:
            end = run[-1]
            for pos in run:
                stmt = blk.stmts[pos]
                names = set(n for n in stmt_reads(stmt) if n not in self.lin)
                first = pos
                for n in stmt_reads(stmt):
                    if n in self.seed_vars:
                        get = self.seed_vars[n]
                        gchain = self.chain[id(get)]
                        if not _dominates(gchain, self.chain[id(stmt)]):
                            return False
                        gblk, gpos = gchain[-1]
                        if gblk is blk:
                            first = min(first, gpos)
                            names |= set(_names(get.params.get("index", ())))
                        elif not all(_fixed_in_loop(a, gchain) for a in get.params.get("index", ())):
                            return False  # read further out: its index must not change inside
                names -= set(self.seed_vars)
                for k in range(first + 1, end + 1):
                    if k in run:
                        continue
                    if names & {v.name for s in walk(Block([blk.stmts[k]])) for v in stmt_defs(s)}:
                        return False
        return True

    def _holds_part(self, stmt) -> bool:
        return any(id(s) in self.part_ids for s in walk(Block([stmt])))

    # -- the rewrite --------------------------------------------------------------------------

    def _rewrite(self):
        func, rev, loc = self.func, self.rev, self.rev.loc
        pre = list(self.pre)
        # rows of the sums: one per visit of B in an iteration
        rows = Const(1)
        for loop in self.loops:
            start, stop = self._hoist(loop.start, loop), self._hoist(loop.stop, loop)
            span, trips = self.fresh("span_sum"), self.fresh("trips_sum")
            lo, hi = (stop, start) if loop.step.value == -1 else (start, stop)
            pre += [Eqn("sub", (hi, lo), (span,), {}, loc), Eqn("maximum", (span, Const(0)), (trips,), {}, loc)]
            if rows == Const(1):
                rows = trips
            else:
                prod = self.fresh("rows_sum")
                pre.append(Eqn("mul", (rows, trips), (prod,), {}, loc))
                rows = prod
        accs = {}
        for name in self.seed_arrays:
            shp, n, shape, acc = (self.fresh(f"{name}_shape"), self.fresh(f"{name}_len"),
                                  self.fresh(f"{name}_sum_shape"), self.fresh(f"{name}_sum"))
            pre += [Eqn("shape", (Var(name),), (shp,), {}, loc),
                    Eqn("getitem", (shp, Const(0)), (n,), {"index": (Const(0),)}, loc),
                    Eqn("tuple", (rows, n), (shape,), {}, loc),
                    Eqn("zeros", (shape,), (acc,), {"dtype": func.types[name].dtype}, loc)]
            accs[name] = (acc, n)
        last = self.fresh(f"{rev.var.name}_last")
        pre.append(Eqn("add" if rev.step.value == -1 else "sub", (rev.stop, Const(1)), (last,), {}, loc))
        is_last = self.fresh("is_last")
        head = [Eqn("eq", (rev.var, last), (is_last,), {}, loc)]
        if self.loops:
            pos = self.fresh("sum_row")
            head.append(Eqn("copy", (Const(0),), (pos,), {}, loc))
            self.block.stmts.append(Eqn("add", (pos, Const(1)), (pos,), {}, loc))
        else:
            pos = Const(0)
        # the snapshot, before B's first statement involved
        snap = []
        for name in self.seed_arrays:
            acc, n = accs[name]
            j, v = self.fresh("j_sum"), self.fresh(f"{name}_j")
            snap.append(For(j, Const(0), n, Const(1), Block([
                Eqn("getitem", (Var(name), j), (v,), {"index": (j,)}, loc),
                Store(acc, (pos, j), v, "add", loc)]), loc))
        # P, in the last iteration only, reading the sums instead of the seeds
        for blk, run in sorted(self.runs, key=lambda r: -r[1][0]):  # later runs of a block first
            self._guard_run(blk, run, is_last, pos, accs)
        self.block.stmts[self.start:self.start] = snap
        rev.body.stmts[:0] = head
        _, parent = _parents(func.body)[id(rev.body)]
        k = position(parent, rev)
        parent.stmts[k:k] = pre
        _lift_guards(rev.body, is_last)

    def _guard_run(self, blk, run, is_last, pos, accs):
        then, reads = [], {}
        for k in run:
            stmt = blk.stmts[k]
            for n in stmt_reads(stmt):
                if n in self.seed_vars and n not in reads:
                    get = self.seed_vars[n]
                    acc, _ = accs[get.ins[0].name]
                    index = tuple(get.params["index"])
                    v = self.fresh(f"{n}_sum")
                    then.append(Eqn("getitem", (acc, pos, *index), (v,), {"index": (pos, *index)}, stmt.loc))
                    reads[n] = v
            then.append(_substitute(stmt, reads))
        guard = If(is_last, Block(then), Block([]), blk.stmts[run[-1]].loc)
        keep = [s for k, s in enumerate(blk.stmts) if k not in run or k == run[-1]]
        blk.stmts[:] = [guard if s is blk.stmts[run[-1]] else s for s in keep]


def _fixed_in_loop(a, chain) -> bool:
    """``a`` is a constant or the variable of a loop around this place that its body never
    assigns: the same everywhere inside that loop."""
    if not isinstance(a, Var):
        return True
    return any(isinstance(anc, For) and anc.var == a
               and a.name not in {v.name for s in walk(anc.body) for v in stmt_defs(s)}
               for anc in _ancestors(chain))


def _reset_loop(loop, name: str) -> bool:
    """``for j ...: t = a[j]; ...; a[j] = 0.0`` (both at the top of the body, in that order),
    no other access to ``a`` in the loop, ``j`` not reassigned in it: each element read, then
    zeroed, in the same iteration."""
    if not isinstance(loop, For):
        return False
    body, j = loop.body.stmts, loop.var
    touching = [s for s in walk(loop.body) if name in stmt_reads(s)]
    if len(touching) != 2 or not all(any(s is t for s in body) for t in touching):
        return False
    get, put = touching  # (walk order is body order at the top level)
    return (isinstance(get, Eqn) and get.prim == "getitem" and get.ins[0].name == name
            and tuple(get.params.get("index", ())) == (j,)
            and isinstance(put, Store) and put.target.name == name and put.index == (j,)
            and put.op is None and isinstance(put.value, Const) and put.value.value == 0.0
            and j.name not in {v.name for s in walk(loop.body) for v in stmt_defs(s)})


def _substitute(stmt, mapping: dict):
    def sub(a):
        return Var(mapping[a.name].name) if isinstance(a, Var) and a.name in mapping else a

    if isinstance(stmt, Eqn):
        return dataclasses.replace(stmt, ins=tuple(sub(a) for a in stmt.ins))
    return dataclasses.replace(stmt, value=sub(stmt.value))


def _lift_guards(block: Block, cond: Var):
    """``for ...: if cond: X`` (nothing else in the loop) -> ``if cond: for ...: X``; then
    neighbouring ``if cond`` blocks merged."""
    for stmt in block.stmts:
        for child in child_blocks(stmt):
            _lift_guards(child, cond)
    for k, stmt in enumerate(block.stmts):
        if (isinstance(stmt, For) and len(stmt.body.stmts) == 1 and isinstance(stmt.body.stmts[0], If)
                and stmt.body.stmts[0].cond == cond and not stmt.body.stmts[0].orelse.stmts):
            inner = stmt.body.stmts[0]
            block.stmts[k] = If(cond, Block([dataclasses.replace(stmt, body=inner.then)]), Block([]), stmt.loc)
    merged = []
    for stmt in block.stmts:
        if (merged and isinstance(stmt, If) and isinstance(merged[-1], If) and stmt.cond == cond
                and merged[-1].cond == cond and not stmt.orelse.stmts and not merged[-1].orelse.stmts):
            merged[-1].then.stmts.extend(stmt.then.stmts)
        else:
            merged.append(stmt)
    block.stmts[:] = merged


def _element(types, array: str, index) -> bool:
    """``array[index]`` names one element: an integer (or constant) per dimension."""
    t = types.get(array)
    return (isinstance(t, ArrayType) and len(index) == t.ndim
            and all(not isinstance(i, Slice) and (not isinstance(i, Var) or _is_int_scalar(types, i.name))
                    for i in index))


def _scalar_index(eqn: Eqn, types) -> bool:
    return _element(types, eqn.ins[0].name, eqn.params.get("index", ()))


def _scalar_store(store: Store, types) -> bool:
    return (_element(types, store.target.name, store.index)
            and (not isinstance(store.value, Var) or _is_float_scalar(types, store.value.name)))


def _is_int_scalar(types, name) -> bool:
    t = types.get(name)
    return isinstance(t, ArrayType) and t.ndim == 0 and t.is_int


def _is_float_scalar(types, name) -> bool:
    t = types.get(name)
    return isinstance(t, ArrayType) and t.ndim == 0 and t.is_float
