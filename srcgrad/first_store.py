"""Fill a fresh zero array by stores instead of increments, when a loop writes each element once.

The adjoint of a loop that reads ``x[i]`` zero-fills ``x_bar`` and then adds into ``x_bar[i]`` in
every iteration.  Where the loop (once ``loop_order`` has turned it ascending) starts at 0 with
step 1, adds into ``x_bar[i]`` unconditionally in every iteration and touches ``x_bar`` nowhere
else, each element the loop covers is written exactly once, onto a zero: the zero fill and the
load of the read-modify-write are wasted.  The array is then allocated empty, the increment
becomes a store, and only the elements the loop does not reach are zeroed after it::

    a = zeros_like_any(x)                 a = empty_like(x)
    for i in range(stop):         ->      for i in range(stop):
        ...                                   ...
        a[i] += v                             a[i] = v
                                          lo = maximum(stop, 0)
                                          a[lo:] = 0.0

Rosenbrock's gradient at n = 10^6 writes 8 MB once instead of zeroing, loading and storing it.
Runs after ``loop_order`` and ``shift_carry`` on the generated function.
"""

from __future__ import annotations

from .ir import Block, Break, Const, Continue, Eqn, For, Func, Slice, Store, Var, all_blocks, walk
from .liveness import _uses
from .loop_order import defs
from .passes import _closure, _view_links
from .shift_carry import _Names

_ZERO_FILLS = ("zeros_like_any", "zeros_like")


def store_first_writes(func: Func) -> int:
    """Rewrite qualifying (zero fill, loop) pairs of ``func`` in place; how many arrays."""
    links = _view_links(func)
    names = _Names(func)
    done = 0
    for block in all_blocks(func.body):
        k = 0
        while k < len(block.stmts):
            fill = block.stmts[k]
            found = _pair(block.stmts, k, links, func)
            if found is not None:
                loop, store = found
                name = fill.outs[0].name
                # "first_store" marks a gradient buffer for vmap's kernel generator (kernelgen.py)
                block.stmts[k] = Eqn("empty_like", fill.ins, fill.outs,
                                     {"dtype": func.types[name].dtype, "first_store": True}, fill.loc)
                store.op = None
                lo = names.fresh(f"{name}_rest")
                at = block.stmts.index(loop) + 1
                block.stmts[at:at] = [Eqn("maximum", (loop.stop, Const(0)), (lo,), {}, loop.loc),
                                      Store(Var(name), (Slice(lo, None, None),), Const(0.0), None, loop.loc)]
                done += 1
            k += 1
    return done


def _mentions(stmt, name: str) -> bool:
    return any(name in _uses(s) or any(v.name == name for v in defs(s)) or
               (isinstance(s, Store) and s.target.name == name) for s in walk(Block([stmt])))


def _pair(stmts: list, k: int, links: dict, func: Func):
    """(loop, store) when ``stmts[k]`` is a zero fill that the next loop writes element by element."""
    fill = stmts[k]
    if not (isinstance(fill, Eqn) and fill.prim in _ZERO_FILLS and len(fill.outs) == 1 and len(fill.ins) == 1):
        return None
    name = fill.outs[0].name
    t, src = func.types.get(name), func.types.get(getattr(fill.ins[0], "name", None))
    if getattr(t, "ndim", 0) != 1 or not t.is_float or getattr(src, "ndim", 0) != 1 or \
            _closure({name}, links) != {name} or (fill.prim == "zeros_like" and fill.params.get("dtype") not in
                                                  (None, t.dtype)):
        return None
    for loop in stmts[k + 1:]:
        if isinstance(loop, For):
            break
        if _mentions(loop, name):
            return None
    else:
        return None
    if not (loop.start == Const(0) and loop.step == Const(1)):
        return None
    body = loop.body
    assigned = {v.name for s in walk(body) for v in defs(s)}
    if loop.var.name in assigned or (isinstance(loop.stop, Var) and loop.stop.name in assigned) or \
            any(isinstance(s, (Break, Continue)) for s in walk(body)):
        return None
    hits = [s for s in body.stmts if _mentions(s, name)]
    if len(hits) != 1:
        return None
    store = hits[0]
    if not (isinstance(store, Store) and store.target.name == name and store.op == "add" and
            len(store.index) == 1 and store.index[0] == loop.var and
            not (isinstance(store.value, Var) and store.value.name == name)):
        return None
    return loop, store
