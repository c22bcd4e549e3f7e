"""``vmap``: one srcgrad function evaluated on a batch of inputs, in parallel.

``vmap(fn, in_axes)(*args)`` maps the leading axis of every argument marked ``0`` and passes the
arguments marked ``None`` whole to every call (shared parameters); each output gets a new leading
batch axis (a tuple of outputs gives a tuple of stacked arrays, nested like the outputs).
``reduce="sum"`` sums every output over the batch instead (the summed gradient of a loss).

Two targets:

- ``"cpu"``: a generated ``numba.njit(parallel=True, cache=True)`` module (a real file in the
  srcgrad cache) whose ``prange`` loop calls the compiled srcgrad function (a numba dispatcher,
  callable from njit code).  Each example writes its own row of the outputs (disjoint writes);
  the summed form gives each chunk of the batch its own partial buffer and adds the partials at
  the end (numba's prange has no atomic add: ``out[k] += g`` from several threads loses updates).
- ``"cuda"``: `srcgrad.backends.cuda` (imported only when asked for) generates device functions
  from the same IR and one thread per example.
"""

from __future__ import annotations

import threading

import numpy as np

from . import __version__, cache
from .capture import unwrap
from .errors import SrcgradError, UnsupportedError
from .types import ArrayType, from_value

_INNER: dict = {}  # key -> the compiled function a generated batch module calls
_LOCK = threading.RLock()
TARGETS = ("cpu", "cuda")
REDUCTIONS = (None, "sum")


def inner_for(key: str):
    """The function registered for batch module ``key`` (looked up when the module is imported)."""
    return _INNER[key]


def _resolve(fn):
    """(callable for the CPU target, srcgrad Transform or None) for any accepted function."""
    transform = getattr(fn, "transform", None)
    if transform is not None:
        return fn, transform
    from numba.core.registry import CPUDispatcher

    if isinstance(fn, CPUDispatcher):  # the user's own @njit function: call it as it is
        return fn, None
    if callable(fn):
        from .api import jit

        compiled = jit(fn)
        return compiled, getattr(compiled, "transform", None)
    raise TypeError(f"vmap needs a function, got {type(fn).__name__}")


def _normalize_axes(in_axes, nargs: int) -> tuple:
    if in_axes is None or isinstance(in_axes, (int, np.integer)):
        axes = (in_axes,) * nargs
    elif isinstance(in_axes, (tuple, list)):
        if len(in_axes) != nargs:
            raise ValueError(f"vmap: in_axes has {len(in_axes)} entries for {nargs} argument(s)")
        axes = tuple(in_axes)
    else:
        raise ValueError(f"vmap: in_axes must be 0, None or a tuple of them, got {in_axes!r}")
    for a in axes:
        if a is not None and not isinstance(a, (int, np.integer)):
            raise ValueError(f"vmap: each in_axes entry must be an int or None, got {a!r}")
    if all(a is None for a in axes):
        raise ValueError("vmap: at least one argument must be mapped (in_axes 0)")
    return tuple(None if a is None else int(a) for a in axes)


def prepare_args(args, axes) -> tuple:
    """Move each mapped axis to the front; return (args, batch size)."""
    out, n = [], None
    for i, (a, ax) in enumerate(zip(args, axes)):
        if isinstance(a, (list, tuple)):
            a = np.asarray(a)
        if ax is None:
            out.append(a)
            continue
        shape = getattr(a, "shape", ())
        if len(shape) == 0:
            raise ValueError(f"vmap: argument {i} is mapped (in_axes {ax}) but is a scalar")
        if not -len(shape) <= ax < len(shape):
            raise ValueError(f"vmap: in_axes {ax} is out of range for argument {i} of shape {shape}")
        if ax % len(shape) != 0:
            a = np.moveaxis(a, ax, 0)
        size = a.shape[0]
        if n is None:
            n = size
        elif size != n:
            raise ValueError(f"vmap: mapped arguments have different batch sizes ({n} and {size} "
                             f"for argument {i})")
        out.append(a)
    return tuple(out), n


