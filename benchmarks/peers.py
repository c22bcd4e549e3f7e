"""Tool adapters: turn one workload form into a timed gradient call for each tool.

Every adapter returns a `Prepared`: a callable plus its arguments (timed as
`fn(*args)`, with `sync` applied to the result when the tool computes
asynchronously), and a converter from the tool's result to one flat NumPy
vector used by the gradient check.

Workloads write each vectorised form once against a small array namespace
(`ops`): `ops.exp`, `ops.sum(x, axis)`, `ops.logsumexp`, ... so the same text
runs under NumPy, JAX, PyTorch and HIPS autograd. A tool that is not installed
raises `Unavailable`, which the harness reports as "not installed".
"""

from __future__ import annotations

import functools
import importlib
import os
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Unavailable(Exception):
    """The tool cannot run here (not installed, unusable, or skipped); the message is the status."""


@dataclass
class Prepared:
    """A ready-to-time call: `sync(fn(*args))`, and how to read a gradient out of its result."""

    fn: Callable
    args: tuple
    to_flat: Callable[[Any], np.ndarray]
    sync: Callable | None = None
    check: Callable[[], np.ndarray] | None = None  # gradient for the check, when fn is not a gradient
    info: dict = field(default_factory=dict)  # extra facts for the record (e.g. optimiser iterations)

    def call(self):
        out = self.fn(*self.args)
        return self.sync(out) if self.sync is not None else out

    def gradient(self) -> np.ndarray:
        if self.check is not None:
            return self.check()
        return self.to_flat(self.call())


@dataclass
class ToolSpec:
    """One row of a workload: a tool (and variant) and how to prepare it for given inputs."""

    tool: str  # "srcgrad", "hand", "objective", "fd", "jax", "torch", "autograd", "tangent"
    prepare: Callable[[tuple], Prepared]
    variant: str = ""  # e.g. "fused", "vectorised", "lax.scan"
    kind: str = "gradient"  # "gradient" or "objective"
    tol: float = 1e-8  # relative error allowed against the reference gradient

    @property
    def label(self) -> str:
        name = f"{self.tool} ({self.variant})" if self.variant else self.tool
        return f"{name} [objective]" if self.kind == "objective" and self.tool != "objective" else name


def flat(result) -> np.ndarray:
    """Concatenate a gradient (scalar, array or tuple of them, any tool) into one float64 vector."""
    if isinstance(result, (tuple, list)):
        parts = [flat(r) for r in result]
        return np.concatenate(parts) if parts else np.zeros(0)
    if hasattr(result, "detach"):  # torch tensor
        result = result.detach().numpy()
    return np.asarray(result, dtype=np.float64).ravel()


def threads() -> int:
    """The thread count the harness pinned (BENCH_THREADS, default 1)."""
    return int(os.environ.get("BENCH_THREADS", "1"))


# ------------------------------------------------------------------ loading tools

_LOADED: dict[str, Any] = {}


def load(tool: str):
    """Import a tool once; raise Unavailable with the reason when it cannot be used."""
    if tool in _LOADED:
        if isinstance(_LOADED[tool], Unavailable):
            raise _LOADED[tool]
        return _LOADED[tool]
    try:
        _LOADED[tool] = _IMPORTERS[tool]()
    except Unavailable as exc:
        _LOADED[tool] = exc
        raise
    except ModuleNotFoundError as exc:
        _LOADED[tool] = Unavailable("not installed" if tool != "srcgrad" else f"error: {exc}")
        raise _LOADED[tool] from None
    except Exception as exc:  # noqa: BLE001 - any import failure makes the tool unusable
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        status = "error" if tool == "srcgrad" else "not installed/unusable"
        _LOADED[tool] = Unavailable(f"{status}: {type(exc).__name__}: {first}")
        raise _LOADED[tool] from None
    return _LOADED[tool]


def version(tool: str) -> str | None:
    """Installed version of a tool, or None."""
    dist = {"jax": "jax", "torch": "torch", "autograd": "autograd", "tangent": "tangent-ad",
            "srcgrad": "srcgrad", "numba": "numba", "numpy": "numpy", "scipy": "scipy"}[tool]
    try:
        from importlib.metadata import version as dist_version

        return dist_version(dist)
    except Exception:  # noqa: BLE001
        mod = _LOADED.get(tool)
        return getattr(getattr(mod, "module", None), "__version__", None)


