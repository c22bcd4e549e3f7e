"""The public API: grad, value_and_grad, vjp, jit, stop_gradient (JAX's names)."""

from __future__ import annotations

import os
import threading

import numpy as np
from numba.extending import overload

from . import __version__, cache, frontend
from .capture import unwrap
from .errors import DifferentiationError
from .types import from_value

_TRANSFORMS: dict = {}
_LOCK = threading.RLock()


def stop_gradient(x):
    """Inside a differentiated function: ``x`` with its derivative cut (PyTorch's detach)."""
    return x


@overload(stop_gradient)
def _stop_gradient_jit(x):
    return lambda x: x


class Specialization:
    def __init__(self, built, compiled):
        self.built = built
        self.compiled = compiled

    @property
    def source(self) -> str:
        return self.built.source

    @property
    def ir_text(self) -> str:
        return self.built.ir_text


def normalize_argnums_for(argnums, nparams: int, fn_name: str, loc) -> tuple:
    """Negative argnums counted from the end; out-of-range ones rejected as the user wrote them."""
    normalized = tuple(a + nparams if a < 0 else a for a in argnums)
    for a, given in zip(normalized, argnums):
        if not 0 <= a < nparams:
            raise DifferentiationError(f"argnums={given} is out of range: {fn_name} takes "
                                       f"{nparams} argument(s)", loc, construct="argnums")
    return normalized


def tangent_param_names(param_names: list, argnums: tuple) -> list:
    """``x_dot`` for each differentiated parameter, never colliding with an existing name."""
    taken = list(param_names)
    for a in argnums:
        name = f"{param_names[a]}_dot"
        while name in taken:
            name += "_"
        taken.append(name)
    return taken[len(param_names):]


class Transform:
    """One user function under one transformation; specialised once per argument types."""

    def __init__(self, fn, kind: str, argnums: tuple, as_tuple: bool, backend: str,
                 fastmath: bool):
        self.fn = unwrap(fn)
        self.kind = kind
        self.backend = backend
        self.fastmath = fastmath
        self.func_ir, deps = frontend.lower(self.fn)
        self.fn_name = self.func_ir.name
        self.nparams = len(self.func_ir.params)
        self.argnums = normalize_argnums_for(argnums, self.nparams, self.fn_name, self.func_ir.loc)
        self.as_tuple = as_tuple
        self.param_names = [p.name for p in self.func_ir.params]
        if kind == "vjp":
            ct = "ct"
            while ct in self.param_names:
                ct += "_"
            self.param_names.append(ct)
        elif kind == "jvp":  # forward mode: one tangent per differentiated argument
            self.param_names += tangent_param_names(self.param_names, self.argnums)
        self.nargs = len(self.param_names)
        self.entry_name = f"{self.fn_name}_{kind}"
        self.key = cache.key(__version__, cache.package_hash(), kind, self.argnums, as_tuple,
                             fastmath, backend, sorted(deps.items()))
        self.specs: dict = {}
        self._latest = None
        self.last_error = None

    def specialize(self, arg_types: list) -> Specialization:
        from . import pipeline
        from .backends import cpu, python

        types_key = tuple(arg_types)
        with _LOCK:
            spec = self.specs.get(types_key)
            if spec is None:
                if len(arg_types) != self.nargs:
                    raise DifferentiationError(f"{self.entry_name} takes {self.nargs} "
                                               f"argument(s), got {len(arg_types)}",
                                               self.func_ir.loc)
                if self.backend == "python":
                    preamble = python.preamble()
                else:
                    preamble = cpu.jit_preamble(self.fastmath)
                built = pipeline.build(self, list(arg_types), preamble)
                name = f"{cache.PREFIX}{self.fn_name}_{cache.key(self.key, types_key)}"
                cache.install_finder()
                module = cache.load_module(name, built.source)
                spec = Specialization(built, getattr(module, self.entry_name))
                self.specs[types_key] = spec
            self._latest = spec
            return spec

    def specialize_for_values(self, args) -> Specialization:
        return self.specialize([from_value(_as_value(a)) for a in args])

    def latest(self) -> Specialization:
        if self._latest is None:
            # nothing compiled yet: show the float64-scalar specialisation if that is valid
            from .errors import SrcgradError
            from .types import F64

            try:
                return self.specialize([F64] * self.nargs)
            except SrcgradError as exc:
                raise SrcgradError(f"{self.entry_name} has not been called yet and float64 "
                                   "scalars do not fit its arguments; call it once or use "
                                   ".source_for(*args)") from exc
        return self._latest


