"""Reverse mode: a typed `Func` -> one `Func` holding the forward sweep and the adjoint sweep.

The scheme (the one Tapenade uses, on structured code):

* The adjoint sweep visits the statements backwards.  For ``y = prim(x1, x2)`` it inlines the
  primitive's rule (`srcgrad.rules`) to add the cotangents of the active inputs into
  ``x1_bar``/``x2_bar``, resets ``y_bar`` when ``y`` may hold another value earlier, and restores
  the value ``y`` had before the statement if the adjoint needs it.
* Values are saved only where they are overwritten *and* read by the adjoint ("needed"): in a
  local variable for a statement that runs once, on a typed tape (a list, `tape_*`) inside
  loops.  An input that is never overwritten is simply re-read.
* ``for`` loops run backwards over the same range; ``while`` loops count their iterations;
  branches re-test their condition variable (which is itself taped if a loop overwrites it).
* Array element reads scatter-add into the array's adjoint; element writes move the cotangent
  to the stored value and restore the old element.
"""

from __future__ import annotations

import copy as _copy

from . import checkpointing, forward_partials, increments, scatter, shape_witness, tape
from .errors import DifferentiationError, UnsupportedError
from .frontend import NameGen
from .ir import (
    NEWAXIS,
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
    stmt_defs,
    walk,
    written_names,
)
from .passes import activity, dce, result_type
from .primitives import NONDIFF, PRIMS
from .rules import ADJOINTS, load_builtin_rules
from .types import ArrayType

STRUCTURAL = {"getitem"}  # adjoints handled here rather than by a rule


def _names_in(func: Func) -> set:
    names = {p.name for p in func.params}
    for stmt in walk(func.body):
        names.update(v.name for v in stmt_defs(stmt))
        if isinstance(stmt, Eqn):
            names.update(a.name for a in stmt.ins if isinstance(a, Var))
    names.update(a.name for a in func.result_atoms() if isinstance(a, Var))
    return names


