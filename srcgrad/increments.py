"""Element increments ``a[i] += v``: recognised in the primal, kept in registers in the adjoint.

`fuse_increments` (on the primal, before the reverse pass) turns ``u = a[i]; w = u + v;
a[i] = w`` (``u``, ``w`` read nowhere else) into the increment ``a[i] += v``.  The adjoint of a
plain store moves ``a_bar[i]`` to the stored value and zeroes it, so the read ``u`` then added it
straight back (``a_bar[i] = 0; a_bar[i] += w_bar``); an increment's adjoint just reads
``a_bar[i]``.

`hoist_accumulators` (on generated code) replaces increments ``a[i] += v`` inside a ``for``
loop whose index ``i`` the loop does not change by a scalar accumulator, added to ``a[i]`` once
after the loop if it is not zero (after zero trips the user's code never evaluated ``i``, which
may then be out of bounds).  The adjoint is full of these (``x_bar[col] += ...`` inside a loop over ``row``):
through memory each one waits for the previous store, and numba cannot keep them in a register
because it cannot rule out that another array aliases ``a``.  Only arrays this is provably safe
for are touched: made once by ``zeros_like_any``, used only through scalar element reads and
stores (no view, copy or alias of them exists), and neither read nor plainly stored in the loop.
"""

from __future__ import annotations

from .ir import (
    NEWAXIS,
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
    all_blocks,
    stmt_defs,
    walk,
    written_names,
)
from .types import ArrayType


def _uses(func: Func) -> dict:
    from .tape import _all_uses

    counts: dict = {}
    for s in walk(func.body):
        for a in _all_uses(s):
            if isinstance(a, Var):
                counts[a.name] = counts.get(a.name, 0) + 1
    for a in func.result_atoms():
        if isinstance(a, Var):
            counts[a.name] = counts.get(a.name, 0) + 1
    return counts


def _scalar_index(func: Func, target: str, index) -> bool:
    t = func.types.get(target)
    if not (isinstance(t, ArrayType) and len(index) == t.ndim):
        return False
    for item in index:
        if isinstance(item, Slice) or item is NEWAXIS or not isinstance(item, (Var, Const)):
            return False
        it = func.types.get(item.name) if isinstance(item, Var) else None
        if isinstance(item, Var) and not (isinstance(it, ArrayType) and it.ndim == 0 and it.is_int):
            return False
    return True


def fuse_increments(func: Func) -> Func:
    """``a[i] = a[i] + v`` -> ``a[i] += v`` where the read and the sum are used only there."""
    uses = _uses(func)
    defs: dict = {}
    for s in walk(func.body):
        for v in stmt_defs(s):
            defs[v.name] = defs.get(v.name, 0) + 1
    for block in all_blocks(func.body):
        stmts = block.stmts
        drop = set()
        for p, st in enumerate(stmts):
            if not (isinstance(st, Store) and st.op is None and isinstance(st.value, Var)):
                continue
            w = st.value.name
            q = next((k for k in range(p - 1, -1, -1) if isinstance(stmts[k], Eqn) and
                      any(o.name == w for o in stmts[k].outs)), None)
            if q is None or stmts[q].prim != "add" or uses.get(w) != 1 or defs.get(w) != 1:
                continue
            add = stmts[q]
            for pos_u in (0, 1):
                u, v = add.ins[pos_u], add.ins[1 - pos_u]
                if not isinstance(u, Var) or uses.get(u.name) != 1 or defs.get(u.name) != 1:
                    continue
                r = next((k for k in range(q - 1, -1, -1) if isinstance(stmts[k], Eqn) and
                          any(o.name == u.name for o in stmts[k].outs)), None)
                if r is None:
                    continue
                get = stmts[r]
                if not (get.prim == "getitem" and get.ins[0] == st.target and
                        tuple(get.params.get("index", ())) == tuple(st.index) and
                        _scalar_index(func, st.target.name, st.index)):
                    continue
                t = func.types.get(st.target.name)
                same = all(isinstance(func.types.get(n), ArrayType) and
                           func.types[n].ndim == 0 and func.types[n].dtype == t.dtype
                           for n in (u.name, w) + ((v.name,) if isinstance(v, Var) else ()))
                touched = {st.target.name} | {a.name for a in st.index if isinstance(a, Var)}
                if not same or isinstance(v, Const) or written_names(stmts[r + 1:p]) & touched:
                    continue
                st.value, st.op = v, "add"
                drop |= {r, q}
                break
        block.stmts = [s for k, s in enumerate(stmts) if k not in drop]
    return func


