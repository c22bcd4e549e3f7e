"""One list for the tapes that a block pushes together and another block pops together.

A loop body that overwrites many arrays (the NumPy form of an LSTM cell: ``forget``, ``ingate``,
``cell``, ... reassigned every step) gets one list tape per variable: each append and pop is
inlined list code, and each list is one more object to create, grow and free.  numba compiles
every list separately (about 60 ms of cold compile each, measured) and the appends of a dozen
lists cost time at run time too.

When several tapes are pushed only at the top level of one block P (no ``if`` or loop of P
around them) and popped only at the top level of one block Q, in the reverse order of the
pushes, every execution of P pushes the same sequence of values and every execution of Q pops
that sequence backwards.  Each tape on its own already pops what it pushed (the adjoint mirrors
the forward sweep), so the executions of Q mirror those of P, and one stack holding the whole
sequence pops exactly what the separate tapes would.  Tapes pushed or popped anywhere else, or
whose order in Q is not the reverse of their order in P, keep their own list.

The merged tape then holds one tuple per execution of P: each push but the last binds its
value to a fresh name (a reference, as the push was), the last push appends the tuple of them
all; the first pop of Q pops the tuple and each pop reads its item.  One append and one pop per
execution instead of one per value: numba inlines every list operation (~25 ms of cold compile
each, measured on the NumPy-form LSTM, which pushes 12 arrays per cell), and the tuple's items
may have different types.  Runs last, on the generated function, after every pass that moves or
deletes tape operations.
"""

from __future__ import annotations

from .ir import (
    Block,
    Const,
    Eqn,
    Func,
    Var,
    all_blocks,
    assigned_names,
    stmt_defs,
    stmt_uses,
    unused_name,
    var_names,
    walk,
)
from .types import TupleType

_OPS = ("tape_push", "tape_pop")


def merge_tapes(func: Func) -> int:
    """Merge groups of list tapes of ``func`` in place; how many tapes were folded into others."""
    news = {s.outs[0].name: s for s in walk(func.body) if isinstance(s, Eqn) and s.prim == "tape_new"}
    if len(news) < 2:
        return 0
    sites = {name: {"push": set(), "pop": set(), "type": set()} for name in news}
    seq = {}  # id(block) -> [(op, tape)] of its top-level tape operations
    blocks = {}
    for block in all_blocks(func.body):
        blocks[id(block)] = block
        for stmt in block.stmts:
            if isinstance(stmt, Eqn) and stmt.prim in _OPS and stmt.ins[0].name in sites:
                tape = stmt.ins[0].name
                kind = "push" if stmt.prim == "tape_push" else "pop"
                sites[tape][kind].add(id(block))
                value = stmt.ins[1] if kind == "push" else stmt.outs[0]
                sites[tape]["type"].add(str(func.types.get(value.name)) if isinstance(value, Var) else None)
                seq.setdefault(id(block), []).append((kind, tape))
    bad = tapes_used_elsewhere(func, sites)  # a tape used other than by its own new/push/pop stays alone
    groups = {}
    for tape, s in sites.items():
        if tape in bad or len(s["push"]) != 1 or len(s["pop"]) != 1 or len(s["type"]) != 1 or None in s["type"]:
            continue
        (p,), (q,) = s["push"], s["pop"]
        if p != q:
            groups.setdefault((p, q), []).append(tape)
    merged = 0
    for (p, q), members in groups.items():
        members = _mirrored(members, seq[p], seq[q])
        if len(members) < 2:
            continue
        keep = Var(unused_name(func, "tape_group"))
        func.types[keep.name] = func.types[members[0]]
        news[members[0]].outs = (keep,)
        group = set(members)
        for block in (blocks[p], blocks[q]):
            for stmt in block.stmts:
                if isinstance(stmt, Eqn) and stmt.prim in _OPS and stmt.ins[0].name in group:
                    stmt.ins = (keep,) + tuple(stmt.ins[1:])
        gone = group - {members[0]}
        for block in all_blocks(func.body):
            block.stmts = [s for s in block.stmts
                           if not (isinstance(s, Eqn) and s.prim == "tape_new" and s.outs[0].name in gone)]
        for name in group:
            func.types.pop(name, None)
        merged += len(gone)
    return merged


def tuple_tapes(func: Func) -> int:
    """Make every list tape pushed several times at the top level of one block and popped at the
    top level of another (neither inside the other) push one tuple per execution of that block;
    how many.  On the copy codegen prints only: forward mode (``hessian`` differentiates the
    generated IR again) has no tangent for tuples."""
    found = _tuple_candidates(func)
    for tape, p, q in found:
        _one_tuple(func, tape, p, q)
    return len(found)