class Reverser:
    def __init__(self, func: Func, wrt: list, names: NameGen):
        self.func = func
        self.types = func.types
        self.names = names
        self.active = activity(func, wrt)
        self.bars: dict = {}
        self.owned = self._owned_bars()
        self.sites = tape.overwrite_sites(func)
        self.markers: list = []  # (marker Eqn, stmt, var)
        self.rev_loops: dict = {}  # id(forward loop) -> its reversed body
        self.rev_branches: dict = {}  # id(forward if branch block) -> its mirror block
        self.read_counts = None
        self.def_counts = tape._def_count(func)

    # -- bars ------------------------------------------------------------------------------
    def bar(self, name: str) -> Var:
        if name not in self.bars:
            self.bars[name] = Var(self.names.fresh(f"{name}_bar"))
        return self.bars[name]

    def is_active(self, atom) -> bool:
        return isinstance(atom, Var) and atom.name in self.active

    def is_array(self, name) -> bool:
        t = self.types.get(name)
        return isinstance(t, ArrayType) and t.ndim > 0

    def _owned_bars(self) -> set:
        """Array adjoints updated in place (scatter-add, stores): always materialised."""
        owned = set()
        for stmt in walk(self.func.body):
            if isinstance(stmt, Eqn) and stmt.prim == "getitem" and self.is_active(stmt.ins[0]):
                owned.add(stmt.ins[0].name)
            if isinstance(stmt, Store) and stmt.target.name in self.active:
                owned.add(stmt.target.name)
        return owned

    def zero(self, name, block, loc):
        """Materialise ``name_bar = 0``."""
        bar = self.bar(name)
        if self.is_array(name):
            block.stmts.append(Eqn("zeros_like_any", (Var(name),), (bar,), {}, loc))
        else:
            block.stmts.append(Eqn("copy", (Const(0.0),), (bar,), {}, loc))
        self.state[name] = "zero"

    def accumulate(self, name, contrib, block, loc):
        bar = self.bar(name)
        st = self.state.get(name)
        if name in self.owned:
            if st is None:
                self.zero(name, block, loc)
            block.stmts.append(Eqn("iadd", (bar, contrib), (), {}, loc))
        elif st in (None, "zero"):
            block.stmts.append(Eqn("copy", (contrib,), (bar,), {}, loc))
        else:
            block.stmts.append(Eqn("add", (bar, contrib), (bar,), {}, loc))
        self.state[name] = "live"

    # -- the sweeps ------------------------------------------------------------------------
    def reverse_block(self, block: Block) -> Block:
        out = Block()
        for stmt in reversed(block.stmts):
            self.reverse_stmt(stmt, out)
        return out

    def reverse_stmt(self, stmt, out: Block):
        loc = getattr(stmt, "loc", None)
        if isinstance(stmt, Eqn):
            self.reverse_eqn(stmt, out)
        elif isinstance(stmt, Store):
            self.reverse_store(stmt, out)
        elif isinstance(stmt, If):
            self.materialise_for(stmt, out)
            # each branch starts from the cotangents as they are before the if: a reset in one
            # branch (then: s = x[3]) must not make the other (else: t = t * s) overwrite s_bar
            before = dict(self.state)
            then = self.reverse_block(stmt.then)
            after_then, self.state = self.state, dict(before)
            orelse = self.reverse_block(stmt.orelse)
            for name in set(after_then) | set(self.state):
                if after_then.get(name) is not None or self.state.get(name) is not None:
                    self.state[name] = "live"
            self.rev_branches[id(stmt.then)], self.rev_branches[id(stmt.orelse)] = then, orelse
            out.stmts.append(If(stmt.cond, then, orelse, loc))
            self.mark_live(stmt)
        elif isinstance(stmt, For):
            self.materialise_for(stmt, out)
            self.iteration_locals_zero(stmt.body)
            body = self.reverse_block(stmt.body)
            self.rev_loops[id(stmt)] = body
            last = Var(self.names.fresh("last"))
            out.stmts.append(Eqn("range_last", (stmt.start, stmt.stop, stmt.step), (last,), {},
                                 loc))
            stop, step = self.reversed_bounds(stmt, out)
            out.stmts.append(For(stmt.var, last, stop, step, body, loc))
            site = self.sites.get((id(stmt), stmt.var.name))
            if site is not None:  # the variable's value from before the loop (tape.overwrite_sites)
                marker = Eqn("restore", (), (stmt.var,), {"site": site}, loc)
                out.stmts.append(marker)
                self.markers.append((marker, stmt, stmt.var))
            self.mark_live(stmt)
        elif isinstance(stmt, While):
            self.materialise_for(stmt, out)
            self.iteration_locals_zero(stmt.body)
            body = self.reverse_block(stmt.body)
            self.rev_loops[id(stmt)] = body
            counter = stmt.counter
            out.stmts.append(For(Var(self.names.fresh("it")), Const(0), counter, Const(1), body,
                                 loc))
            self.mark_live(stmt)
        elif isinstance(stmt, (Break, Continue)):
            raise UnsupportedError("break/continue cannot be differentiated yet", loc,
                                   construct="break" if isinstance(stmt, Break) else "continue")
        else:
            raise TypeError(stmt)

    def reversed_bounds(self, stmt: For, out: Block):
        step = stmt.step
        if isinstance(step, Const):
            sign = 1 if step.value > 0 else -1
            rstep = Const(-step.value)
        else:
            sign_v = Var(self.names.fresh("sgn"))
            out.stmts.append(Eqn("sign_int", (step,), (sign_v,), {}, stmt.loc))
            rstep = Var(self.names.fresh("rstep"))
            out.stmts.append(Eqn("neg", (step,), (rstep,), {}, stmt.loc))
            stop = Var(self.names.fresh("rstop"))
            out.stmts.append(Eqn("sub", (stmt.start, sign_v), (stop,), {}, stmt.loc))
            return stop, rstep
        if isinstance(stmt.start, Const):
            return Const(stmt.start.value - sign), rstep
        stop = Var(self.names.fresh("rstop"))
        out.stmts.append(Eqn("sub", (stmt.start, Const(sign)), (stop,), {}, stmt.loc))
        return stop, rstep

    def touched(self, stmt) -> set:
        """Active names whose adjoints a compound statement updates or resets."""
        names = set()
        for s in walk(Block([stmt])):
            if isinstance(s, Eqn) and s.prim not in NONDIFF:
                if any(o.name in self.active for o in s.outs):
                    names.update(a.name for a in s.ins if self.is_active(a))
                    names.update(o.name for o in s.outs if o.name in self.active)
            elif isinstance(s, Store) and s.target.name in self.active:
                names.add(s.target.name)
                if self.is_active(s.value):
                    names.add(s.value.name)
        return names

    def materialise_for(self, stmt, out: Block):
        local = self.local_arrays(stmt)
        for name in sorted(self.touched(stmt)):
            if name in local and self.state.get(name) is None:
                continue  # created inside (maybe never): its adjoint is made there too
            if self.state.get(name) is None:
                self.zero(name, out, stmt.loc)
            self.state[name] = "live"

    def local_arrays(self, stmt) -> set:
        """Arrays assigned only inside ``stmt`` and read nowhere else."""
        if self.read_counts is None:
            self.read_counts = _read_counts(self.func)
        inner = Func("", [], Block([stmt]), ())
        reads = _read_counts(inner)
        defs = tape._def_count(inner)
        params = {p.name for p in self.func.params}  # bound before the statement: not local
        return {n for n, c in defs.items() if self.is_array(n) and n not in self.owned and n not in params and
                c == self.def_counts.get(n) and reads.get(n, 0) == self.read_counts.get(n, 0)}

    def iteration_locals_zero(self, body: Block):
        """Adjoints of values local to one iteration are zero when a reversed iteration starts
        (each is reset after its definition's adjoint): accumulate into them by assignment,
        not addition, so no add chain is carried from one iteration to the next."""
        if self.read_counts is None:
            self.read_counts = _read_counts(self.func)
        for k, stmt in enumerate(body.stmts):
            if not (isinstance(stmt, Eqn) and len(stmt.outs) == 1):
                continue
            name = stmt.outs[0].name
            if name not in self.active or self.def_counts.get(name) != 1:
                continue
            later = _read_counts(Func("", [], Block(body.stmts[k + 1:]), ()))
            if later.get(name, 0) == self.read_counts.get(name, 0) and \
                    self.state.get(name) is not None:  # (a local array's starts unmade)
                self.state[name] = "zero"

    def mark_live(self, stmt):
        for name in self.touched(stmt):
            self.state[name] = "live"

    def reset_and_restore(self, stmt, var: Var, out: Block):
        site = self.sites.get((id(stmt), var.name))
        if site is not None:
            marker = Eqn("restore", (), (var,), {"site": site}, stmt.loc)
            out.stmts.append(marker)
            self.markers.append((marker, stmt, var))
        if var.name in self.active and var.name in self.bars and site is not None:
            # after the restore: the reset bar is the previous binding's, of its shape
            # (a = a[1:], a = np.concatenate((a, ...)) rebind a to another shape)
            self.zero(var.name, out, stmt.loc)

    def reverse_eqn(self, eqn: Eqn, out: Block):
        active_out = [o for o in eqn.outs if o.name in self.active]
        if active_out and eqn.prim not in NONDIFF:
            if len(eqn.outs) != 1:
                raise DifferentiationError(f"no reverse rule for multi-output {eqn.prim}",
                                           eqn.loc, construct=eqn.prim)
            y = eqn.outs[0]
            if self.state.get(y.name) is not None:  # y_bar may be non-zero
                if eqn.prim in STRUCTURAL:
                    self.reverse_structural(eqn, out)
                else:
                    self.apply_rule(eqn, out)
        for var in reversed(eqn.outs):
            self.reset_and_restore(eqn, var, out)

    def reverse_structural(self, eqn: Eqn, out: Block):
        if eqn.prim == "getitem":
            base = eqn.ins[0]
            if self.is_active(base):
                if self.state.get(base.name) is None:
                    self.zero(base.name, out, eqn.loc)
                index = eqn.params["index"]
                op = "add"
                if scatter.needs_scatter(index, self.types):  # repeated entries accumulate
                    scatter.plan(index, self.types, self.types[base.name].ndim, eqn.loc)
                    op = "scatter_add"
                out.stmts.append(Store(self.bar(base.name), index,
                                       self.bar(eqn.outs[0].name), op, eqn.loc))
                self.state[base.name] = "live"

    def apply_rule(self, eqn: Eqn, out: Block):
        rule = ADJOINTS.get(eqn.prim)
        if rule is None:
            raise DifferentiationError(f"no adjoint rule for {eqn.prim!r}", eqn.loc,
                                       construct=eqn.prim)
        y = eqn.outs[0]
        start = len(out.stmts)
        contribs = inline_rule(rule, self.bar(y.name), y, eqn.ins, out, self.names, eqn.loc)
        inlined = out.stmts[start:]
        forward_partials.substitute(eqn, inlined)
        out.stmts[start:] = inlined
        y_type = self.types.get(y.name)
        for x, c in zip(eqn.ins, contribs):
            if not self.is_active(x) or c is None or (isinstance(c, Const) and c.value is None):
                continue
            x_type = self.types.get(x.name)
            if not (x_type.ndim == 0 and y_type.ndim == 0):
                # rules of non-broadcasting primitives return x's shape: only the dtype may differ
                exact = PRIMS[eqn.prim].meta.get("exact_cotangents", False)
                red = Var(self.names.fresh("t"))
                out.stmts.append(Eqn("cast_like" if exact else "unbroadcast", (c, x), (red,), {},
                                     eqn.loc))
                c = red
            self.accumulate(x.name, c, out, eqn.loc)
        shape_witness.retarget(self, eqn, out.stmts, start)  # shape-only reads (shape_witness.py)

    def reverse_store(self, st: Store, out: Block):
        loc = st.loc
        a = st.target.name
        if a in self.active and self.state.get(a) is not None:
            abar = self.bar(a)
            if self.is_active(st.value):
                g = Var(self.names.fresh("t"))
                vt = self.types.get(st.value.name)
                element = all(isinstance(i, (Var, Const)) and
                              self.types.get(getattr(i, "name", None), ArrayType("int64")).ndim
                              == 0 for i in st.index) and len(st.index) == self.types[a].ndim
                self.check_unique_index(st, out)
                # a slice of the bar is a view: copy it before the bar is zeroed below
                prim = "getitem" if element or st.op is not None else "getitem_copy"
                out.stmts.append(Eqn(prim, (abar, *index_atoms(st.index)), (g,),
                                     {"index": st.index}, loc))
                if not (element and vt.ndim == 0):
                    red = Var(self.names.fresh("t"))
                    out.stmts.append(Eqn("unbroadcast", (g, st.value), (red,), {}, loc))
                    g = red
                self.accumulate(st.value.name, g, out, loc)
            if st.op is None:
                out.stmts.append(Store(abar, st.index, Const(0.0), None, loc))
        site = self.sites.get((id(st), a))
        if site is not None:
            marker = Eqn("restore_item", (), (), {"site": site}, loc)
            out.stmts.append(marker)
            self.markers.append((marker, st, st.target))

    def check_unique_index(self, st: Store, out: Block):
        """``a[idx] = v`` / ``a[idx] += v`` with an integer index array: NumPy keeps the last of
        repeated writes, so only the last occurrence's value reaches ``a``; the gathered
        cotangent would credit every occurrence. Repeated entries raise at run time instead."""
        axis = 0
        for item in st.index:
            if item is NEWAXIS:
                continue
            t = self.types.get(item.name) if isinstance(item, Var) else None
            if isinstance(t, ArrayType) and t.ndim > 0 and t.dtype != "bool":
                loc = st.loc
                where = (f"{loc.file}:{loc.line}: " if loc else "") + \
                    "a store through an index array repeats an index: NumPy keeps the last write " \
                    "there, which srcgrad does not differentiate; use unique indices"
                out.stmts.append(Eqn("unique_index", (item, st.target), (),
                                     {"axis": axis, "where": where}, loc))
            axis += 1

    def run(self, seed_names: dict) -> Block:
        self.state = {}
        for name in seed_names:
            self.state[name] = "live"
        return self.reverse_block(self.func.body)