def _leaves(value, path=()):
    """[(path, value)] of the non-tuple leaves of a (nested) result."""
    if isinstance(value, tuple):
        out = []
        for k, v in enumerate(value):
            out += _leaves(v, path + (k,))
        return out
    return [(path, value)]


def _structure(value):
    """The nesting of a result with each leaf replaced by its ndim."""
    if isinstance(value, tuple):
        return tuple(_structure(v) for v in value)
    return np.ndim(value)


def _rebuild(structure, leaves):
    it = iter(leaves)

    def build(s):
        if isinstance(s, tuple):
            return tuple(build(x) for x in s)
        return next(it)

    return build(structure)


def is_device_array(a) -> bool:
    return hasattr(a, "copy_to_host") or hasattr(a, "__cuda_array_interface__")


def example_types(args, axes) -> list:
    """The srcgrad types of one example's arguments."""
    out = []
    for a, ax in zip(args, axes):
        if isinstance(a, np.ndarray) or is_device_array(a):
            out.append(ArrayType(str(np.dtype(a.dtype)), len(a.shape) - (ax is not None)))
        else:
            out.append(from_value(a))
    return out


class Vmapped:
    """The batched function ``vmap`` returns."""

    def __init__(self, fn, in_axes=0, target="cpu", reduce=None, threads_per_block=128,
                 tape_size=64):
        if target not in TARGETS:
            raise ValueError(f"vmap: unknown target {target!r} (cpu or cuda)")
        if reduce not in REDUCTIONS:
            raise ValueError(f"vmap: reduce must be None or 'sum', got {reduce!r}")
        if target == "cuda":
            from .backends import cuda as cuda_backend

            cuda_backend.require_cuda()
        self.fn = fn
        self.in_axes = in_axes
        self.target = target
        self.reduce = reduce
        self.inner, self.transform = _resolve(fn)
        self.__name__ = f"vmap_{getattr(unwrap(fn), '__name__', 'fn')}"
        self._kernels: dict = {}
        self._source = None
        self.form = None  # "row" or "call" for the CPU target, after a call
        if target == "cuda":
            if self.transform is None and hasattr(self.inner, "py_func"):  # a user @njit function
                from .api import jit

                self.transform = jit(self.inner.py_func).transform
            if self.transform is None:
                raise SrcgradError("vmap(target='cuda') needs a srcgrad function (sg.jit, sg.grad, "
                                   "sg.value_and_grad) or a plain Python function", construct="vmap")
            self._cuda = cuda_backend.BatchCuda(self.transform, reduce, threads_per_block,
                                                tape_size)

    @property
    def source(self) -> str:
        """The generated batch module of the most recent call."""
        if self.target == "cuda":
            return self._cuda.source
        return self._source

    def __call__(self, *args):
        axes = _normalize_axes(self.in_axes, len(args))
        args, n = prepare_args(args, axes)
        if n == 0:
            raise ValueError("vmap: the batch is empty (mapped arguments have length 0)")
        if self.target == "cuda":
            return self._cuda(args, axes, n, example_types(args, axes))
        chunks = 1
        if self.reduce == "sum":
            import numba

            chunks = max(1, min(n, numba.get_num_threads()))
        if getattr(self.inner, "_compile_for_args", None) is not None and self.transform is not None:
            row = self._row_kernel(example_types(args, axes), axes)
            if row is not None:
                structure, leaves = row(args, axes, n, chunks)
                if self.reduce == "sum":
                    leaves = [_finish_sum(v) for v in leaves]
                return _rebuild_indexed(structure, leaves)
        first = self.inner(*[a if ax is None else a[0] for a, ax in zip(args, axes)])
        structure = _structure(first)
        if not hasattr(self.inner, "_compile_for_args"):  # the python backend: no numba
            return self._python_loop(args, axes, n, first, structure)
        kernel = self._call_kernel(axes, structure)
        leaves = _leaves(first)
        if self.reduce == "sum":
            outs = [np.zeros((chunks,) + np.shape(v), dtype=np.asarray(v).dtype) for _, v in leaves]
            kernel(n, chunks, *args, *outs)
            return _rebuild(structure, [_finish_sum(o) for o in outs])
        outs = [np.empty((n,) + np.shape(v), dtype=np.asarray(v).dtype) for _, v in leaves]
        kernel(n, *args, *outs)
        return _rebuild(structure, outs)

    def _row_kernel(self, types, axes):
        from .backends.cpu_batch import RowKernel

        key = ("row", tuple(types), axes)
        with _LOCK:
            if key not in self._kernels:
                try:
                    self._kernels[key] = RowKernel(self.transform, types, axes, self.reduce)
                except UnsupportedError:
                    self._kernels[key] = None  # outside the row subset: the call form
            row = self._kernels[key]
            if row is not None:
                self._source, self.form = row.source, "row"
            return row

    def _python_loop(self, args, axes, n, first, structure):
        rows = [first] + [self.inner(*[a if ax is None else a[i] for a, ax in zip(args, axes)])
                          for i in range(1, n)]
        cols = list(zip(*[[v for _, v in _leaves(r)] for r in rows]))
        if self.reduce == "sum":
            return _rebuild(structure, [_finish_sum(np.stack(c)) for c in cols])
        return _rebuild(structure, [np.stack(c) for c in cols])

    def _call_kernel(self, axes, structure):
        with _LOCK:
            kernel = self._kernels.get(("call", axes, structure))
            if kernel is None:
                kernel, self._source = _cpu_kernel(self.inner, self.transform, axes, structure,
                                                   self.reduce)
                self._kernels[("call", axes, structure)] = kernel
            self.form = "call"
            return kernel


