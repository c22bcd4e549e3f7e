"""Which in-place writes the reverse pass accepts (checked before differentiating).

The adjoint of ``a[idx] = v`` moves ``a_bar[idx]`` to ``v`` and restores the old element, which
is exact when ``a`` is an array the function allocated itself and nothing else shares its
memory.  Rejected, with an `UnsupportedError` at the offending line:

* writes into an argument (the caller's array would be modified, and the restore would hide
  it): copy it first, ``a = x.copy()``;
* writes through an alias or a view (``b = a`` kept as a second name, ``v = a[1:]; v[0] = ...``,
  ``a.T``...): the adjoint would credit the wrong array;
* reading a view of a written array after a later write into it (``v = a[1:]; a[2] = y;
  s = v[1]``): the view sees the write, its adjoint would not.  Copy the slice (``.copy()``) or
  read it before writing.
"""

from __future__ import annotations

import re

from .errors import UnsupportedError
from .ir import Block, Eqn, For, Func, Slice, Store, Var, While, child_blocks, stmt_uses, walk
from .types import ArrayType

# primitives whose array result may share memory with their first input
VIEW_PRIMS = {"copy", "getitem", "stop_gradient", "pos", "transpose", "T", "reshape", "ravel",
              "squeeze", "expand_dims", "swapaxes", "diagonal", "broadcast_to", "view",
              "squeeze_axis", "expand_dims_axis", "flatten_view", "atleast_1d", "atleast_2d"}


def _is_array(func, atom) -> bool:
    t = func.types.get(atom.name) if isinstance(atom, Var) else None
    return isinstance(t, ArrayType) and t.ndim > 0


def may_view(func, eqn) -> bool:
    if not eqn.outs or not _is_array(func, eqn.outs[0]):
        return False
    if eqn.prim == "getitem":
        # basic indexing (ints and slices) gives a view; an index array gives a copy
        idx = eqn.params.get("index", ())
        return not any(isinstance(i, Var) and _is_array(func, i) for i in idx)
    return eqn.prim in VIEW_PRIMS or "reshape" in eqn.prim or "transpose" in eqn.prim


class _Order:
    """Where each statement sits: source position, enclosing loops, enclosing blocks; enough to
    tell, in structured code, whether a definition can reach a later use."""

    def __init__(self, func: Func):
        self.where: dict = {}
        self.defs: dict = {}
        self._visit(func.body, (), (id(func.body),))

    def _visit(self, block, loops, blocks):
        for stmt in block.stmts:
            self.where[id(stmt)] = (len(self.where), loops, blocks)
            if isinstance(stmt, Eqn):
                for o in stmt.outs:
                    self.defs.setdefault(o.name, []).append(stmt)
            inner = loops + (id(stmt),) if isinstance(stmt, (For, While)) else loops
            for child in child_blocks(stmt):
                self._visit(child, inner, blocks + (id(child),))

    def may_precede(self, d, use) -> bool:
        """``d`` can run before ``use``: earlier in the source, or in a loop with it."""
        (i, loops_d, _), (j, loops_u, _) = self.where[id(d)], self.where[id(use)]
        return i < j or bool(set(loops_d) & set(loops_u))

    def fresh(self, func, d) -> bool:
        """``d`` gives its output a new array: not a view, or a copy of a temporary that only
        new arrays define (the frontend writes ``h = h * 2.0`` as ``t = h * 2.0; h = t``)."""
        if not may_view(func, d):
            return True
        src = d.ins[0] if d.prim == "copy" and d.ins and isinstance(d.ins[0], Var) else None
        return src is not None and bool(self.defs.get(src.name)) and \
            all(not may_view(func, e) for e in self.defs[src.name])

    def fresh_between(self, func, name, start, use) -> bool:
        """A definition of ``name`` by a new array (not a view) runs on every path from ``start``
        (a statement, or None for the function's entry) to ``use``, after ``start``."""
        i, loops_s, _ = self.where[id(start)] if start is not None else (-1, (), ())
        j, loops_u, blocks_u = self.where[id(use)]
        for d in self.defs.get(name, []):
            k, loops_d, blocks_d = self.where[id(d)]
            if d is start or d is use or not i < k < j or not self.fresh(func, d):
                continue
            # d dominates use (its block encloses use's), and no loop takes start to use around d
            if blocks_d[-1] in blocks_u and set(loops_s) & set(loops_u) <= set(loops_d):
                return True
        return False

    def reaches(self, func, name, d, use) -> bool:
        """The value ``d`` gives ``name`` may still be ``name``'s at ``use``."""
        i, loops_d, _ = self.where[id(d)]
        j, loops_u, _ = self.where[id(use)]
        if i >= j and not set(loops_d) & set(loops_u):
            return False  # after the use, and no loop brings it back
        return not self.fresh_between(func, name, d, use)