def instrument_whiles(func: Func, names) -> None:
    """Give every while loop an iteration counter (the adjoint runs its body that often)."""

    def visit(block: Block):
        out = []
        for stmt in block.stmts:
            for child in child_blocks(stmt):
                visit(child)
            if isinstance(stmt, While):
                counter = Var(names.fresh("n_iter"))
                step = Var(names.fresh("t"))
                out.append(Eqn("copy", (Const(0),), (counter,), {}, stmt.loc))
                stmt.body.stmts[:0] = [Eqn("add", (counter, Const(1)), (step,), {}, stmt.loc),
                                       Eqn("copy", (step,), (counter,), {}, stmt.loc)]
                stmt.counter = counter
            out.append(stmt)
        block.stmts = out

    visit(func.body)


def _read_counts(func: Func) -> dict:
    """name -> how many times statements (and the result) read it."""
    counts: dict = {}
    for stmt in walk(func.body):
        for a in tape._all_uses(stmt):
            if isinstance(a, Var):
                counts[a.name] = counts.get(a.name, 0) + 1
    for a in func.result_atoms():
        if isinstance(a, Var):
            counts[a.name] = counts.get(a.name, 0) + 1
    return counts


def inline_rule(rule, g: Var, y: Var, ins, out: Block, names: NameGen, loc):
    """Copy the rule's IR into ``out`` with its parameters bound; return its result atoms."""
    rir = rule.ir
    params = [p.name for p in rir.params]
    binding = {params[0]: g}
    rest = params[1:]
    if rule.uses_ans:
        binding[rest[0]] = y
        rest = rest[1:]
    if len(rest) != len(ins):
        raise DifferentiationError(
            f"{rule.prim} is differentiated with {len(rest)} argument(s) and this call passes "
            f"{len(ins)}: the extra arguments (an offset, an axis given by position, ...) are not "
            "supported here; register a rule for your own function with @srcgrad.adjoint",
            loc, construct=rule.prim)
    binding.update(zip(rest, ins))
    body = _copy.deepcopy(rir.body)
    for stmt in walk(body):
        for v in stmt_defs(stmt):
            if v.name not in binding:
                binding[v.name] = Var(names.fresh("t"))
    _rename(body, binding, loc)
    out.stmts.extend(body.stmts)
    result = rir.result if isinstance(rir.result, tuple) else (rir.result,)
    return [binding.get(a.name, a) if isinstance(a, Var) else a for a in result]


