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
    index_atoms,
    stmt_defs,
    stmt_uses,
    walk,
)

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
                    defined.add(stmt.var.name)
                inner = set(defined)
                for child in child_blocks(stmt):
                    inner = visit(child, inner, loops + (stmt,))
                defined |= inner
        return defined

    visit(func.body, {p.name for p in func.params}, ())
    return sites


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


def _def_count(func: Func) -> dict:
    counts: dict = {}
    for stmt in walk(func.body):
        for v in stmt_defs(stmt):
            counts[v.name] = counts.get(v.name, 0) + 1
    return counts


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
        self.recomputed: dict = {}  # id(reversed loop body) -> list of Eqns
        self.def_counts = _def_count(func)

    def tape_for(self, key: str, like: Var) -> Var:
        if key not in self.tapes:
            tape = Var(self.names.fresh(f"tape_{key}"))
            self.tapes[key] = tape
            self.prelude.append(Eqn("tape_new", (), (tape,), {}, self.func.loc))
        return self.tapes[key]

    def can_recompute(self, site: Site) -> bool:
        stmt = site.stmt
        if not site.loops or not isinstance(stmt, Eqn) or stmt.prim not in RECOMPUTABLE:
            return False
        if self.def_counts.get(site.var) != 1 or site.init is None:
            return False
        loop = site.loops[-1]
        if not isinstance(loop, For) or stmt not in loop.body.stmts:
            return False
        modified = _modified_in(loop) - {loop.var.name}
        ready = {e.outs[0].name for e in self.recomputed.get(id(loop), [])}
        for a in stmt.ins:
            if isinstance(a, Var) and a.name in modified and a.name not in ready:
                return False
        return True

    def handle(self, marker, stmt, var: Var):
        site = marker.params["site"]
        loc = stmt.loc
        if isinstance(stmt, Eqn) and self.can_recompute(site):
            loop = site.loops[-1]
            self.recomputed.setdefault(id(loop), []).append(
                Eqn(stmt.prim, stmt.ins, stmt.outs, dict(stmt.params), loc))
            self.replacements[id(marker)] = []
            return
        in_loop = bool(site.loops)
        if isinstance(stmt, Eqn):
            if in_loop:
                tape = self.tape_for(var.name, var)
                _insert_before(site.block, stmt, [Eqn("tape_push", (tape, var), (), {}, loc)])
                self.replacements[id(marker)] = [Eqn("tape_pop", (tape,), (var,), {}, loc)]
                if site.init is not None and var.name not in self.inited:
                    loop, block = site.init
                    _insert_before(block, loop, [Eqn("zero_of", (), (var,), {}, loc)])
                    self.inited.add(var.name)
            else:
                save = Var(self.names.fresh(f"{var.name}_save"))
                _insert_before(site.block, stmt, [Eqn("copy", (var,), (save,), {}, loc)])
                self.replacements[id(marker)] = [Eqn("copy", (save,), (var,), {}, loc)]
            return
        # an array element (or slice) about to be overwritten
        old = Var(self.names.fresh(f"{var.name}_old"))
        prim = "getitem_copy" if any(isinstance(i, Slice) for i in stmt.index) else "getitem"
        read = Eqn(prim, (stmt.target, *index_atoms(stmt.index)), (old,),
                   {"index": stmt.index}, loc)
        restore = Store(stmt.target, stmt.index, old, None, loc)
        if in_loop:
            tape = self.tape_for(old.name, old)
            _insert_before(site.block, stmt, [read, Eqn("tape_push", (tape, old), (), {}, loc)])
            self.replacements[id(marker)] = [Eqn("tape_pop", (tape,), (old,), {}, loc), restore]
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
        while True:
            needed = (_adjoint_uses(self.adjoint) | self._replacement_uses()) & primal
            ready = [m for m in pending if m[2].name in needed]
            if not ready:
                break
            for m in ready:
                pending.remove(m)
                self.handle(*m)
        for marker, _, _ in pending:
            self.replacements[id(marker)] = []
        self.splice(self.adjoint)
        for loop_id, eqns in self.recomputed.items():
            body = self.rev.rev_loops[loop_id]
            body.stmts[:0] = eqns
        self.func.body.stmts[:0] = self.prelude

    def _replacement_uses(self) -> set:
        names = set()
        for stmts in self.replacements.values():
            names |= _adjoint_uses(Block(stmts))
        for eqns in self.recomputed.values():
            names |= _adjoint_uses(Block(eqns))
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