def check_stores(func: Func) -> None:
    """Raise UnsupportedError for the writes the adjoint cannot handle (see module doc)."""
    targets = {}
    for stmt in walk(func.body):
        if isinstance(stmt, Store):
            targets.setdefault(stmt.target.name, stmt)
    if not targets:
        return
    params = {p.name for p in func.params}
    order = _Order(func)
    stores = [st for st in walk(func.body) if isinstance(st, Store)]
    for st in stores:
        name = st.target.name
        if name in params and not order.fresh_between(func, name, None, st):  # x = x.copy() first
            raise UnsupportedError(
                f"cannot differentiate a write into the argument {name!r}: srcgrad does not "
                f"modify its caller's arrays; make a copy first ({name}2 = {name}.copy()) and "
                "write into that", st.loc, construct="store into argument")
    renames = _harmless_copies(func, params)
    for stmt in walk(func.body):
        if isinstance(stmt, Eqn) and stmt.outs and stmt.outs[0].name in targets and \
                may_view(func, stmt) and isinstance(stmt.ins[0], Var) and \
                _is_array(func, stmt.ins[0]) and id(stmt) not in renames and \
                any(order.reaches(func, stmt.outs[0].name, stmt, st) for st in stores
                    if st.target.name == stmt.outs[0].name):
            name = stmt.outs[0].name
            raise UnsupportedError(
                f"{name!r} is written in place (line {targets[name].loc.line if targets[name].loc else '?'}) "
                f"but here it becomes an alias or a view of {stmt.ins[0].name!r}; srcgrad "
                "differentiates writes only into arrays the function allocates "
                f"(np.zeros, np.empty, .copy()): use {stmt.ins[0].name}.copy()",
                stmt.loc, construct="store into alias")
    _check_views(func, func.body, set(targets), renames)


def check_inplace_aliases(func: Func) -> None:
    """``a += v`` on an array is lowered as ``a = a + v``, a new array. NumPy adds in place, so
    another name of the same memory (``b = a``, a view ``v = a[1:]``) would see the change:
    reject the update when such a name is read anywhere (the value would silently differ)."""
    updates = [s for s in walk(func.body) if isinstance(s, Eqn) and s.prim == "copy" and
               s.params.get("augassign") and _is_array(func, s.outs[0])]
    if not updates:
        return
    links: dict = {}
    for stmt in walk(func.body):
        if isinstance(stmt, Eqn) and isinstance(stmt.ins[0] if stmt.ins else None, Var) and \
                may_view(func, stmt) and _is_array(func, stmt.ins[0]):
            x, y = stmt.outs[0].name, stmt.ins[0].name
            links.setdefault(x, []).append((y, stmt))
            links.setdefault(y, []).append((x, stmt))
    order = _Order(func)
    reads: dict = {}
    for stmt in walk(func.body):
        for a in _uses(stmt):
            if isinstance(a, Var):
                reads.setdefault(a.name, []).append(stmt)
    for a in func.result_atoms():
        if isinstance(a, Var):
            reads.setdefault(a.name, []).append(None)
    params = {p.name for p in func.params}
    for upd in updates:
        name = upd.outs[0].name
        group, todo = {name}, [name]
        while todo:
            here = todo.pop()
            for other, link in links.get(here, ()):
                if here == name and (link is upd or not order.reaches(func, name, link, upd)):
                    continue  # h0 = h; h = h * 2.0 (a new array); h += 1: h0 is not h any more
                if other not in group:
                    group.add(other)
                    todo.append(other)
        for other in sorted(group - {name}):
            if other not in params and \
                    not any(order.may_precede(d, upd) for d in order.defs.get(other, [])):
                continue  # a view of the new array only (taken after the update)
            # a copy into ``name`` itself, or a view taken of it, is not an outside observer
            # ... read after the update (a read before it, or by the update's own right-hand
            # side as in a *= a.T, sees the old values either way)
            observers = [r for r in reads.get(other, []) if r is None or (order.may_precede(upd, r) and not (
                isinstance(r, Eqn) and r.outs and r.outs[0].name in group and may_view(func, r)))]
            if observers:
                op = {"add": "+", "sub": "-", "mul": "*", "truediv": "/"}.get(upd.params["augassign"], "op")
                other_text = f"a view of {name!r} taken in an expression" if re.fullmatch(r"t\d+", other) \
                    else repr(other)
                raise UnsupportedError(
                    f"in-place {name} {op}= ... on an array that {other_text} also names (an alias "
                    f"or a view, read after this line): NumPy would change it too, srcgrad makes "
                    f"{name!r} a new array. Write {name} = {name} {op} ... and read {name!r}, or "
                    f"copy the other name first (... = {name}.copy())", upd.loc,
                    construct="in-place update of alias")


