"""Value types: `ArrayType(dtype, ndim)`, where ``ndim == 0`` is a scalar.

Types come from the arguments at call time (numba types, or Python/NumPy values) and are
propagated through the IR by `srcgrad.passes.infer_types`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SHORT = {"float64": "f64", "float32": "f32", "int64": "i64", "int32": "i32", "bool": "bool"}


@dataclass(frozen=True)
class ArrayType:
    dtype: str
    ndim: int = 0

    @property
    def is_float(self) -> bool:
        return self.dtype.startswith("float")

    @property
    def is_int(self) -> bool:
        return self.dtype.startswith(("int", "uint"))

    @property
    def is_bool(self) -> bool:
        return self.dtype == "bool"

    @property
    def is_scalar(self) -> bool:
        return self.ndim == 0

    def with_ndim(self, ndim: int) -> ArrayType:
        return ArrayType(self.dtype, ndim)

    def with_dtype(self, dtype: str) -> ArrayType:
        return ArrayType(dtype, self.ndim)

    def __str__(self) -> str:
        short = _SHORT.get(self.dtype, self.dtype)
        return short if self.ndim == 0 else f"{short}[{','.join(':' * self.ndim)}]"


@dataclass(frozen=True)
class TupleType:
    """A tuple of values (``x.shape``, a function returning several values)."""

    items: tuple

    def __str__(self) -> str:
        return "(" + ", ".join(str(t) for t in self.items) + ")"


F64 = ArrayType("float64")
F32 = ArrayType("float32")
I64 = ArrayType("int64")
BOOL = ArrayType("bool")


def promote_dtypes(*dtypes: str) -> str:
    """NumPy's promotion of array dtypes."""
    return str(np.result_type(*[np.dtype(d) for d in dtypes]))


def elementwise(*types: ArrayType, weak=()) -> ArrayType:
    """The result type of an elementwise op; ``weak`` marks operands that are Python literals.

    A Python float literal does not upcast float32 (NumPy 2 / NEP 50); a Python int literal does
    not upcast an integer or a float.
    """
    ndim = max((t.ndim for t in types), default=0)
    strong = [t.dtype for t, w in zip(types, weak or [False] * len(types)) if not w]
    weak_types = [t for t, w in zip(types, weak or [False] * len(types)) if w]
    if not strong:
        dtype = promote_dtypes(*[t.dtype for t in types])
    else:
        dtype = promote_dtypes(*strong)
        for t in weak_types:
            if t.is_float and not np.issubdtype(np.dtype(dtype), np.floating):
                dtype = "float64"
            elif dtype == "bool" and t.dtype != "bool":  # (x > 1) - 1: an int (NumPy 2 and numba)
                dtype = "int64"
    return ArrayType(dtype, ndim)


def to_float(t: ArrayType) -> ArrayType:
    """The floating type a function like ``exp`` returns for ``t``."""
    return t if t.is_float else t.with_dtype("float64")


def from_value(value) -> ArrayType | TupleType:
    if isinstance(value, (bool, np.bool_)):
        return BOOL
    if isinstance(value, (int, np.integer)):
        return ArrayType(str(np.dtype(type(value))) if isinstance(value, np.integer) else "int64")
    if isinstance(value, (float, np.floating)):
        return ArrayType(str(np.dtype(type(value))) if isinstance(value, np.floating) else "float64")
    if isinstance(value, np.ndarray):
        return ArrayType(str(value.dtype), value.ndim)
    if isinstance(value, tuple):
        return TupleType(tuple(from_value(v) for v in value))
    raise TypeError(f"srcgrad cannot handle a value of type {type(value).__name__}")


def from_numba(nbtype) -> ArrayType | TupleType:
    """Convert a numba type (what an overload's typing hook receives) to an ArrayType."""
    from numba.core import types as nt

    if isinstance(nbtype, nt.Array):
        return ArrayType(str(np.dtype(nbtype.dtype.name)), nbtype.ndim)
    if isinstance(nbtype, nt.Boolean):
        return BOOL
    if isinstance(nbtype, nt.Integer):
        return ArrayType(str(np.dtype(nbtype.name)))
    if isinstance(nbtype, nt.Float):
        return ArrayType(str(np.dtype(nbtype.name)))
    if isinstance(nbtype, nt.BaseTuple):
        return TupleType(tuple(from_numba(t) for t in nbtype))
    raise TypeError(f"srcgrad cannot handle an argument of numba type {nbtype}")


@dataclass(frozen=True)
class TapeType:
    """A tape: a list of saved values, created empty and typed by numba from its appends."""

    def __str__(self) -> str:
        return "tape"
