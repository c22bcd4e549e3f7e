"""Shape-only uses read the shape from an earlier array, so dead primal values can go.

The adjoints of ``np.mean(x)`` / ``np.sum(x)``, zero cotangents and casts only need x's type
and shape (``rt.mean_fill(x, g)``, ``rt.fill_like(x, g)``, ``rt.zeros_like_any(x)``,
``rt.cast_like(v, x)``).  When x is ``log(u)`` (or any shape-keeping unary operation of u)
and u has x's type, the use can read u instead; the primal ``log`` is then dead and DCE drops
it (the logistic-regression gradient computed a log of every sample only for its shape).

Safe by construction: every name involved is assigned exactly once, and its definition, the
unary operation and the shape-only use stand in this order in one block (or u is an argument
never reassigned), so u at the use is the very array the operation read.
"""

from __future__ import annotations

from collections import Counter

from .ir import Block, Eqn, Func, Var, child_blocks, stmt_defs, walk

SHAPE_KEEPING = frozenset((
    "neg", "abs", "copy", "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "tanh", "sinh",
    "cosh", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "log2", "log10", "exp2",
    "square", "cbrt"))
# primitive -> position of the input whose type and shape alone matter
SHAPE_ONLY = {"mean_fill": 0, "fill_like": 0, "zeros_like_any": 0, "cast_like": 1}


def reuse_shape_sources(func: Func) -> bool:
    """Point shape-only uses at the operand of a shape-keeping unary operation; True if any."""
    ndefs = Counter(p.name for p in func.params)
    for stmt in walk(func.body):
        ndefs.update(v.name for v in stmt_defs(stmt))
    params = {p.name for p in func.params}
    return _block(func.body, func, ndefs, params)


def _block(block: Block, func: Func, ndefs: Counter, params: set) -> bool:
    changed = False
    where = {}  # name -> (position, Eqn) of its definition in this block
    for pos, stmt in enumerate(block.stmts):
        for child in child_blocks(stmt):
            changed |= _block(child, func, ndefs, params)
        if not isinstance(stmt, Eqn):
            continue
        k = SHAPE_ONLY.get(stmt.prim)
        if k is not None and len(stmt.ins) > k and isinstance(stmt.ins[k], Var):
            src = _source(stmt.ins[k], where, func, ndefs, params)
            if src is not stmt.ins[k]:
                ins = list(stmt.ins)
                ins[k] = src
                stmt.ins = tuple(ins)
                changed = True
        for v in stmt.outs:
            where[v.name] = (pos, stmt)
    return changed


def _source(x: Var, where: dict, func: Func, ndefs: Counter, params: set) -> Var:
    """The earliest array with x's shape along a chain of shape-keeping unary operations."""
    while ndefs[x.name] == 1 and x.name in where:
        pos, eqn = where[x.name]
        if eqn.prim not in SHAPE_KEEPING or len(eqn.ins) != 1 or not isinstance(eqn.ins[0], Var):
            break
        u = eqn.ins[0]
        tx, tu = func.types.get(x.name), func.types.get(u.name)
        if tx is None or tx != tu or getattr(tx, "ndim", 0) == 0:  # same dtype and dimensions
            break
        if ndefs[u.name] != 1:
            break
        if u.name not in params and not (u.name in where and where[u.name][0] < pos):
            break
        x = u
    return x
