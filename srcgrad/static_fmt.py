"""Static specialisation at codegen: plain code where the inferred types decide the case.

The adjoint rules and the transformer emit generic runtime calls (``rt.cast_like(v, x)``,
``rt.unbroadcast(g, x)``, ``rt.zeros_like_any(x)``...) that numba resolves through
``@overload``s, compiled again for every generated function in every process.  After type
inference every variable has a dtype and a number of dimensions, so codegen can do better:

- drop a call that is a no-op for the types (``cast_like`` to the same dtype);
- emit a constant (``zeros_like_any`` of a number);
- call a small ``@numba.njit(cache=True)`` helper of ``srcgrad.runtime.specialised`` whose
  machine code numba caches across processes (``unbroadcast`` for one number of dimensions,
  whole-array fills, matrix products, stores into a slice or a row).

Each selector returns a template, or None to keep the generic call.  :func:`install` chains
the selectors in front of the primitives' own templates; :func:`store` renders a ``Store``.
"""

from __future__ import annotations

from . import runtime
from .ir import Const, Slice, Var
from .primitives import PRIMS
from .runtime import elementwise as ew
from .runtime import ew_binary as ewb
from .runtime import ew_unary as ewu
from .types import ArrayType, TupleType

_FLOATS = ("float64", "float32")


def _arr(t) -> bool:
    return isinstance(t, ArrayType)


def _float_of(t: ArrayType) -> str:
    """The float dtype the runtime helpers give for a value of type t."""
    return t.dtype if t.dtype in _FLOATS else "float64"


def _number(template: str, src, dtype: str) -> str:
    """A number of src's type as a number of ``dtype`` (no conversion when they agree)."""
    if _arr(src) and src.ndim == 0 and src.dtype == dtype:
        return template
    return f"np.{dtype}({template})"


def _cast_like(ins, outs):
    v, x = ins
    if not (_arr(v) and _arr(x)) or v.ndim != x.ndim:
        return None
    return "{0}" if v.dtype == _float_of(x) else None


def _zeros_like_any(ins, outs):
    (x,) = ins
    if not _arr(x):
        return None
    dt = _float_of(x)
    if x.ndim == 0:
        return "0.0" if dt == "float64" else "np.float32(0.0)"
    return f"{alloc_call('zeros', dt)}({{0}}.shape)"


def _range_last(ins, outs):
    """int64 bounds: the cached helper (the generic ``@overload`` compiles in every process)."""
    if all(_arr(t) and t.ndim == 0 and t.dtype == "int64" for t in ins):
        return "rt.range_last_i64({0}, {1}, {2})"
    return None


def _fill(mean: bool):
    def select(ins, outs):
        x, g = ins
        if not (_arr(x) and _arr(g)) or g.ndim != 0:
            return None
        dt = _float_of(x)
        if x.ndim == 0:
            return _number("{1}", g, dt)
        return f"rt.{'mean_full' if mean else 'full'}_f{dt[-2:]}({{0}}.shape, {{1}})"

    return select


def _unbroadcast(ins, outs):
    g, x = ins
    if not (_arr(g) and _arr(x)):
        return None
    dt = _float_of(x)
    if g.dtype != dt:
        return None
    if x.ndim == 0:
        return "{0}" if g.ndim == 0 else "rt.sum_all({0})"
    if g.ndim == 0:
        return f"rt.full_f{dt[-2:]}({{1}}.shape, {{0}})"
    if g.ndim == x.ndim and g.ndim <= 3:
        return f"rt.unbroadcast_eq{g.ndim}({{0}}, {{1}})"
    if g.ndim == 2 and x.ndim == 1:
        return "rt.unbroadcast_rows({0}, {1})"
    return None


def _same_float(ins, outs, ndims) -> bool:
    """All operands are arrays of the result's float dtype with these numbers of dimensions."""
    if not outs or not _arr(outs[0]) or outs[0].dtype not in _FLOATS:
        return False
    return all(_arr(t) and t.dtype == outs[0].dtype and t.ndim == n for t, n in zip(ins, ndims))


