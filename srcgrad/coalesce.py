"""Copy coalescing in the typed primal: ``t = op(...); x = t`` becomes ``x = op(...)``.

The front end evaluates every expression into a fresh temporary and copies it into the user's
variable (``forget = _sigmoid(...)`` ends in ``t25 = sigmoid v; forget = t25``; an inlined
call binds its parameter with ``v = t21``).  ``fold`` propagates copies only at the top level,
where each statement runs once; inside a loop both names stay, and when both are reassigned
every iteration the reverse pass saves both: the LSTM's NumPy form taped each gate twice.

Here the temporary's definition writes the copy's target directly, when

- the temporary is assigned once and read once (by the copy), not a parameter or a result,
- its definition and the copy stand in the same block with nothing in between that reads or
  assigns the target (nested statements included), and
- the definition does not read the target (an Eqn's outputs never appear among its inputs)
  and both names have the same type.

Then the target gets the same value at the copy's point as before; only the temporary is gone.
"""

from __future__ import annotations

from collections import Counter

from .ir import Block, Eqn, Func, Var, child_blocks, stmt_defs, stmt_reads, var_names, walk


def _mentions(stmt) -> set:
    """Every name a statement (and anything nested in it) reads or assigns."""
    names: set = set()
    for s in [stmt, *[t for b in child_blocks(stmt) for t in walk(b)]]:
        names.update(stmt_reads(s))
        names.update(v.name for v in stmt_defs(s))
    return names


def coalesce_copies(func: Func) -> int:
    """Coalesce copies of single-use temporaries into their definitions (in place)."""
    uses: Counter = Counter()
    defs: Counter = Counter(p.name for p in func.params)
    for stmt in walk(func.body):
        uses.update(set(stmt_reads(stmt)))
        defs.update(v.name for v in stmt_defs(stmt))
    fixed = {a.name for a in func.result_atoms() if isinstance(a, Var)} | {p.name for p in func.params}
    return _block(func.body, func, uses, defs, fixed)


def _block(block: Block, func: Func, uses: Counter, defs: Counter, fixed: set) -> int:
    done = 0
    for stmt in block.stmts:
        for child in child_blocks(stmt):
            done += _block(child, func, uses, defs, fixed)
    where = {}
    drop = set()
    for pos, stmt in enumerate(block.stmts):
        if not isinstance(stmt, Eqn):
            continue
        if stmt.prim == "copy" and len(stmt.ins) == 1 and isinstance(stmt.ins[0], Var) \
                and len(stmt.outs) == 1:
            src, dst = stmt.ins[0].name, stmt.outs[0]
            p = where.get(src)
            if p is not None and _coalescible(block, p, pos, src, dst, func, uses, defs, fixed):
                define = block.stmts[p]
                define.outs = tuple(dst if v.name == src else v for v in define.outs)
                where[dst.name] = p
                drop.add(pos)
                done += 1
                continue
        for v in stmt.outs:
            where[v.name] = pos
    if drop:
        block.stmts = [s for i, s in enumerate(block.stmts) if i not in drop]
    return done


def _coalescible(block, p, pos, src, dst, func, uses, defs, fixed) -> bool:
    define = block.stmts[p]
    if src in fixed or uses[src] != 1 or defs[src] != 1 or dst.name == src:
        return False
    if any(v.name == dst.name for v in define.outs):
        return False
    if func.types.get(src) is None or func.types.get(src) != func.types.get(dst.name):
        return False
    if (src in func.weak) != (dst.name in func.weak):  # a Python number is printed as such
        return False
    inputs: set = set()
    inputs.update(var_names(list(define.ins)))
    inputs.update(var_names(define.params))
    if dst.name in inputs:
        return False
    return all(dst.name not in _mentions(s) for s in block.stmts[p + 1:pos])
