"""Integer variables that never hold a negative value, so that indexing with them can skip numba's
negative-index wraparound.

numba turns every signed integer index ``a[i]`` into ``a[i + n if i < 0 else i]``: a compare and
a select in the address computation of every element access.  LLVM removes them where it can see
``i >= 0`` (``for i in range(n)``), but not in the loops the adjoint sweep runs backwards
(``i = last - i_rev``) nor for counters restored from a tape.  Measured on the ADBench GMM
gradient (d = 10, K = 25): the wraparound in the reversed triangular product alone made the
adjoint 1.46x the hand-written one instead of 1.14x.  An unsigned index skips the wraparound
(numba's ``fix_integer_index``), so codegen writes ``a[np.uint64(i)]`` for the variables found here.

A variable qualifies when *every* assignment to it in the function gives a non-negative value
provided the variables it reads qualify (the largest such set, found by dropping variables until
none changes; by induction over the execution, every value such a variable takes is >= 0):

* a non-negative integer constant, a copy, ``zero_of`` (the zero placeholder);
* ``a + b``, ``a * b``, ``a // b`` of qualifying values; ``a % b`` with ``b`` qualifying;
  ``np.maximum`` with one qualifying argument, ``np.minimum`` with both;
* an entry of a ``.shape`` tuple, ``len(...)``;
* the loop variable of ``range(start, stop, step)`` with a constant step: ``step > 0`` and
  ``start`` qualifying, or ``step < 0`` and every value above ``stop >= -1`` (``stop`` a constant
  >= -1, a qualifying variable, or ``x - 1`` of a qualifying ``x``: the reversed loops' bounds);
* the reverse pass's undo of a counter step (``v = v - c`` for ``v = v + c``, marked
  ``undo_step``): it gives back a value ``v`` held before;
* an element of a one-purpose integer array (a tape): allocated in the function, only read
  and written element by element, every stored value qualifying; a pop from a list tape whose
  every pushed value qualifies.

Only int64 variables and arrays qualify: narrower integers wrap (an int8 array storing
``100 + 100`` holds -56; found by fuzzing).  Parameters never qualify (their sign is the
caller's).  Overflow of int64 itself is not considered: an index near 2**63 does not arise.
"""

from __future__ import annotations

from .ir import Const, Eqn, For, Func, Store, Var, index_atoms, stmt_defs, stmt_uses, walk
from .types import ArrayType

_ALLOCS = {"empty", "zeros"}


def _is_int(t) -> bool:
    """A 64-bit integer number: the rules' sums and products cannot wrap (int8 100 + 100 does)."""
    return isinstance(t, ArrayType) and t.ndim == 0 and t.dtype == "int64"


def _const_nonneg(atom) -> bool:
    return isinstance(atom, Const) and type(atom.value) is int and atom.value >= 0


def nonneg_ints(func: Func) -> frozenset:
    """Names of ``func``'s integer scalar variables that are never negative."""
    types = func.types
    defs: dict = {}  # name -> [statement defining it]
    uses: dict = {}  # array name -> [statement using it]
    pushes: dict = {}  # list tape -> [pushed atom]
    for stmt in walk(func.body):
        for v in stmt_defs(stmt):
            defs.setdefault(v.name, []).append(stmt)
        for a in stmt_uses(stmt):
            if isinstance(a, Var):
                uses.setdefault(a.name, []).append(stmt)
        if isinstance(stmt, Eqn) and stmt.prim == "tape_push":
            pushes.setdefault(stmt.ins[0].name, []).append(stmt.ins[1])
    for a in func.result_atoms():
        if isinstance(a, Var):
            uses.setdefault(a.name, []).append(None)
    params = {p.name for p in func.params}
    single = {n: ds[0] for n, ds in defs.items() if len(ds) == 1}
    tapes = {n for n, ds in defs.items() if n not in params and _int_array(types.get(n)) and
             all(_element_use(s, n, types) for s in uses.get(n, ())) and
             all(isinstance(d, Eqn) and d.prim in _ALLOCS for d in ds)}
    good = {n for n in defs if n not in params and _is_int(types.get(n))}
    changed = True
    while changed:
        changed = False
        ok_tapes = {t for t in tapes if all(_nonneg(s.value, good) for s in uses.get(t, ())
                                            if isinstance(s, Store))}
        for name in sorted(good):
            if not all(_def_nonneg(d, name, good, ok_tapes, pushes, single, types) for d in defs[name]):
                good.discard(name)
                changed = True
    return frozenset(good)


def _int_array(t) -> bool:
    return isinstance(t, ArrayType) and t.ndim > 0 and t.dtype == "int64"


def _element_use(stmt, name: str, types) -> bool:
    """``name`` is written here, or read one element at a time (no view of it is taken)."""
    if isinstance(stmt, Store):
        return stmt.target.name == name and stmt.value != Var(name) and stmt.op is None and \
            name not in {a.name for a in index_atoms(stmt.index) if isinstance(a, Var)}
    if isinstance(stmt, Eqn) and stmt.prim == "getitem" and len(stmt.outs) == 1:
        t = types.get(stmt.outs[0].name)
        return stmt.ins[0] == Var(name) and all(a != Var(name) for a in stmt.ins[1:]) and \
            isinstance(t, ArrayType) and t.ndim == 0
    return False


def _nonneg(atom, good) -> bool:
    return _const_nonneg(atom) or (isinstance(atom, Var) and atom.name in good)


def _def_nonneg(stmt, name, good, ok_tapes, pushes, single, types) -> bool:
    if isinstance(stmt, For):
        return _loop_var_nonneg(stmt, good, single)
    if not isinstance(stmt, Eqn) or len(stmt.outs) != 1:
        return False
    p, ins = stmt.prim, stmt.ins
    if p in ("copy", "pos"):
        return _nonneg(ins[0], good)
    if p == "zero_of":
        return True
    if p in ("add", "mul", "floordiv"):
        return all(_nonneg(a, good) for a in ins)
    if p == "mod":
        return _nonneg(ins[1], good)
    if p == "maximum":
        return any(_nonneg(a, good) for a in ins)
    if p == "minimum":
        return all(_nonneg(a, good) for a in ins)
    if p == "len":
        return True
    if p == "sub":
        return bool(stmt.params.get("undo_step")) and ins[0] == Var(name)
    if p == "tape_pop":
        return all(_nonneg(a, good) for a in pushes.get(ins[0].name, ()))
    if p == "getitem":
        base = ins[0]
        if not isinstance(base, Var):
            return False
        src = single.get(base.name)
        if isinstance(src, Eqn) and src.prim == "shape":
            return True
        return base.name in ok_tapes
    return False


def _loop_var_nonneg(loop: For, good, single) -> bool:
    step = loop.step
    if not (isinstance(step, Const) and type(step.value) is int) or step.value == 0:
        return False
    if step.value > 0:
        return _nonneg(loop.start, good)
    stop = loop.stop  # values run down to stop + 1
    if isinstance(stop, Const):
        return type(stop.value) is int and stop.value >= -1
    if _nonneg(stop, good):
        return True
    src = single.get(stop.name) if isinstance(stop, Var) else None
    return isinstance(src, Eqn) and src.prim == "sub" and isinstance(src.ins[1], Const) and \
        type(src.ins[1].value) is int and src.ins[1].value == 1 and _nonneg(src.ins[0], good)