def _matmul(ins, outs):
    if len(ins) == 2 and all(_arr(t) and t.ndim in (1, 2) for t in ins) and \
            _same_float(ins, outs, [t.ndim for t in ins]):
        return "rt.dot({0}, {1})"
    return None


def _matmul_adj(which: str):
    def select(ins, outs):
        if _same_float(ins, outs, (2, 2, 2)):
            return f"rt.matmul_adj_{which}2({{0}}, {{1}}, {{2}})"
        if which == "b" and _same_float(ins, outs, (1, 2, 1)):
            return "rt.dot({1}.T, {0})"  # (a @ b)' wrt b, a a matrix and b a vector: a.T @ g
        if which == "a" and _same_float(ins, outs, (1, 1, 2)):
            return "rt.dot({2}, {0})"  # wrt a vector a of a @ B: B @ g
        return None

    return select


def _iadd(ins, outs):
    a, v = ins
    if not (_arr(a) and _arr(v)) or a.ndim not in (1, 2) or a.dtype not in _FLOATS:
        return None
    if v.ndim == 0 and (v.dtype == a.dtype or v.is_int):
        value = "{1}" if v.dtype == a.dtype else f"np.{a.dtype}({{1}})"
        return f"rt.iadd_{a.ndim}s({{0}}, {value})"
    if v.ndim == a.ndim and v.dtype == a.dtype:
        return f"rt.iadd_{a.ndim}({{0}}, {{1}})"
    return None


_LOOP_KINDS = {(1, 1): "11", (2, 2): "22", (2, 1): "21", (1, 2): "12"}


def _loop_kind(ins, dtype: str) -> str | None:
    """Which small-loop helper (``rt.ewb.<op>_<kind>``) fits these operand types, if any."""
    if any(t.ndim and t.dtype != dtype for t in ins):
        return None
    a, b = (t.ndim for t in ins)
    if a == 0 or b == 0:
        return "sa" if a == 0 else "as"
    return _LOOP_KINDS.get((a, b))


def _elementwise(name: str, nargs: int):
    """A cached helper for an operation whose result is a float array: a small loop
    (``rt.ewb``/``rt.ewu``) when every array operand has the result's dtype, else the
    helper holding numba's own array expression (``rt.ew``)."""
    def select(ins, outs):
        if len(ins) != nargs or not outs or not _arr(outs[0]) or outs[0].ndim == 0 or \
                outs[0].dtype not in _FLOATS or not all(_arr(t) for t in ins):
            return None
        dtype = outs[0].dtype
        # an int number as a float: numba would compile a helper per literal value otherwise
        args = ", ".join(f"np.float64({{{i}}})" if t.ndim == 0 and t.is_int and dtype == "float64"
                         else f"{{{i}}}" for i, t in enumerate(ins))
        if nargs == 1 and name in ewu.UNARY and ins[0].dtype == dtype:
            return f"rt.ewu.{name}({args})"
        if nargs == 2 and name in ewb.BINARY:
            kind = _loop_kind(ins, dtype)
            if kind is not None:
                return f"rt.ewb.{name}_{kind}({args})"
        return f"rt.ew.{name}({args})"

    return select


_ALLOC_CODES = {"float64": "f64", "float32": "f32", "int64": "i64", "bool": "b1"}


def _int_shape(t) -> bool:
    """An int, or a tuple of ints: a shape the allocation helpers take."""
    if isinstance(t, TupleType):
        return all(_arr(item) and item.ndim == 0 and item.is_int for item in t.items)
    return _arr(t) and t.ndim == 0 and t.is_int


def alloc_call(kind: str, dtype: str) -> str | None:
    """The cached helper for ``np.<kind>(shape, dtype)``, as a name (``rt.empty_f64``), or None
    where srcgrad.runtime has none for that dtype."""
    name = f"{kind}_{_ALLOC_CODES.get(dtype)}"
    return f"rt.{name}" if dtype in _ALLOC_CODES and hasattr(runtime, name) else None


def _alloc(kind: str, like: bool):
    """np.zeros/np.empty/np.ones (and their ``_like`` forms on arrays): a cached helper instead
    of numba's implementation, which every generated function compiles again."""
    def select(ins, outs):
        if not outs or not _arr(outs[0]) or outs[0].ndim == 0:
            return None
        name = alloc_call(kind, outs[0].dtype)
        if name is None:
            return None
        if like:
            return f"{name}({{0}}.shape)" if _arr(ins[0]) and ins[0].ndim == outs[0].ndim else None
        return f"{name}({{0}})" if _int_shape(ins[0]) else None

    return select