def _as_value(a):
    return np.asarray(a) if isinstance(a, list) else a


def _normalize_argnums(argnums):
    if isinstance(argnums, (int, np.integer)):
        return (int(argnums),), False
    if isinstance(argnums, (tuple, list)) and argnums and \
            all(isinstance(a, (int, np.integer)) for a in argnums):
        return tuple(int(a) for a in argnums), True
    raise DifferentiationError(f"argnums must be an int or a non-empty tuple of ints, got "
                               f"{argnums!r}", construct="argnums")


def _make(fn, kind, argnums, as_tuple, backend, fastmath):
    backend = backend or os.environ.get("SRCGRAD_BACKEND", "cpu")
    if backend not in ("cpu", "python"):
        raise ValueError(f"unknown backend {backend!r} (cpu or python; for GPUs use srcgrad.vmap(..., target='cuda'))")
    key = (unwrap(fn), kind, argnums, as_tuple, backend, fastmath)
    with _LOCK:
        if key in _TRANSFORMS:
            return _TRANSFORMS[key]
        if getattr(fn, "transform", None) is not None:  # a srcgrad object: nested (higher.py)
            from .higher import NestedTransform

            transform = NestedTransform(fn, kind, argnums, as_tuple, backend, fastmath)
        else:
            transform = Transform(fn, kind, argnums, as_tuple, backend, fastmath)
        if backend == "python":
            from .backends.python import PythonFunction

            obj = PythonFunction(transform)
        else:
            from .backends.cpu import make_dispatcher

            obj = make_dispatcher(transform)
        _TRANSFORMS[key] = obj
        return obj


def grad(fun=None, argnums=0, *, backend=None, fastmath=False):
    """The gradient of a scalar function, compiled: ``grad(f)(x)``; also ``@grad`` and
    ``@grad(argnums=(0, 1))`` (a tuple of argnums gives a tuple of gradients)."""
    if fun is None:
        return lambda f: grad(f, argnums, backend=backend, fastmath=fastmath)
    nums, as_tuple = _normalize_argnums(argnums)
    return _make(fun, "grad", nums, as_tuple, backend, fastmath)


def value_and_grad(fun=None, argnums=0, *, backend=None, fastmath=False):
    """``(f(x), grad(f)(x))`` from one call: ready for ``scipy.optimize.minimize(jac=True)``."""
    if fun is None:
        return lambda f: value_and_grad(f, argnums, backend=backend, fastmath=fastmath)
    nums, as_tuple = _normalize_argnums(argnums)
    return _make(fun, "value_and_grad", nums, as_tuple, backend, fastmath)


def jit(fun=None, *, backend=None, fastmath=False):
    """The function itself, compiled through srcgrad (no derivative): the no-grad forward."""
    if fun is None:
        return lambda f: jit(f, backend=backend, fastmath=fastmath)
    return _make(fun, "primal", (), False, backend, fastmath)


def vjp(fun, *primals, argnums=None, backend=None):
    """``out, pullback = vjp(f, *primals)``; ``pullback(v)`` gives the cotangents of the inputs
    (a tuple, one per differentiated argument): PyTorch's ``y.backward(gradient=v)``."""
    primals = tuple(_as_value(p) for p in primals)
    if argnums is None:
        nums = tuple(i for i, p in enumerate(primals)
                     if getattr(from_value(p), "is_float", False))
        if not nums:
            raise DifferentiationError("vjp: no float argument to differentiate", construct="vjp")
    else:
        nums, _ = _normalize_argnums(argnums)
    pull = _make(fun, "vjp", nums, True, backend, False)
    out = jit(fun, backend=backend)(*primals)

    def pullback(cotangent):
        ct = _as_value(cotangent)
        if isinstance(out, np.ndarray):
            ct = np.ascontiguousarray(np.broadcast_to(np.asarray(ct, dtype=out.dtype), out.shape))
        elif isinstance(ct, np.ndarray) and ct.ndim == 0:
            ct = ct.item()
        return pull(*primals, ct)[1]

    return out, pullback
