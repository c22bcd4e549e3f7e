"""Values that loops carry from one iteration into the next only because of where a statement stands.

numba gives every variable live around a loop a phi copy at each loop edge; for an array each
copy updates reference counts, and LLVM then spends much of a cold compile on that code (the
NumPy-form LSTM: ~20% of its LLVM IR, measured).  Two kinds of statement that the reverse
pass places at the end of an iteration make arrays loop-carried without need.  Both moves keep
every value that is read; only where a value is produced changes.

**Tapes** (`rotate_tapes`).  `tape.insert_saves` saves a value *before* a statement overwrites it
(``tape_v.append(v)`` just before ``v = f(...)``) and restores it at that statement's mirror in
the adjoint (``v = tape_v.pop()``).  The first save of each iteration therefore pushes the value
left by the previous iteration, and the last restore of each reversed iteration pops it back:
``v`` is carried in both sweeps, through a placeholder set before the loop.  The same stack can
be filled one step later: the first push of the body moves to the end of the body (it pushes the
value the iteration leaves, which the next iteration's first push pushed), and its pop moves to
the top of the reversed body (it pops the value that iteration of the forward sweep left, which
the previous reversed iteration's last pop had restored).  Every other push and pop stays.

For a list tape ``T`` of variable ``v`` (its pushes all ``T.append(v)`` at the top level of one
loop body ``P``, its pops all ``v = T.pop()`` at the top level of another loop body ``Q``, as
many of each, ``T`` used nowhere else), the move is made when

* no statement of ``P`` defines ``v`` before its first push (nor a ``while`` condition block):
  the value at the end of an iteration is the value at the next one's first push;
* neither body holds a ``break`` or ``continue``: every iteration reaches both ends;
* nothing reads ``v`` in ``Q`` after its last pop, and nothing that can run after the reversed
  loop starts reads it outside ``Q`` (the rest of the enclosing blocks, enclosing loops whole,
  the result): those reads would have seen the previous iteration's value.

**Adjoint resets** (`localise_resets`). The adjoint of an array bound anew in every iteration
and accumulated in place (``bias_bar[:b] += ...`` for ``bias = W[2 * j + 1]``) is zeroed before
the reversed loop and zeroed again as the last thing that mentions it in the reversed body, so
each reversed iteration starts from zero. When every statement outside the block holding that
last reset (the reversed body, or a branch of it such as the guard a ``continue`` leaves) that
mentions ``x_bar`` only zeroes it, ``x_bar`` is zero whenever a reversed iteration starts; the
reset then moves up to just before the block's first mention of ``x_bar`` and the other zeroings
are dropped (before a loop that runs no iteration they also read a shape that the loop defines).
The reset's shape source must hold the same shape there: defined in the body before that point
and not again after it, or not assigned in the loop at all.
"""

from __future__ import annotations

from .ir import (
    Block,
    Break,
    Continue,
    Eqn,
    For,
    Func,
    If,
    Var,
    While,
    all_blocks,
    assigned_names,
    child_blocks,
    position,
    stmt_defs,
    stmt_reads,
    var_names,
    walk,
)
from .tape_merge import inside_block, tapes_used_elsewhere

_OPS = ("tape_push", "tape_pop")


def rotate_tapes(func: Func) -> int:
    """Move the first push and last pop of each eligible list tape of ``func``; how many moved."""
    parents = _parents(func.body)
    ops: dict = {}
    for block in all_blocks(func.body):
        for stmt in block.stmts:
            if isinstance(stmt, Eqn) and stmt.prim in _OPS:
                ops.setdefault(stmt.ins[0].name, []).append((stmt, block))
    other = tapes_used_elsewhere(func, set(ops))
    results = set(var_names(func.result_atoms()))
    moved = 0
    for tape, found in ops.items():
        if tape in other:
            continue
        plan = _plan(func, parents, found, results)
        if plan is None:
            continue
        pblock, push, qblock, pop = plan
        first_def = pblock.stmts[position(pblock, push) + 1]
        pblock.stmts.remove(push)
        if pblock.stmts:  # printed under the last statement's line, not the first def's
            push.loc = pblock.stmts[-1].loc
        pblock.stmts.append(push)
        qblock.stmts.remove(pop)
        if qblock.stmts:
            pop.loc = qblock.stmts[0].loc
        qblock.stmts.insert(0, pop)
        _drop_placeholder(func, push.ins[1].name, pblock, first_def, qblock, results)
        moved += 1
    return moved