def _import_jax():
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("JAX_ENABLE_X64", "1")
    jax = importlib.import_module("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import jax.scipy.special as jsp

    ops = types.SimpleNamespace(
        name="jax", module=jax, lax=jax.lax, exp=jnp.exp, log=jnp.log, sin=jnp.sin, cos=jnp.cos,
        tanh=jnp.tanh, sigmoid=jax.nn.sigmoid, sum=jnp.sum, mean=jnp.mean, logsumexp=jsp.logsumexp,
        concatenate=jnp.concatenate, zeros=jnp.zeros, einsum=jnp.einsum, stack=jnp.stack,
    )
    return ops


def _import_torch():
    torch = importlib.import_module("torch")
    torch.set_num_threads(threads())
    f64 = torch.float64

    def tsum(x, axis=None):
        return x.sum() if axis is None else x.sum(dim=axis)

    ops = types.SimpleNamespace(
        name="torch", module=torch, exp=torch.exp, log=torch.log, sin=torch.sin, cos=torch.cos,
        tanh=torch.tanh, sigmoid=torch.sigmoid, sum=tsum, mean=torch.mean,
        logsumexp=lambda x, axis: torch.logsumexp(x, dim=axis),
        concatenate=lambda xs, axis=0: torch.cat(xs, dim=axis),
        zeros=lambda shape: torch.zeros(shape, dtype=f64), einsum=torch.einsum,
        stack=lambda xs, axis=0: torch.stack(xs, dim=axis),
    )
    return ops


def _import_autograd():
    autograd = importlib.import_module("autograd")
    anp = importlib.import_module("autograd.numpy")
    asp = importlib.import_module("autograd.scipy.special")
    ops = types.SimpleNamespace(
        name="autograd", module=autograd, exp=anp.exp, log=anp.log, sin=anp.sin, cos=anp.cos,
        tanh=anp.tanh, sigmoid=lambda x: 1.0 / (1.0 + anp.exp(-x)), sum=anp.sum, mean=anp.mean,
        logsumexp=asp.logsumexp, concatenate=anp.concatenate, zeros=anp.zeros,
        einsum=anp.einsum, stack=anp.stack,
    )
    return ops


def _import_tangent():
    return importlib.import_module("tangent")


def _import_srcgrad():
    return importlib.import_module("srcgrad")


_IMPORTERS = {"jax": _import_jax, "torch": _import_torch, "autograd": _import_autograd,
              "tangent": _import_tangent, "srcgrad": _import_srcgrad}


@functools.cache
def numpy_ops():
    """The NumPy namespace, for finite differences and reference forms."""
    import scipy.special

    return types.SimpleNamespace(
        name="numpy", module=np, exp=np.exp, log=np.log, sin=np.sin, cos=np.cos, tanh=np.tanh,
        sigmoid=scipy.special.expit, sum=np.sum, mean=np.mean, logsumexp=scipy.special.logsumexp,
        concatenate=np.concatenate, zeros=np.zeros, einsum=np.einsum, stack=np.stack,
    )


# ------------------------------------------------------------------ adapters


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def srcgrad(primal: Callable, argnums, value_and_grad: bool = False) -> Callable[[tuple], Prepared]:
    """srcgrad's compiled gradient of the plain Python primal."""

    def prepare(args):
        sg = load("srcgrad")
        try:
            make = sg.value_and_grad if value_and_grad else sg.grad
            df = make(primal, argnums=argnums)
        except Exception as exc:  # noqa: BLE001 - any failure is the tool's error
            raise Unavailable(f"error: {_first_line(exc)}") from None
        to_flat = (lambda r: flat(r[1])) if value_and_grad else flat
        return Prepared(df, args, to_flat)

    return prepare


def numba_objective(primal: Callable) -> Callable[[tuple], Prepared]:
    """The primal compiled by numba.njit: the common objective yardstick."""

    def prepare(args):
        import numba

        return Prepared(numba.njit(primal), args, flat)

    return prepare


def direct(fn: Callable, to_flat: Callable = flat) -> Callable[[tuple], Prepared]:
    """A function already callable on the workload's inputs (hand-written adjoints)."""
    return lambda args: Prepared(fn, args, to_flat)


def finite_differences(fun: Callable, argnums, budget_s: float = 2.0) -> Callable[[tuple], Prepared]:
    """Central differences of a NumPy function; skipped when it would take longer than budget_s."""
    import time

    argnums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    def fd(*args):
        args = list(args)
        grads = []
        for a in argnums:
            base = np.array(args[a], dtype=np.float64)
            point = base.copy()
            g = np.empty(base.size)
            view = point.reshape(-1)
            for i in range(base.size):
                h = 6e-6 * max(1.0, abs(view[i]))
                old = view[i]
                view[i] = old + h
                args[a] = point if base.ndim else float(view[i])
                up = fun(*args)
                view[i] = old - h
                args[a] = point if base.ndim else float(view[i])
                down = fun(*args)
                view[i] = old
                g[i] = (up - down) / (2.0 * h)
            args[a] = base if base.ndim else float(base)
            grads.append(g.reshape(base.shape))
        return tuple(grads)

    def prepare(args):
        n_in = sum(np.size(args[a]) for a in argnums)
        start = time.perf_counter()
        fun(*args)
        estimate = 2 * n_in * (time.perf_counter() - start)
        if estimate > budget_s:
            raise Unavailable(f"skipped (too large: ~{estimate:.0f} s per gradient)")
        return Prepared(fd, args, flat)

    return prepare


def jax(form: Callable, argnums, objective: bool = False) -> Callable[[tuple], Prepared]:
    """jax.jit(jax.grad(form)) in float64; ints and non-differentiated scalars are static (closed
    over), the rest jnp arrays."""

    def prepare(args):
        ops = load("jax")
        jax_mod, jnp = ops.module, ops.module.numpy
        nums = argnums if isinstance(argnums, int) else tuple(argnums)
        diff = (nums,) if isinstance(nums, int) else nums
        static = {i: a for i, a in enumerate(args)
                  if isinstance(a, (int, np.integer)) or (np.isscalar(a) and i not in diff)}
        dyn = tuple(jnp.asarray(a) for i, a in enumerate(args) if i not in static)
        pos = [i for i in range(len(args)) if i not in static]
        dyn_nums = pos.index(nums) if isinstance(nums, int) else tuple(pos.index(n) for n in nums)

        def f(*dyn_args):
            full = dict(zip(pos, dyn_args)) | static
            return form(ops, *(full[i] for i in range(len(args))))

        fn = jax_mod.jit(f if objective else jax_mod.grad(f, argnums=dyn_nums))
        return Prepared(fn, dyn, flat, sync=jax_mod.block_until_ready)

    return prepare


def torch(form: Callable, argnums, objective: bool = False) -> Callable[[tuple], Prepared]:
    """PyTorch eager: leaf tensors with requires_grad, form(...).backward(), read .grad."""

    def prepare(args):
        ops = load("torch")
        torch_mod = ops.module
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        targs = []
        for i, a in enumerate(args):
            if isinstance(a, (int, np.integer)) or (isinstance(a, float) and i not in nums):
                targs.append(a)
            else:
                t = torch_mod.tensor(np.asarray(a, dtype=np.float64))
                targs.append(t.requires_grad_(i in nums and not objective))
        leaves = [targs[i] for i in nums]

        if objective:
            def run(*xs):
                with torch_mod.no_grad():
                    return form(ops, *xs)
        else:
            def run(*xs):
                for leaf in leaves:
                    leaf.grad = None
                form(ops, *xs).backward()
                return tuple(leaf.grad for leaf in leaves)

        return Prepared(run, tuple(targs), flat)

    return prepare


def autograd(form: Callable, argnums) -> Callable[[tuple], Prepared]:
    """HIPS autograd's grad of the ops form (NumPy arrays in, NumPy arrays out)."""

    def prepare(args):
        ops = load("autograd")
        nums = argnums if isinstance(argnums, int) else tuple(argnums)
        fn = ops.module.grad(lambda *xs: form(ops, *xs), nums)
        return Prepared(fn, args, flat)

    return prepare


def tangent(fun: Callable, argnums) -> Callable[[tuple], Prepared]:
    """tangent-ad's source-transformed gradient of a plain NumPy function."""

    def prepare(args):
        tg = load("tangent")
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        try:
            fn = tg.grad(fun, wrt=nums, verbose=0)
        except Exception as exc:  # noqa: BLE001
            raise Unavailable(f"error: {_first_line(exc)}") from None
        return Prepared(fn, args, flat)

    return prepare


def unavailable(reason: str) -> Callable[[tuple], Prepared]:
    """A row that is known up front not to run (e.g. "skipped (too slow)")."""

    def prepare(args):
        raise Unavailable(reason)

    return prepare


def peer_specs(form: Callable, argnums, *, jax_forms: dict | None = None, tangent_fun=None,
               tangent_reason: str = "") -> list[ToolSpec]:
    """The usual peer rows for an ops form: JAX (+ its objective), PyTorch (+ objective), autograd, tangent."""
    jax_forms = jax_forms or {"vectorised": form}
    specs = []
    for variant, jform in jax_forms.items():
        specs.append(ToolSpec("jax", jax(jform, argnums), variant=variant))
    first_jax = next(iter(jax_forms.items()))
    specs.append(ToolSpec("jax", jax(first_jax[1], argnums, objective=True), variant=first_jax[0],
                          kind="objective"))
    specs.append(ToolSpec("torch", torch(form, argnums)))
    specs.append(ToolSpec("torch", torch(form, argnums, objective=True), kind="objective"))
    specs.append(ToolSpec("autograd", autograd(form, argnums)))
    if tangent_fun is not None:
        specs.append(ToolSpec("tangent", tangent(tangent_fun, argnums)))
    else:
        specs.append(ToolSpec("tangent", unavailable(tangent_reason or "skipped (too slow)")))
    return specs