def _sum(ins, outs):
    """``np.sum`` of a whole float array: the cached helper (numba's array_sum compiles per function)."""
    (x,) = ins
    if _arr(x) and x.ndim and x.dtype in _FLOATS and outs and _arr(outs[0]) and outs[0].dtype == x.dtype:
        return "rt.sum_all({0})"
    return None


SELECTORS = {
    "sum": _sum,
    "cast_like": _cast_like,
    "iadd": _iadd,
    "zeros_like_any": _zeros_like_any,
    "fill_like": _fill(False),
    "mean_fill": _fill(True),
    "unbroadcast": _unbroadcast,
    "matmul": _matmul,
    "range_last": _range_last,
    "matmul_adj_a": _matmul_adj("a"),
    "matmul_adj_b": _matmul_adj("b"),
}
SELECTORS.update({name: _alloc(name, False) for name in ("empty", "zeros", "ones")})
SELECTORS.update({f"{name}_like": _alloc(name, True) for name in ("empty", "zeros", "ones")})
SELECTORS.update({name: _elementwise(name, 2) for name in ew.BINARY})
SELECTORS.update({name: _elementwise(name, 1) for name in ew.UNARY})


def _chain(select, prev, fmt):
    def chained(ins, outs):
        text = select(ins, outs)
        if text is not None:
            return text
        return prev(ins, outs) if prev is not None else fmt

    chained.specialised = True
    return chained


def install():
    """Put the selectors in front of the primitives' templates (idempotent)."""
    for name, select in SELECTORS.items():
        prim = PRIMS.get(name)
        if prim is None:
            continue
        prev = prim.meta.get("select_fmt")
        if getattr(prev, "specialised", False):
            continue
        prim.meta["select_fmt"] = _chain(select, prev, prim.fmt)


# ---------------------------------------------------------------------------------------------
# stores: a[lo:hi] (+)= v on 1-D a, a[i] (+)= v on 2-D a


def store(writer, stmt) -> str | None:
    """Call text for a Store the cached helpers cover, or None for numba's own setitem."""
    t = writer.types.get(stmt.target.name)
    if not _arr(t) or t.dtype not in _FLOATS or len(stmt.index) != 1 or stmt.op not in (None, "add"):
        return None
    item = stmt.index[0]
    v = writer.atom_type(stmt.value)
    if not _arr(v) or v.dtype not in _FLOATS + ("int64", "bool"):
        return None
    suffix = "_s" if v.ndim == 0 else ""
    kind = "add" if stmt.op == "add" else "set"
    target = stmt.target.name
    value = writer.atom(stmt.value, t.dtype)
    if v.ndim == 0 and v.is_int:  # a float, not an int literal (one helper compile per value)
        value = f"np.{t.dtype}({value})"
    if t.ndim == 1 and isinstance(item, Slice) and item.step is None and v.ndim in (0, 1):
        lo = "np.int64(0)" if item.start is None else _int_atom(writer, item.start)
        hi = f"{target}.shape[0]" if item.stop is None else _int_atom(writer, item.stop)
        if lo is None or hi is None:
            return None
        return f"rt.slice_{kind}{suffix}({target}, {lo}, {hi}, {value})"
    if t.ndim == 2 and not isinstance(item, Slice) and v.ndim in (0, 1):
        i = _int_atom(writer, item)
        if i is None:
            return None
        return f"rt.row_{kind}{suffix}({target}, {i}, {value})"
    return None


def _int_atom(writer, atom) -> str | None:
    """An index atom's text if it is an integer (not a bool, array or None)."""
    if isinstance(atom, Const):  # np.int64: a literal would compile a helper per value
        return f"np.int64({atom.value})" if type(atom.value) is int else None
    if isinstance(atom, Var):
        t = writer.types.get(atom.name)
        if _arr(t) and t.ndim == 0 and t.is_int:
            return atom.name
    return None