def _rename(block: Block, binding: dict, loc):
    def sub(a):
        return binding.get(a.name, a) if isinstance(a, Var) else a

    def sub_item(item):  # index entries: atoms and slices of atoms (g[::-1]'s step is a temp)
        if isinstance(item, Slice):
            return Slice(*(None if p is None else sub(p) for p in (item.start, item.stop, item.step)))
        return sub(item)

    for stmt in block.stmts:
        stmt.loc = loc
        if isinstance(stmt, Eqn):
            stmt.ins = tuple(sub(a) for a in stmt.ins)
            stmt.outs = tuple(sub(a) for a in stmt.outs)
            if "index" in stmt.params:
                stmt.params = {**stmt.params, "index": tuple(sub_item(i) for i in stmt.params["index"])}
        elif isinstance(stmt, If):
            stmt.cond = sub(stmt.cond)
        else:
            raise UnsupportedError("adjoint rules must be straight-line code or if/else", loc)
        for child in child_blocks(stmt):
            _rename(child, binding, loc)


def reverse(func: Func, argnums: tuple, mode: str, as_tuple: bool = False) -> Func:
    """Build ``f_grad`` / ``f_value_and_grad`` / ``f_vjp`` from a typed, folded `Func`."""
    load_builtin_rules()
    func = increments.fuse_increments(_copy.deepcopy(func))  # a[i] = a[i] + v -> a[i] += v
    wrt = []
    for i in argnums:
        if not 0 <= i < len(func.params):
            raise DifferentiationError(f"argnums={i} is out of range: {func.name} takes "
                                       f"{len(func.params)} arguments", func.loc)
        p = func.params[i]
        t = func.types[p.name]
        if not (isinstance(t, ArrayType) and t.is_float):
            raise DifferentiationError(
                f"cannot differentiate with respect to argument {p.name!r} (argnums={i}): it "
                f"is {t}; only float scalars and float arrays have gradients (pass a float, "
                f"e.g. {p.name}=2.0, or leave it out of argnums)", func.loc,
                construct="argnums")
        wrt.append(p)
    results = func.result_atoms()
    if mode in ("grad", "value_and_grad"):
        rt = result_type(func, results[0]) if len(results) == 1 else None
        if len(results) != 1 or not isinstance(rt, ArrayType) or rt.ndim != 0 or \
                not (rt.is_float or rt.is_int or rt.is_bool):
            shown = ", ".join(str(result_type(func, a)) for a in results)
            raise DifferentiationError(
                f"grad needs a function with one scalar float output; {func.name} returns "
                f"{shown}. For a vector output use srcgrad.vjp(f, *args) and call the pullback "
                "with a cotangent (PyTorch's y.backward(gradient=v))", func.loc,
                construct="grad")
    names = NameGen()
    names.taken |= _names_in(func)
    instrument_whiles(func, names)
    forward_partials.hoist(func, names)
    from .passes import infer_types

    infer_types(func, [func.types[p.name] for p in func.params])
    rev = Reverser(func, wrt, names)
    seed_block = Block()
    params = list(func.params)
    seeds = {}
    if mode == "vjp":
        ct = Var(names.fresh("ct"))
        params.append(ct)
        for i, atom in enumerate(results):
            if rev.is_active(atom):
                src = ct if len(results) == 1 else Var(names.fresh("ct"))
                if len(results) > 1:
                    seed_block.stmts.append(Eqn("getitem", (ct,), (src,),
                                                {"index": (Const(i),)}, func.loc))
                # an array cotangent is copied: the adjoint updates the bar in place, which must
                # neither write into the caller's array nor be folded into reads of it
                seed_block.stmts.append(Eqn(_copy_prim(func.types.get(atom.name)), (src,),
                                            (rev.bar(atom.name),), {}, func.loc))
                seeds[atom.name] = True
    else:
        r = results[0]
        if rev.is_active(r):
            seed_block.stmts.append(Eqn("copy", (Const(1.0),), (rev.bar(r.name),), {}, func.loc))
            seeds[r.name] = True
    adjoint = rev.run(seeds)
    # drop rule outputs nobody reads before deciding what the adjoint needs saved
    roots = [rev.bars[p.name] for p in wrt if p.name in rev.bars]
    dce(Func("adjoint", [], adjoint, tuple(roots)))
    forward = func.body
    clean = checkpointing.clean_bodies(func)
    tape.insert_saves(func, adjoint, rev, names)
    if clean:  # segment loops: no tape in the forward sweep, re-run each segment in reverse
        prelude: list = []
        checkpointing.apply_checkpoints(func, rev, names, clean, prelude)
        func.body.stmts[:0] = prelude
    grads = []
    tail = Block()
    for p in wrt:
        if p.name in rev.bars and rev.state.get(p.name) is not None:
            g = rev.bars[p.name]
        else:
            g = Var(names.fresh(f"{p.name}_bar"))
            tail.stmts.append(Eqn("zeros_like_any", (p,), (g,), {}, func.loc))
        cast = Var(names.fresh(f"d_{p.name}"))
        tail.stmts.append(Eqn("cast_like", (g, p), (cast,), {}, func.loc))
        grads.append(cast)
    grads_out = tuple(grads) if as_tuple else grads[0]
    capture = Block()
    if mode == "grad":
        result = grads_out
    else:
        value = _captured_value(func, adjoint, names, capture)
        result = (value, grads_out)
    body = Block(forward.stmts + capture.stmts + seed_block.stmts + adjoint.stmts + tail.stmts)
    suffix = {"grad": "grad", "value_and_grad": "value_and_grad", "vjp": "vjp"}[mode]
    return Func(f"{func.name}_{suffix}", params, body, result, func.loc)


def _copy_prim(t) -> str:
    """A copy that owns its memory: ``.copy()`` of an array, plain assignment of a number."""
    return "copy_array" if isinstance(t, ArrayType) and t.ndim > 0 else "copy"


def _captured_value(func: Func, adjoint: Block, names, capture: Block):
    """The primal result as the forward sweep leaves it.  The adjoint restores overwritten
    variables and array elements as it goes back, so a result it touches (``a`` carried through
    a loop and restored from a tape, or an array whose elements it restores, or a view of one) is
    copied into a fresh name between the two sweeps; anything else is returned as it is."""
    from .passes import _closure, _view_links

    written = written_names(adjoint.stmts)
    links = _view_links(func)

    def keep(atom):
        if not isinstance(atom, Var) or not (_closure({atom.name}, links) & written):
            return atom
        out = Var(names.fresh(f"{atom.name}_value"))
        capture.stmts.append(Eqn(_copy_prim(func.types.get(atom.name)), (atom,), (out,), {}, func.loc))
        return out

    value = func.result
    if isinstance(value, tuple):
        return tuple(keep(a) for a in value)
    return keep(value)
