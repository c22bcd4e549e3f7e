"""How long a scalar tape must be, when that is known before the outermost loop starts.

A scalar saved once per iteration of the innermost of nested ``for`` loops goes to an array
preallocated with the product of the trip counts (``tape_x[pos_x] = x``, ``x = tape_x[pos_x]``)
instead of a growable list: a numba list append and pop cost several times an array store and
load, and loop programs (ADBench LSTM, GMM) save a handful of scalars per inner iteration.

The product is used only when it is exact or an upper bound computed outside all the loops:

* every loop is a ``for`` with a constant step;
* the bounds of the inner loops are the same in every iteration of the outermost loop: not
  changed in it, or assigned once in it from such values by integer arithmetic or
  ``x.shape[k]`` (then recomputed before the loop), so each inner loop runs equally often;
* for more than one loop, the saving statement and each inner loop sit directly in the body of
  the loop around them (not under an ``if``): the tape is filled exactly, never over-allocated.
"""

from __future__ import annotations

from .ir import Block, Const, Eqn, For, Var, walk
from .types import ArrayType, TupleType


def capacity(saver, site, vt):
    """A Var holding the tape length for ``site`` (statements computing it are inserted before
    the outermost loop), or None when a growable list must be used."""
    loops = site.loops
    if not loops or not (isinstance(vt, ArrayType) and vt.ndim == 0):
        return None
    outer = loops[0]
    if id(outer) not in saver.loop_blocks or \
            not all(isinstance(lp, For) and isinstance(lp.step, Const) for lp in loops):
        return None
    if len(loops) == 1:
        return saver.trip_count(outer)
    if site.block is not loops[-1].body or \
            any(not any(s is inner for s in lp.body.stmts) for lp, inner in zip(loops, loops[1:])):
        return None
    key = tuple(id(lp) for lp in loops)
    if key in saver.trips:
        return saver.trips[key]
    stmts: list = []
    bounds = []
    for lp in loops[1:]:
        lo, hi = (_invariant(saver, outer, a, stmts, 0) for a in (lp.start, lp.stop))
        if lo is None or hi is None:
            return None
        bounds.append((lp, lo, hi))
    total = saver.trip_count(outer)
    for lp, lo, hi in bounds:
        n = _trips(saver, lp, lo, hi, stmts)
        prod = Var(saver.names.fresh("trips"))
        stmts.append(Eqn("mul", (total, n), (prod,), {}, lp.loc))
        total = prod
    block = saver.loop_blocks[id(outer)]
    k = next(i for i, s in enumerate(block.stmts) if s is outer)
    block.stmts[k:k] = stmts
    saver.trips[key] = total
    return total


_SAFE = {"shape", "len", "add", "sub", "mul", "floordiv", "maximum", "minimum", "copy"}


def _invariant(saver, outer: For, atom, stmts: list, depth: int):
    """``atom``'s value, the same in every iteration of ``outer``, as an atom available before
    it (definitions copied into ``stmts``); None if that cannot be shown."""
    if isinstance(atom, Const):
        return atom
    if not isinstance(atom, Var):
        return None
    if atom.name not in saver._modified(outer):
        return atom if atom.name not in {lp.var.name for lp in walk_loops(outer)} else None
    if depth > 8 or saver.def_counts.get(atom.name) != 1:
        return None
    eqn = next((s for s in walk(outer.body) if isinstance(s, Eqn) and
                any(o.name == atom.name for o in s.outs)), None)
    if eqn is None or len(eqn.outs) != 1 or eqn.prim not in _SAFE | {"getitem"}:
        return None
    t = saver.func.types.get(eqn.ins[0].name) if isinstance(eqn.ins[0], Var) else None
    if eqn.prim == "getitem" and not isinstance(t, TupleType):
        return None  # an element of a shape tuple, not of an array the loop may change
    ot = saver.func.types.get(atom.name)
    if eqn.prim != "shape" and not (isinstance(ot, ArrayType) and ot.ndim == 0 and ot.is_int):
        return None
    ins = [_invariant(saver, outer, a, stmts, depth + 1) for a in eqn.ins]
    if any(a is None for a in ins):
        return None
    out = Var(saver.names.fresh(f"{atom.name}_pre"))
    stmts.append(Eqn(eqn.prim, tuple(ins), (out,), dict(eqn.params), eqn.loc))
    return out


def walk_loops(outer: For):
    return [s for s in walk(Block([outer])) if isinstance(s, For)]


def _trips(saver, loop: For, start, stop, stmts: list) -> Var:
    """``len(range(start, stop, step))`` of an inner loop, appended to ``stmts``."""
    step = loop.step.value
    lo, hi = (start, stop) if step > 0 else (stop, start)
    n = Var(saver.names.fresh("trips"))
    if abs(step) == 1 and isinstance(lo, Const) and lo.value == 0:
        stmts.append(Eqn("maximum", (hi, Const(0)), (n,), {}, loop.loc))
        return n
    span = Var(saver.names.fresh("span"))
    stmts.append(Eqn("sub", (hi, lo), (span,), {}, loop.loc))
    if abs(step) != 1:
        up, n0 = Var(saver.names.fresh("t")), Var(saver.names.fresh("t"))
        stmts += [Eqn("add", (span, Const(abs(step) - 1)), (up,), {}, loop.loc),
                  Eqn("floordiv", (up, Const(abs(step))), (n0,), {}, loop.loc)]
        span = n0
    stmts.append(Eqn("maximum", (span, Const(0)), (n,), {}, loop.loc))
    return n