def _drop_placeholder(func: Func, name: str, pblock: Block, first_def, qblock: Block, results: set) -> None:
    """Delete the ``zero_of`` placeholders of ``name`` that only the moved push read: when every
    read of ``name`` is in ``qblock`` (after its pop, now first) or in ``pblock`` from the body's
    first definition of ``name`` on (that definition not reading it)."""
    start = position(pblock, first_def)
    allowed = {id(s) for s in walk(qblock)} | {id(s) for s in walk(Block(pblock.stmts[start + 1:]))}
    allowed |= {id(s) for b in child_blocks(first_def) for s in walk(b)}  # a for loop's body
    if name in results:
        return
    for stmt in walk(func.body):
        if id(stmt) not in allowed and name in stmt_reads(stmt):
            return
    for block in all_blocks(func.body):
        block.stmts = [s for s in block.stmts if not (isinstance(s, Eqn) and s.prim == "zero_of" and
                                                      s.outs == (Var(name),))]


def localise_resets(func: Func) -> int:
    """Move each eligible end-of-iteration adjoint reset of ``func`` to its first use; how many."""
    parents = _parents(func.body)
    resets = {}  # name -> [(stmt, block)] of its zeroings
    mentions = {}  # name -> number of statements mentioning it (zeroings included)
    for block in all_blocks(func.body):
        for stmt in block.stmts:
            for name in _mentioned(stmt):
                mentions[name] = mentions.get(name, 0) + 1
            if isinstance(stmt, Eqn) and stmt.prim == "zeros_like_any" and len(stmt.outs) == 1:
                resets.setdefault(stmt.outs[0].name, []).append((stmt, block))
    results = set(var_names(func.result_atoms()))
    moved = 0
    for name, zeroings in resets.items():
        if name in results:
            continue
        for stmt, block in zeroings:
            loop = _enclosing_loop(parents, block)
            if loop is None:
                continue
            after = Block(block.stmts[position(block, stmt) + 1:])
            if any(name in _mentioned(t) for t in walk(after)):
                continue  # not the body's last word on x_bar
            inside = sum(1 for s in walk(block) if name in _mentioned(s))
            outside = [(z, b) for z, b in zeroings if not inside_block(b, block)]
            if inside + len(outside) != mentions.get(name, 0):
                continue  # read or accumulated outside the body: not known zero at its start
            first = next(k for k, s in enumerate(block.stmts) if any(name in _mentioned(t) for t in walk(Block([s]))))
            if block.stmts[first] is stmt or not _same_shape_at(func, loop, block, first, stmt.ins[0]):
                continue
            block.stmts.remove(stmt)
            block.stmts.insert(first, stmt)
            stmt.loc = block.stmts[first + 1].loc
            for z, b in outside:
                b.stmts.remove(z)
            moved += 1
            break
    return moved


def _enclosing_loop(parents: dict, block: Block):
    """The loop whose body is ``block`` or holds it through ``if`` statements only (the guard of
    a ``continue``, a branch), or None."""
    while True:
        entry = parents.get(id(block))
        if entry is None:
            return None
        stmt, outer = entry
        if isinstance(stmt, (For, While)):
            return stmt if stmt.body is block else None
        if not isinstance(stmt, If):
            return None
        block = outer


