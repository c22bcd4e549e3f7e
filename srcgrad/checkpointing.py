"""Checkpointing of long loops: ``for t in srcgrad.checkpoint(range(n)):``.

Tape memory of a loop grows with its trip count.  A loop marked with `checkpoint` is split
(by `srcgrad.desugar`) into about sqrt(n) segments of about sqrt(n) iterations::

    for ckpt_seg in range(0, n, seg):              # the segment loop
        for t in range(ckpt_seg, min(ckpt_seg + seg, n)):
            body

and the reverse pass (`apply_checkpoints`) treats the segment loop specially:

* forward sweep: the segments run without any tape; at the start of each segment the loop's
  state (the variables the loop modifies and reads, arrays written in place as copies) is
  pushed on a snapshot tape;
* reverse sweep, for each segment from the last: pop the snapshot, re-run the segment forward
  *with* its tapes, then run its adjoint, which consumes those tapes.

Tapes then hold at most one segment (about sqrt(n) entries per taped value) plus one snapshot
per segment: O(sqrt(n)) memory for one extra forward evaluation of the loop.
"""

from __future__ import annotations

import copy

from numba.extending import overload

from .ir import Block, Eqn, For, Func, Slice, Store, Var, stmt_defs, walk
from .tape import _all_uses
from .types import ArrayType

SEGMENT_VAR = "ckpt_seg"  # loop variable of the segment loop the desugaring creates


def checkpoint(iterable):
    """Mark a ``for`` loop for checkpointing: ``for t in checkpoint(range(n)):`` (the range's
    step must be a positive literal).  Outside srcgrad this returns its argument unchanged."""
    return iterable


@overload(checkpoint)
def _checkpoint_jit(iterable):
    return lambda iterable: iterable


def is_segment_loop(stmt) -> bool:
    return isinstance(stmt, For) and stmt.var.name.startswith(SEGMENT_VAR)


def segment_loops(func: Func) -> list:
    return [s for s in walk(func.body) if is_segment_loop(s)]


def clean_bodies(func: Func) -> dict:
    """Copies of the segment loops' bodies before tapes are inserted (id(loop) -> stmts)."""
    return {id(loop): copy.deepcopy(loop.body.stmts) for loop in segment_loops(func)}


def _defined_before(func: Func, loop) -> set:
    names = {p.name for p in func.params}
    for stmt in walk(func.body):
        if stmt is loop:
            return names
        names.update(v.name for v in stmt_defs(stmt))
    return names


def apply_checkpoints(func: Func, rev, names, clean: dict, prelude: list) -> None:
    """Move each segment loop's taping forward code from the forward sweep into its reversed
    body, behind a restore of the segment's starting state (see the module docstring)."""
    for loop in segment_loops(func):
        instrumented = loop.body.stmts
        inner = Block(instrumented)
        modified, stored = set(), set()
        for s in walk(inner):
            modified.update(v.name for v in stmt_defs(s))
            if isinstance(s, Store):
                stored.add(s.target.name)
        read = set()
        for s in walk(inner):
            read.update(a.name for a in _all_uses(s) if isinstance(a, Var))
        state = sorted(((modified | stored) & read & _defined_before(func, loop)) -
                       {loop.var.name})
        saves, restores = [], []
        for name in state:
            t = func.types.get(name)
            tape = Var(names.fresh(f"ckpt_{name}"))
            prelude.append(Eqn("tape_new", (), (tape,), {}, loop.loc))
            var = Var(name)
            if name in stored and isinstance(t, ArrayType) and t.ndim > 0:
                snap = Var(names.fresh(f"{name}_snap"))
                saves += [Eqn("copy_array", (var,), (snap,), {}, loop.loc),
                          Eqn("tape_push", (tape, snap), (), {}, loop.loc)]
                whole = tuple(Slice(None, None, None) for _ in range(t.ndim))
                restores += [Eqn("tape_pop", (tape,), (snap,), {}, loop.loc),
                             Store(var, whole, snap, None, loop.loc)]
            else:
                saves.append(Eqn("tape_push", (tape, var), (), {}, loop.loc))
                restores.append(Eqn("tape_pop", (tape,), (var,), {}, loop.loc))
        loop.body.stmts = saves + clean[id(loop)]
        rbody = rev.rev_loops[id(loop)]
        rbody.stmts = restores + copy.deepcopy(instrumented) + rbody.stmts