def _tuple_candidates(func: Func) -> list:
    sites = {}
    for block in all_blocks(func.body):
        for stmt in block.stmts:
            if isinstance(stmt, Eqn) and stmt.prim in _OPS:
                sites.setdefault(stmt.ins[0].name, []).append((stmt.prim, block))
    news = {s.outs[0].name: s.outs[0] for s in walk(func.body) if isinstance(s, Eqn) and s.prim == "tape_new"}
    owned = tapes_used_elsewhere(func, news)
    nested_ok = {}
    found = []
    for name, ops in sites.items():
        if name not in news or name in owned:
            continue
        pushes = [b for op, b in ops if op == "tape_push"]
        pops = [b for op, b in ops if op == "tape_pop"]
        if len(pushes) < 2 or len(pushes) != len(pops):
            continue
        if len({id(b) for b in pushes}) != 1 or len({id(b) for b in pops}) != 1:
            continue
        p, q = pushes[0], pops[0]
        key = (id(p), id(q))
        if key not in nested_ok:
            nested_ok[key] = p is not q and not inside_block(q, p) and not inside_block(p, q)
        if not nested_ok[key] or any(not isinstance(st.ins[1], Var) for st in p.stmts
                                     if isinstance(st, Eqn) and st.prim == "tape_push" and st.ins[0].name == name):
            continue
        found.append((news[name], p, q))
    return found


def inside_block(inner, outer) -> bool:
    """Whether block ``inner`` is ``outer`` or nested in one of its statements."""
    return any(b is inner for b in all_blocks(outer))


def _one_tuple(func: Func, tape: Var, pblock, qblock) -> None:
    """Make the pushes of ``tape`` in ``pblock`` one push of a tuple, its pops in ``qblock`` one
    pop and item reads (the pops are the pushes mirrored: the k-th pop reads item n - k)."""
    def ours(stmt, prim):
        return isinstance(stmt, Eqn) and stmt.prim == prim and stmt.ins[0].name == tape.name

    n = sum(ours(st, "tape_push") for st in pblock.stmts)
    last = max(k for k, st in enumerate(pblock.stmts) if ours(st, "tape_push"))
    saved, stmts = [], []
    for k, stmt in enumerate(pblock.stmts):
        if not ours(stmt, "tape_push"):
            stmts.append(stmt)
            continue
        value = stmt.ins[1]
        if len(saved) < n - 1 and value.name not in assigned_names(Block(pblock.stmts[k + 1:last])):
            saved.append(value)  # still this value when the tuple is built: no copy
            continue
        if len(saved) < n - 1:
            held = Var(unused_name(func, f"{value.name}_held"))
            func.types[held.name] = func.types[value.name]
            stmts.append(Eqn("copy", (value,), (held,), {}, stmt.loc))
            saved.append(held)
            continue
        items = (*saved, value)
        pack = Var(unused_name(func, "tape_item"))
        func.types[pack.name] = TupleType(tuple(func.types[v.name] for v in items))
        stmts += [Eqn("tuple", items, (pack,), {}, stmt.loc), Eqn("tape_push", (tape, pack), (), {}, stmt.loc)]
    pblock.stmts = stmts
    func.types[tape.name] = func.types[pack.name]
    stmts, k, popped = [], n, None
    for stmt in qblock.stmts:
        if not ours(stmt, "tape_pop"):
            stmts.append(stmt)
            continue
        if popped is None:
            popped = Var(unused_name(func, "tape_item"))
            func.types[popped.name] = func.types[pack.name]
            stmts.append(Eqn("tape_pop", (tape,), (popped,), {}, stmt.loc))
        k -= 1
        stmts.append(Eqn("getitem", (popped, Const(k)), stmt.outs, {"index": (Const(k),)}, stmt.loc))
    qblock.stmts = stmts


def tapes_used_elsewhere(func: Func, tapes) -> set:
    """The tapes among ``tapes`` (names) that a statement uses other than as the list its own
    new/push/pop operates on (pushed as a value, passed, assigned...)."""
    used = set()
    for stmt in walk(func.body):
        if isinstance(stmt, Eqn) and stmt.prim in _OPS + ("tape_new",):
            names = var_names(list(stmt.ins[1:]))
        else:
            names = var_names(stmt_uses(stmt) + stmt_defs(stmt) + ([stmt.params] if isinstance(stmt, Eqn) else []))
        used.update(n for n in names if n in tapes)
    return used


def _mirrored(members: list, pushes: list, pops: list) -> list:
    """``members`` less the tapes that break the mirror: restricted to the tapes kept, the pops
    of Q must be the pushes of P reversed."""
    members = list(members)
    while len(members) >= 2:
        chosen = set(members)
        pu = [t for k, t in pushes if k == "push" and t in chosen]
        po = [t for k, t in pops if k == "pop" and t in chosen]
        if pu[::-1] == po:
            return members
        # Drop the first tape at which the sequences differ (it alone, or its partner, is out of place).
        for a, b in zip(pu[::-1], po):
            if a != b:
                members.remove(a)
                break
        else:  # same prefix, different lengths: cannot happen with one push and pop block each
            return []
    return members

