"""One zero-length array for all the placeholders of one type.

A variable carried through a loop whose old value the adjoint needs gets an initial value before
the loop (``zero_of``: ``x = rt.empty_f64((0, ))`` for an array), only so that the first push of
its old value has something of the right type to push; it is never read as data.  The NumPy
form of the ADBench LSTM has twelve of them, each an allocation call (~12 ms of numba compile
per call site).  The first placeholder of each dtype and number of dimensions at the top level of
the function stays an allocation, the later ones copy it: a zero-length array has no element a
store could change, so sharing it is invisible.

Runs on the copy of the generated function that codegen prints, like mul_unbroadcast.py.
"""

from __future__ import annotations

from .ir import Eqn, Func
from .types import ArrayType


def share_placeholders(func: Func) -> int:
    """Rewrite in place; how many placeholders now copy an earlier one."""
    first: dict = {}
    shared = 0
    for k, stmt in enumerate(func.body.stmts):
        if not (isinstance(stmt, Eqn) and stmt.prim == "zero_of" and len(stmt.outs) == 1):
            continue
        t = func.types.get(stmt.outs[0].name)
        if not (isinstance(t, ArrayType) and t.ndim > 0):
            continue
        key = (t.dtype, t.ndim)
        if key not in first:
            first[key] = stmt.outs[0]
            continue
        func.body.stmts[k] = Eqn("copy", (first[key],), stmt.outs, {}, stmt.loc)
        shared += 1
    return shared
