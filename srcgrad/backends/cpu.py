"""The CPU backend: generated modules compiled with ``numba.njit(cache=True)``.

The object handed to the user is a real numba dispatcher (`TransformDispatcher`): callable from
Python at the cost of any njit function, and from the user's own ``@numba.njit`` code.  Its
body only calls a stub; the stub's `numba.extending.overload` receives the numba types of the
arguments, runs the pipeline for that signature, and returns the generated function.  The
dispatcher's own body lives in a small file in the cache, so numba disk-caches it: a second
process with the same function and types loads machine code and generates nothing.
"""

from __future__ import annotations

import inspect
import threading

from numba.core.registry import CPUDispatcher
from numba.extending import overload

from .. import cache
from ..errors import SrcgradError
from ..types import from_numba
from . import body_compiler

_STUBS: dict = {}
_LOCK = threading.RLock()


def jit_preamble(fastmath: bool = False) -> list:
    return ["import numba", "",
            f"_jit = numba.njit(cache=True, error_model='numpy', fastmath={fastmath!r})"]


def stub_for(key: str):
    """The stub registered for transform ``key`` (looked up by the dispatcher's module)."""
    return _STUBS[key]


def _make_stub(transform):
    names = [f"a{i}" for i in range(transform.nargs)]
    user = list(getattr(transform, "param_names", ()))
    if len(user) == len(names) and all(n.isidentifier() and n not in ("typer", "gen") for n in user):
        names = user  # the generated function's own names: it can be the implementation itself
    params = ", ".join(names)
    namespace: dict = {}
    exec(f"def stub({params}):\n    raise NotImplementedError\n", namespace)  # noqa: S102
    stub = namespace["stub"]

    def typer(*args):
        try:
            arg_types = [from_numba(t) for t in args]
            gen = transform.specialize(arg_types).compiled
        except SrcgradError as exc:
            transform.last_error = exc
            raise
        except TypeError as exc:
            transform.last_error = SrcgradError(str(exc))
            raise

        # The generated function's own Python body is the implementation: calling the njit
        # dispatcher from a forwarder would link its LLVM module in and optimise it once more.
        py_func = getattr(gen, "py_func", None)
        if py_func is not None and list(inspect.signature(py_func).parameters) == names:
            return py_func
        return _forwarder(gen, names)

    namespace["typer"] = typer
    exec(f"def typer_fixed({params}):\n    return typer({params})\n", namespace)  # noqa: S102
    jit_options = {"error_model": "numpy", "fastmath": bool(getattr(transform, "fastmath", False))}
    overload(stub, prefer_literal=False, jit_options=jit_options)(namespace["typer_fixed"])
    return stub


def _forwarder(gen, names):
    params = ", ".join(names)
    namespace = {"gen": gen}
    exec(f"def impl({params}):\n    return gen({params})\n", namespace)  # noqa: S102
    return namespace["impl"]


class TransformDispatcher(CPUDispatcher):
    """A numba dispatcher that also shows the code srcgrad generated for it."""

    transform = None

    def _compile_for_args(self, *args, **kws):
        self.transform.last_error = None
        try:
            return super()._compile_for_args(*args, **kws)
        except Exception as exc:
            err = self.transform.last_error
            if err is not None:
                self.transform.last_error = None
                raise err.with_traceback(None) from None
            raise exc

    def _latest(self):
        # A warm process loads machine code from numba's disk cache without running srcgrad's
        # pipeline: regenerate the source (cheap, no compile) for the signature it loaded.
        if self.transform._latest is None and self.signatures:
            self.transform.specialize([from_numba(t) for t in self.signatures[-1]])
        return self.transform.latest()

    @property
    def source(self) -> str:
        """The generated module of the most recent specialisation (forward and adjoint)."""
        return self._latest().source

    @property
    def ir(self) -> str:
        """The IR of the most recent specialisation, before and after the transformation."""
        return self._latest().ir_text

    def source_for(self, *args) -> str:
        return self.transform.specialize_for_values(args).source


def make_dispatcher(transform) -> TransformDispatcher:
    with _LOCK:
        if transform.key not in _STUBS:
            _STUBS[transform.key] = _make_stub(transform)
        params = ", ".join(transform.param_names)
        text = "\n".join([
            f"# srcgrad: the entry point of {transform.kind}({transform.fn_name}); generated.",
            "from srcgrad.backends.cpu import stub_for",
            "",
            f"_stub = stub_for({transform.key!r})",
            "",
            "",
            f"def {transform.entry_name}({params}):",
            f"    return _stub({params})",
            "",
        ])
        cache.install_finder()
        module = cache.load_module(f"{cache.PREFIX}entry_{transform.key}", text)
        py_func = getattr(module, transform.entry_name)
        options = {"nopython": True, "error_model": "numpy",
                   "fastmath": bool(getattr(transform, "fastmath", False))}  # the generated body's
        disp = TransformDispatcher(py_func, targetoptions=options)
        disp.transform = transform
        body_compiler.install(disp, transform)  # compile the generated body itself (LLVM once)
        disp.enable_caching()
        return disp
