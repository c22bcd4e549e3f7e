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


def check_stores(func: Func) -> None:
    """Raise UnsupportedError for the writes the adjoint cannot handle (see module doc)."""
    targets = {}
    for stmt in walk(func.body):
        if isinstance(stmt, Store):
            targets.setdefault(stmt.target.name, stmt)
    if not targets:
        return
    params = {p.name for p in func.params}
    for name, st in targets.items():
        if name in params:
            raise UnsupportedError(
                f"cannot differentiate a write into the argument {name!r}: srcgrad does not "
                f"modify its caller's arrays; make a copy first ({name}2 = {name}.copy()) and "
                "write into that", st.loc, construct="store into argument")
    renames = _harmless_copies(func, params)
    for stmt in walk(func.body):
        if isinstance(stmt, Eqn) and stmt.outs and stmt.outs[0].name in targets and \
                may_view(func, stmt) and isinstance(stmt.ins[0], Var) and \
                _is_array(func, stmt.ins[0]) and id(stmt) not in renames:
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
    links: dict = {}
    for stmt in walk(func.body):
        if isinstance(stmt, Eqn) and isinstance(stmt.ins[0] if stmt.ins else None, Var) and \
                may_view(func, stmt) and _is_array(func, stmt.ins[0]):
            x, y = stmt.outs[0].name, stmt.ins[0].name
            links.setdefault(x, set()).add(y)
            links.setdefault(y, set()).add(x)
    updates = [s for s in walk(func.body) if isinstance(s, Eqn) and s.prim == "copy" and
               s.params.get("augassign") and _is_array(func, s.outs[0])]
    if not updates:
        return
    reads: dict = {}
    for stmt in walk(func.body):
        for a in _uses(stmt):
            if isinstance(a, Var):
                reads.setdefault(a.name, []).append(stmt)
    where: dict = {}  # id(stmt) -> (position in source order, enclosing loops)
    defs: dict = {}

    def visit(block, loops):
        for stmt in block.stmts:
            where[id(stmt)] = (len(where), loops)
            if isinstance(stmt, Eqn):
                for o in stmt.outs:
                    defs.setdefault(o.name, []).append(stmt)
            inner = loops + (id(stmt),) if isinstance(stmt, (For, While)) else loops
            for child in child_blocks(stmt):
                visit(child, inner)

    visit(func.body, ())

    def before(d, upd):  # ``d`` can run before ``upd``: earlier in the source, or in a loop with it
        (i, loops), (j, upd_loops) = where[id(d)], where[id(upd)]
        return i < j or bool(set(loops) & set(upd_loops))
    for a in func.result_atoms():
        if isinstance(a, Var):
            reads.setdefault(a.name, []).append(None)
    for upd in updates:
        name = upd.outs[0].name
        group, todo = {name}, [name]
        while todo:
            for other in links.get(todo.pop(), ()):
                if other not in group:
                    group.add(other)
                    todo.append(other)
        for other in sorted(group - {name}):
            if other not in {p.name for p in func.params} and \
                    not any(before(d, upd) for d in defs.get(other, [])):
                continue  # a view of the new array only (taken after the update)
            # a copy into ``name`` itself, or a view taken of it, is not an outside observer
            observers = [r for r in reads.get(other, []) if r is None or not (
                isinstance(r, Eqn) and r.outs and r.outs[0].name in group and may_view(func, r))]
            if observers:
                op = {"add": "+", "sub": "-", "mul": "*", "truediv": "/"}.get(upd.params["augassign"], "op")
                raise UnsupportedError(
                    f"in-place {name} {op}= ... on an array that {other!r} also names (an alias "
                    f"or a view, read elsewhere): NumPy would change {other!r} too, srcgrad makes "
                    f"{name!r} a new array. Write {name} = {name} {op} ... and read {name!r}, or "
                    f"take a copy first ({other} = {name}.copy())", upd.loc, construct="in-place update of alias")


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