def _private_arrays(func: Func) -> set:
    """Arrays made once by ``zeros_like_any`` and used only through scalar element reads and
    stores (plus a final ``cast_like`` whose result is only returned): nothing aliases them."""
    made: dict = {}
    for s in walk(func.body):
        for v in stmt_defs(s):
            made[v.name] = made.get(v.name, 0) + (1 if isinstance(s, Eqn) and
                                                  s.prim == "zeros_like_any" else 100)
    ok = {n for n, c in made.items() if c == 1 and isinstance(func.types.get(n), ArrayType) and
          func.types[n].is_float}  # (an integer array would round each increment)
    results = {a.name for a in func.result_atoms() if isinstance(a, Var)}
    for s in walk(func.body):
        if isinstance(s, Store):
            if isinstance(s.value, Var):
                ok.discard(s.value.name)
            if s.target.name in ok and not _scalar_index(func, s.target.name, s.index):
                ok.discard(s.target.name)
        elif isinstance(s, Eqn):
            for k, a in enumerate(s.ins):
                if not isinstance(a, Var) or a.name not in ok or s.prim == "zeros_like_any":
                    continue
                if s.prim == "getitem" and k == 0 and \
                        _scalar_index(func, a.name, s.params.get("index", ())):
                    continue
                if s.prim == "cast_like" and k == 0 and s.outs[0].name in results:
                    continue
                ok.discard(a.name)
        elif isinstance(s, (If, While)) and isinstance(getattr(s, "cond", None), Var):
            ok.discard(s.cond.name)
    return ok


def hoist_accumulators(func: Func) -> Func:
    """Loop-invariant increments of private arrays -> scalar accumulators (module doc)."""
    private = _private_arrays(func)
    if private:
        taken = {v.name for s in walk(func.body) for v in stmt_defs(s)}
        taken |= {p.name for p in func.params}
        _hoist_block(func, func.body, private, taken)
    return func


def _fresh(taken: set, base: str) -> Var:
    k = 0
    while f"{base}{k}" in taken:
        k += 1
    taken.add(f"{base}{k}")
    return Var(f"{base}{k}")


def _hoist_block(func: Func, block: Block, private: set, taken: set):
    out = []
    for s in block.stmts:
        after = []
        if isinstance(s, For):
            after = _hoist_loop(func, s, private, taken, out)
        for child in ([s.then, s.orelse] if isinstance(s, If) else [s.body] if isinstance(s, For)
                      else [s.cond_block, s.body] if isinstance(s, While) else []):
            _hoist_block(func, child, private, taken)
        out.append(s)
        out.extend(after)
    block.stmts = out


def _hoist_loop(func: Func, loop: For, private: set, taken: set, before: list) -> list:
    inner = list(walk(loop.body))
    changed = written_names(loop.body.stmts) | {loop.var.name}
    cands: dict = {}  # array -> list of stores
    for s in inner:
        if isinstance(s, Store) and s.target.name in private and s.op == "add" and \
                not any(isinstance(a, Var) and a.name in changed for a in s.index):
            t = func.types.get(s.value.name) if isinstance(s.value, Var) else None
            if isinstance(s.value, Var) and isinstance(t, ArrayType) and t.ndim == 0:
                cands.setdefault(s.target.name, []).append(s)
    flushes, new = [], {}
    for name, stores in sorted(cands.items()):
        mentioned = sum(1 for s in inner for a in _mentions(s) if a == name)
        if mentioned != len(stores):
            continue  # read, or plainly stored, in the loop: keep it in memory
        dtype = func.types[name].dtype
        accs: dict = {}
        for st in stores:
            key = tuple(st.index)
            if key not in accs:
                accs[key] = acc = _fresh(taken, f"{name}_acc")
                func.types[acc.name] = ArrayType(dtype)
                before.append(Eqn("copy", (Const(0.0),), (acc,), {}, loop.loc))
                flushes.append(Store(Var(name), st.index, acc, "add", st.loc))
            acc = accs[key]  # acc = acc + v: an accumulator loop_order recognises
            new[id(st)] = [Eqn("add", (acc, st.value), (acc,), {}, st.loc)]
    if not new:
        return []
    _replace(loop.body, new)
    return _guarded(flushes, loop, taken)


def _guarded(flushes: list, loop: For, taken: set) -> list:
    """Each flush, run only if its accumulator is not zero.  After zero trips the user's code never
    evaluated the index, which may be out of bounds (``x[i]`` in a loop that did not run); an
    accumulator that stayed zero adds nothing anyway.  (A test of the trip count would name the
    loop's bounds, which ``loop_order`` rewrites when it turns the loop around.)"""
    out = []
    for st in flushes:
        nonzero = _fresh(taken, "nonzero")
        out += [Eqn("ne", (st.value, Const(0.0)), (nonzero,), {}, loop.loc),
                If(nonzero, Block([st]), Block([]), st.loc)]
    return out


def _replace(block: Block, new: dict):
    out = []
    for s in block.stmts:
        if id(s) in new:
            out.extend(new[id(s)])
            continue
        for child in ([s.then, s.orelse] if isinstance(s, If) else [s.body] if isinstance(s, For)
                      else [s.cond_block, s.body] if isinstance(s, While) else []):
            _replace(child, new)
        out.append(s)
    block.stmts = out


def _mentions(stmt) -> list:
    from .tape import _all_uses

    names = [a.name for a in _all_uses(stmt) if isinstance(a, Var)]
    names += [v.name for v in stmt_defs(stmt)]
    return names