def _rebuild_indexed(structure, leaves):
    if isinstance(structure, tuple):
        return tuple(_rebuild_indexed(s, leaves) for s in structure)
    return leaves[structure]


def _finish_sum(partials):
    total = partials.sum(axis=0)
    return total.item() if total.ndim == 0 else total


def _cpu_kernel(inner, transform, axes, structure, reduce):
    """Generate, write and import the call-form prange module for one (function, in_axes,
    output structure)."""
    from .backends.cpu_batch import call_module

    if transform is not None:
        ident = transform.key
    else:  # a user @njit function: key on its source
        from .capture import capture

        ident = cache.key(capture(inner).source_hash, getattr(inner, "targetoptions", None))
    key = cache.key(__version__, cache.package_hash(), "vmap_cpu", ident, axes, structure, reduce)
    with _LOCK:
        _INNER[key] = inner
    name = getattr(unwrap(inner), "__name__", "fn")
    source = call_module(key, axes, structure, reduce,
                         f"vmap of {name} over in_axes {axes}, reduce={reduce!r}")
    cache.install_finder()
    module = cache.load_module(f"{cache.PREFIX}vmap_{key}", source)
    return module.batched, source


def vmap(fn, in_axes=0, *, target="cpu", reduce=None, threads_per_block=128, tape_size=64):
    """Batch ``fn`` over the leading axis of the arguments marked 0 in ``in_axes`` (``None``:
    the argument is shared by every example).  ``fn`` is ``sg.jit(f)``, ``sg.grad(f)``,
    ``sg.value_and_grad(f)``, a numba ``@njit`` function or a plain Python function (compiled
    with ``sg.jit``).  ``reduce="sum"`` sums the outputs over the batch.  ``target="cuda"`` runs
    one GPU thread per example (``threads_per_block``; loops that need a tape get a per-thread
    tape of ``tape_size`` entries).  Example: ``vmap(grad(loss), in_axes=(None, 0, 0))(w, X, y)``
    gives the per-example gradients, shape ``(n,) + w.shape``."""
    return Vmapped(fn, in_axes, target, reduce, threads_per_block, tape_size)


def batch_grad(fun, argnums=0, in_axes=0, *, target="cpu", threads_per_block=128, tape_size=64):
    """The gradient of ``sum_i fun(args_i)`` over a batch: ``vmap(grad(fun), reduce="sum")``."""
    from .api import grad

    return vmap(grad(fun, argnums), in_axes, target=target, reduce="sum",
                threads_per_block=threads_per_block, tape_size=tape_size)