def _same_shape_at(func: Func, loop, block: Block, first: int, source) -> bool:
    """Whether ``source`` (a zeroing's shape source, read at the end of ``block``) holds at
    statement ``first`` of ``block`` the value it holds at the end, in every iteration of ``loop``."""
    name = getattr(source, "name", None)
    if name is None:
        return False

    nested = [b for s in block.stmts[:first] for b in child_blocks(s)]
    if name in assigned_names(Block(block.stmts[first:])) or any(name in assigned_names(b) for b in nested):
        return False
    if any(v.name == name for s in block.stmts[:first] for v in stmt_defs(s)):
        return True  # assigned at the body's top level before ``first``: every iteration
    return name not in assigned_names(Block([loop]))  # or not assigned in the loop at all


def _mentioned(stmt) -> set:
    """Names a statement reads or assigns directly (a Store's target included)."""
    return set(stmt_reads(stmt)) | {v.name for v in stmt_defs(stmt)}


def _plan(func: Func, parents: dict, found: list, results: set):
    pushes = [(s, b) for s, b in found if s.prim == "tape_push"]
    pops = [(s, b) for s, b in found if s.prim == "tape_pop"]
    if not pushes or len(pushes) != len(pops):
        return None
    pblock, qblock = pushes[0][1], pops[0][1]
    if any(b is not pblock for _, b in pushes) or any(b is not qblock for _, b in pops) or pblock is qblock:
        return None
    ploop, qloop = parents.get(id(pblock)), parents.get(id(qblock))
    if not _is_loop_body(ploop, pblock) or not _is_loop_body(qloop, qblock):
        return None
    value = pushes[0][0].ins[1]
    name = getattr(value, "name", None)
    if name is None or len(pushes[0][0].ins) != 2:
        return None
    if any(s.ins[1] != value for s, _ in pushes) or any(s.outs != (value,) for s, _ in pops):
        return None
    if inside_block(qblock, pblock) or inside_block(pblock, qblock):
        return None
    if any(isinstance(s, (Break, Continue)) for blk in (pblock, qblock) for s in walk(blk)):
        return None
    first_push = pushes[0][0]
    last_pop = pops[-1][0]
    k = position(pblock, first_push)
    loop = ploop[0]
    if isinstance(loop, For) and loop.var.name == name:
        return None
    before = Block(pblock.stmts[:k] + (loop.cond_block.stmts if isinstance(loop, While) else []))
    if name in assigned_names(before):
        return None
    j = position(qblock, last_pop)
    if _reads(Block(qblock.stmts[j + 1:]), name):
        return None
    if name in results or _read_after(parents, qloop, name):
        return None
    return pblock, first_push, qblock, last_pop


def _is_loop_body(entry, block) -> bool:
    if entry is None:
        return False
    stmt = entry[0]
    return isinstance(stmt, (For, While)) and stmt.body is block


def _read_after(parents: dict, qloop, name: str) -> bool:
    """Whether a statement that can run after the loop ``qloop`` (a parents entry: the loop and
    the block holding it) has started reads ``name``, other than inside the loop's own body."""
    stmt, block = qloop
    while True:
        k = position(block, stmt)
        if _reads(Block(block.stmts[k + 1:]), name):
            return True
        up = parents.get(id(block))
        if up is None:
            return False
        stmt, block = up
        if isinstance(stmt, (For, While)) and _reads(Block([stmt]), name, skip=qloop[0]):
            return True  # an enclosing loop runs its whole body again


def _reads(block: Block, name: str, skip=None) -> bool:
    return any(name in stmt_reads(stmt) for stmt in _walk_skipping(block, skip))


def _walk_skipping(block: Block, skip):
    for stmt in block.stmts:
        if stmt is skip:
            continue
        yield stmt
        for child in child_blocks(stmt):
            yield from _walk_skipping(child, skip)


def _parents(body: Block) -> dict:
    """id(block) -> (the statement holding it, the block holding that statement)."""
    out = {}
    todo = [body]
    while todo:
        block = todo.pop()
        for stmt in block.stmts:
            for child in child_blocks(stmt):
                out[id(child)] = (stmt, block)
                todo.append(child)
    return out


