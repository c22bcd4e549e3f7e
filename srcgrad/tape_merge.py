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

Only tapes whose pushed values have one IR type share a list (numba unifies array layouts,
e.g. a C and a strided array, to the strided one: correct, though the pops are then typed
``A``).  Runs last, on the generated function, after every pass that moves or deletes tape
operations.
"""

from __future__ import annotations

from .ir import Eqn, Func, Var, all_blocks, stmt_defs, stmt_uses, unused_name, var_names, walk

_OPS = ("tape_push", "tape_pop")


def merge_tapes(func: Func) -> int:
    """Merge groups of list tapes of ``func`` in place; how many tapes were folded into others."""
    news = {s.outs[0].name: s for s in walk(func.body) if isinstance(s, Eqn) and s.prim == "tape_new"}
    if len(news) < 2:
        return 0
    sites = {name: {"push": set(), "pop": set(), "type": set()} for name in news}
    seq = {}  # id(block) -> [(op, tape)] of its top-level tape operations
    blocks = {}
    bad = set()
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
    for stmt in walk(func.body):  # a tape used other than by its own new/push/pop stays alone
        if isinstance(stmt, Eqn) and stmt.prim in _OPS + ("tape_new",):
            names = list(var_names(list(stmt.ins[1:])))
        else:
            names = list(var_names(stmt_uses(stmt) + stmt_defs(stmt) +
                                   ([stmt.params] if isinstance(stmt, Eqn) else [])))
        bad.update(n for n in names if n in sites)
    groups = {}
    for tape, s in sites.items():
        if tape in bad or len(s["push"]) != 1 or len(s["pop"]) != 1 or len(s["type"]) != 1 or None in s["type"]:
            continue
        (p,), (q,), (t,) = s["push"], s["pop"], s["type"]
        if p != q:
            groups.setdefault((p, q, t), []).append(tape)
    merged = 0
    for (p, q, _), members in groups.items():
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

