"""User-defined primitives: ``@srcgrad.adjoint(fn)`` and ``srcgrad.nondiff(fn)``.

A registered callable becomes an opaque primitive: srcgrad does not read its body but calls it
from the generated code (compiled with numba; a plain Python function is njit-compiled
first) and, in the adjoint sweep, inlines the user's rule exactly like a built-in rule: first
parameter ``g`` (the output cotangent), optionally ``ans`` (the primal output), then the
inputs; it returns one cotangent per input (a tuple when there are several, ``None`` for an
input that gets none), of the output's shape (broadcasting is undone by the transformer).

Generated modules reach the callables as attributes of this module (``custom.user_f_1a2b3c4d``;
numba resolves a module attribute holding a dispatcher at compile time).  Each primitive
declares the hash of the callable's and the rule's sources as a dependency, so the disk cache
never serves code built with another rule.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import sys
import threading

import numba
import numpy as np

from .capture import unwrap
from .primitives import BY_CALLABLE, PRIMS, Prim, lookup_callable, register
from .types import ArrayType, TupleType, from_numba

__all__ = ["adjoint", "nondiff", "registered"]

_LOCK = threading.RLock()
_BY_FN: dict = {}  # python function -> primitive name


def _source_hash(obj) -> str:
    try:
        text = inspect.getsource(unwrap(obj))
    except (OSError, TypeError):
        text = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"
    return hashlib.sha256(text.encode()).hexdigest()


def _to_numba(t):
    from numba.core import types as nt

    if isinstance(t, TupleType):
        return nt.Tuple(tuple(_to_numba(i) for i in t.items))
    if isinstance(t, ArrayType):
        dtype = numba.from_dtype(np.dtype(t.dtype))
        return dtype if t.ndim == 0 else nt.Array(dtype, t.ndim, "C")
    raise TypeError(f"cannot pass a value of type {t} to a user function")


def _n_params(fn) -> int | None:
    try:
        params = inspect.signature(unwrap(fn)).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.KEYWORD_ONLY) for p in params):
        return None
    return len(params)


class _UserCall:
    """The compiled callable of one user primitive and its type rule."""

    def __init__(self, fn, label: str):
        self.label = label
        if isinstance(fn, numba.core.dispatcher.Dispatcher):
            self.dispatcher = fn
        else:
            py = unwrap(fn)
            if not inspect.isfunction(py):
                raise TypeError(f"{label}: expected a Python function or a numba @njit "
                                f"function, got {type(fn).__name__}")
            self.dispatcher = numba.njit(py)
        self.signatures: dict = {}

    def infer(self, in_types, params, weak):
        key = tuple(in_types)
        out = self.signatures.get(key)
        if out is None:
            nb_args = tuple(_to_numba(t) for t in in_types)
            try:
                self.dispatcher.compile(nb_args)
                ret = self.dispatcher.overloads[nb_args].signature.return_type
                out = from_numba(ret)
            except TypeError:
                raise
            except Exception as exc:  # numba's typing errors are long: keep the first lines
                text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
                first = "\n".join(text.splitlines()[:3])
                raise TypeError(f"numba cannot compile {self.label} for "
                                f"({', '.join(map(str, in_types))}): {first}") from None
            self.signatures[key] = out
        return [out]


def _register(fn, rule, nondiff_: bool) -> str:
    py = unwrap(fn)
    label = getattr(py, "__qualname__", repr(py))
    if lookup_callable(fn) is not None and fn not in _BY_FN and py not in _BY_FN:
        raise ValueError(f"{label} is a built-in primitive of srcgrad ({lookup_callable(fn)!r});"
                         " its adjoint cannot be replaced")
    if rule is not None:
        params = list(inspect.signature(rule).parameters)
        if not params or params[0] != "g":
            raise ValueError(f"adjoint rule {rule.__qualname__} for {label}: the first "
                             "parameter must be g (the output cotangent)")
        n_rule = len(params) - 1 - (len(params) > 1 and params[1] == "ans")
        n_fn = _n_params(fn)
        if n_fn is not None and n_rule != n_fn:
            raise ValueError(f"adjoint rule {rule.__qualname__} takes {n_rule} input(s) after "
                             f"g{'/ans' if n_rule != len(params) - 1 else ''}, but {label} "
                             f"takes {n_fn}")
    digest = hashlib.sha256((_source_hash(fn) + (_source_hash(rule) if rule else "nondiff"))
                            .encode()).hexdigest()[:10]
    base = re.sub(r"\W", "_", getattr(py, "__name__", "fn"))
    with _LOCK:
        _unregister(fn)
        name = f"user_{base}_{digest}"
        k = 1
        while name in PRIMS:
            k += 1
            name = f"user_{base}_{digest}_{k}"
        call = _UserCall(fn, label)
        setattr(sys.modules[__name__], name, call.dispatcher)
        deps_cache: dict = {}

        def deps():
            if not deps_cache:
                deps_cache[f"custom:{name}:fn"] = _source_hash(fn)
                if rule is not None:
                    from .frontend import lower

                    deps_cache[f"custom:{name}:rule"] = _source_hash(rule)
                    _, rule_deps = lower(rule, is_rule=True)  # functions the rule inlines
                    for k2, v in rule_deps.items():
                        deps_cache[f"custom:{name}:{k2}"] = v
            return deps_cache

        prim = Prim(name, f"custom.{name}({{args}})", call.infer, None, nondiff=nondiff_,
                    meta={"deps": deps, "user_fn": fn, "label": label})
        callables = [fn] + ([py] if py is not fn else [])
        register(prim, callables)
        if rule is not None:
            from .rules import adjoint_rule

            adjoint_rule(name)(rule)
        for c in callables:
            _BY_FN[c] = name
    return name


def _unregister(fn):
    """Forget an earlier registration of ``fn`` (re-running a notebook cell).  Its primitive
    and rule stay registered, so gradients built with them keep working."""
    py = unwrap(fn)
    name = _BY_FN.get(fn) or _BY_FN.get(py)
    if name is None:
        return
    for c in [c for c, n in _BY_FN.items() if n == name]:
        del _BY_FN[c]
        if BY_CALLABLE.get(c) == name:
            del BY_CALLABLE[c]


def adjoint(fn):
    """Register the decorated function as the adjoint rule of ``fn``.

    ``fn`` is a numba ``@njit`` function of yours or a plain Python function (njit-compiled
    here); srcgrad calls it as a black box and differentiates it with the rule::

        @numba.njit
        def my_softplus(x):
            return np.log1p(np.exp(x))

        @srcgrad.adjoint(my_softplus)
        def my_softplus_adj(g, ans, x):
            return g * (1.0 - np.exp(-ans))

    The rule is written in srcgrad's accepted subset (it is inlined into the generated adjoint,
    and can call ``fn`` itself); it returns the cotangent of each input, in the output's shape.
    """

    def decorate(rule):
        _register(fn, rule, nondiff_=False)
        return rule

    return decorate


def nondiff(fn):
    """Mark ``fn`` non-differentiable: srcgrad calls it (compiled with numba) and treats its
    output as a constant, like ``np.sign``.  Returns ``fn``; usable as a decorator."""
    _register(fn, None, nondiff_=True)
    return fn


def registered(fn) -> str | None:
    """The primitive name ``fn`` is registered under, or None."""
    return _BY_FN.get(fn) or _BY_FN.get(unwrap(fn))
