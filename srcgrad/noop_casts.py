"""Casts that the types prove to be no-ops become copies, so they stop reading their template.

The reverse pass reduces each cotangent to its input's type with ``cast_like(c, x)`` (rules of
shape-keeping primitives) or ``unbroadcast(c, x)``; both read ``x``.  Codegen already emits
nothing for the no-op cases (static_fmt), but in the IR the read remains, and a read in the
adjoint sweep is what makes the tape pass save ``x`` every loop iteration: the LSTM gradient
pushed and popped seven arrays per layer and step only for such casts.  Run on the generated
`Func` after type inference and before ``fold``/``liveness.prune``: the copies fold away and the
saves whose values nobody reads any more are pruned.

No-ops (both operands typed):

- ``cast_like(c, x)``: c an array of x's number of dimensions (or a number when x is one) whose
  dtype is the float dtype the cast gives (x's if float32/float64, else float64);
- ``unbroadcast(c, x)`` with c and x numbers of that dtype (nothing to sum);
- ``zeros_like_any(x)`` of a float64 number: the constant 0.0.

The final casts of the gradients (results of the function) stay: they read only parameters,
and ``increments.hoist_accumulators`` recognises gradient arrays by them.
"""

from __future__ import annotations

from .ir import Const, Eqn, Func, Var, walk
from .types import ArrayType

_FLOATS = ("float64", "float32")


def _type(func: Func, atom):
    t = func.types.get(atom.name) if isinstance(atom, Var) else None
    return t if isinstance(t, ArrayType) else None


def _cast_dtype(x: ArrayType) -> str:
    return x.dtype if x.dtype in _FLOATS else "float64"


def _noop_source(func: Func, eqn: Eqn):
    """The atom the result equals, if ``eqn`` is a statically no-op cast; else None."""
    if len(eqn.outs) != 1:
        return None
    if eqn.prim in ("cast_like", "unbroadcast") and len(eqn.ins) == 2:
        c, x = (_type(func, a) for a in eqn.ins)
        if c is None or x is None or c.dtype != _cast_dtype(x) or c.ndim != x.ndim:
            return None
        if eqn.prim == "unbroadcast" and c.ndim != 0:
            return None  # shapes may differ at run time (size-1 axes)
        out = _type(func, eqn.outs[0])
        return eqn.ins[0] if out is None or out == c else None
    if eqn.prim == "zeros_like_any" and len(eqn.ins) == 1:
        x = _type(func, eqn.ins[0])
        if x is not None and x.ndim == 0 and _cast_dtype(x) == "float64":
            return Const(0.0)
    return None


def drop_noop_casts(func: Func) -> int:
    """Turn no-op casts of ``func`` into copies (in place); the number changed."""
    changed = 0
    results = {a.name for a in func.result_atoms() if isinstance(a, Var)}
    for stmt in walk(func.body):
        if isinstance(stmt, Eqn) and not any(o.name in results for o in stmt.outs):
            src = _noop_source(func, stmt)
            if src is not None:
                stmt.prim, stmt.ins, stmt.params = "copy", (src,), {}
                changed += 1
    return changed