def _harmless_copies(func: Func, params: set) -> set:
    """ids of ``b = a`` copies that only rename a new array: ``a`` is created, filled and
    copied in one block, in that order, and read nowhere else (``a += v``, ``np.array([...])``
    and multi-return functions lower this way)."""
    reads, defs = {}, {}
    for stmt in walk(func.body):
        for a in _uses(stmt)[1 if isinstance(stmt, Store) else 0:]:
            if isinstance(a, Var):
                reads[a.name] = reads.get(a.name, 0) + 1
        if isinstance(stmt, Eqn):
            for o in stmt.outs:
                defs[o.name] = defs.get(o.name, 0) + 1
    out = set()
    blocks = [func.body] + [c for s in walk(func.body) for c in child_blocks(s)]
    for block in blocks:
        made, stored = set(), {}
        for stmt in block.stmts:
            if isinstance(stmt, Eqn) and stmt.outs and not may_view(func, stmt):
                made.update(o.name for o in stmt.outs)
            if isinstance(stmt, Store):
                stored[stmt.target.name] = stored.get(stmt.target.name, 0) + 1
            if isinstance(stmt, Eqn) and stmt.prim == "copy" and isinstance(stmt.ins[0], Var):
                src = stmt.ins[0].name
                all_stores = sum(1 for s in walk(func.body)
                                 if isinstance(s, Store) and s.target.name == src)
                if src in made and src not in params and defs.get(src) == 1 and \
                        reads.get(src) == 1 and stored.get(src, 0) == all_stores:
                    out.add(id(stmt))
    return out


def _check_views(func, block: Block, targets: set, renames: set) -> None:
    stmts = block.stmts
    for k, stmt in enumerate(stmts):
        for child in child_blocks(stmt):
            _check_views(func, child, targets, renames)
        if not (isinstance(stmt, Eqn) and may_view(func, stmt) and isinstance(stmt.ins[0], Var)
                and stmt.ins[0].name in targets) or id(stmt) in renames:
            continue
        view, base = stmt.outs[0].name, stmt.ins[0].name
        written = False
        names = {view}  # the view and names bound to it later (b = v, or v passed to a helper)
        for later in stmts[k + 1:]:
            sub = Block([later])
            hit = next((a.name for s in walk(sub) for a in _uses(s)
                        if isinstance(a, Var) and a.name in names), None) if written else None
            if hit is not None:
                raise UnsupportedError(
                    f"{hit!r} is a view of {base!r} (a slice without .copy(), or another name of "
                    f"it) and is read after {base!r} is written in place; the gradient would miss "
                    f"that write. Read it before writing, or take a copy: {base}[...].copy()",
                    later.loc or stmt.loc, construct="view read after write")
            if any(isinstance(s, Store) and s.target.name == base for s in walk(sub)):
                written = True
            if isinstance(later, Eqn) and later.outs:
                if later.ins and isinstance(later.ins[0], Var) and later.ins[0].name in names and \
                        may_view(func, later) and id(later) not in renames:
                    names.add(later.outs[0].name)
                else:  # rebound to a new value (hidden = f(hidden)): no longer the view
                    names -= {o.name for o in later.outs}
                    if not names:
                        break
        if _used_outside(func.body, block, view):
            if any(isinstance(s, Store) and s.target.name == base for s in walk(func.body)):
                raise UnsupportedError(
                    f"{view!r} is a view of {base!r}, which is written in place, and is used "
                    "outside the block that defines it; take a copy with .copy()", stmt.loc,
                    construct="view of written array")


def _uses(stmt) -> list:
    atoms = list(stmt_uses(stmt))
    if isinstance(stmt, Eqn) and stmt.prim == "getitem":
        for item in stmt.params.get("index", ()):
            if isinstance(item, Slice):
                atoms.extend(item.atoms())
    return atoms


def _used_outside(root: Block, home: Block, name: str) -> bool:
    """Whether ``name`` is read by a statement that is not directly in (or nested under) home."""
    inside = {id(s) for s in walk(home)}
    for s in walk(root):
        if id(s) in inside:
            continue
        if any(isinstance(a, Var) and a.name == name for a in _uses(s)):
            return True
    return False
