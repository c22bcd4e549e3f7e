"""The CPU target of ``vmap``: generated ``numba.njit(parallel=True, cache=True)`` modules.

Two forms, both real files in the srcgrad cache:

- *row* form (scalar/loop functions: the same subset as the CUDA target, see `kernelgen`): the
  example's forward and adjoint are printed as one njit function whose array gradients are
  extra parameters; the prange loop hands it row ``i`` of the preallocated outputs, so no
  example allocates anything.  Summed: each chunk of the batch gets its own partial row, which
  the adjoint of every example in the chunk adds into; the partials are added at the end.
- *call* form (everything else): the prange loop calls the compiled srcgrad function (a numba
  dispatcher) and copies each result into row ``i``; summed: per-chunk partial rows again.

No two threads ever write the same element (numba's prange silently loses ``out[k] += g``
updates made from several threads).
"""

from __future__ import annotations

import threading

import numpy as np

from .. import __version__, cache
from .kernelgen import generate_device

_LOCK = threading.RLock()
PARALLEL_JIT = "@numba.njit(parallel=True, cache=True, error_model='numpy')"


def zero_loops(name: str, ndim: int, pad: str) -> list:
    lines = [f"{pad}{'    ' * d}for j{d} in range({name}.shape[{d}]):" for d in range(ndim)]
    lines.append(f"{pad}{'    ' * ndim}{name}[{', '.join(f'j{d}' for d in range(ndim))}] = 0")
    return lines


def row_module(dev, axes, reduce, title: str, fastmath: bool = False) -> str:
    params = [f"a{k}" for k in range(len(axes))]
    bufs = [f"b{k}" for k in range(len(dev.buffers))]
    scal = [f"s{k}" for k in range(len(dev.scalar_dtypes))]
    example = [p if ax is None else f"{p}[i]" for p, ax in zip(params, axes)]
    lines = [f"# srcgrad {__version__}: {title}; generated.",
             "# Row form: the example's gradients are written into rows of the outputs.",
             "import math", "", "import numba", "import numpy as np", "",
             "from srcgrad import runtime as rt", "",
             f"_jit = numba.njit(cache=True, error_model='numpy', fastmath={fastmath!r})", "", "",
             dev.source, "", "", PARALLEL_JIT]
    if reduce == "sum":
        lines += [f"def batched(n, chunks, {', '.join(params + bufs + scal)}):",
                  "    for c in numba.prange(chunks):",
                  "        lo = c * n // chunks",
                  "        hi = (c + 1) * n // chunks",
                  "        for i in range(lo, hi):",
                  f"            r = {dev.name}({', '.join(example + [f'{b}[c]' for b in bufs])})"]
        lines += [f"            {s}[c] += r[{k}]" for k, s in enumerate(scal)]
    else:
        lines += [f"def batched(n, {', '.join(params + bufs + scal)}):",
                  "    for i in numba.prange(n):"]
        for b, (_, _, _, ndim) in zip(bufs, dev.buffers):
            lines.append(f"        r{b} = {b}[i]")
            lines += zero_loops(f"r{b}", ndim, "        ")
        lines.append(f"        r = {dev.name}({', '.join(example + [f'r{b}' for b in bufs])})")
        lines += [f"        {s}[i] = r[{k}]" for k, s in enumerate(scal)]
    return "\n".join(lines) + "\n"


def call_module(key, axes, structure, reduce, title: str) -> str:
    """The call form: a prange loop over examples (or over chunks) calling ``inner_for(key)``."""
    params = [f"a{k}" for k in range(len(axes))]
    call_args = ", ".join(p if ax is None else f"{p}[i]" for p, ax in zip(params, axes))
    leaves = leaf_paths(structure)
    outs = [f"o{k}" for k in range(len(leaves))]
    lines = [f"# srcgrad {__version__}: {title}; generated.",
             "# Each example writes its own output row (or its chunk's partial row): no shared writes.",
             "import numba", "", "from srcgrad.vmap import inner_for", "",
             f"_f = inner_for({key!r})", "", "", PARALLEL_JIT]

    def leaf_expr(path):
        return "r" + "".join(f"[{p}]" for p in path)

    def target(out, row, ndim):
        return f"{out}[{', '.join([row] + [':'] * ndim)}]"

    if reduce == "sum":
        lines += [f"def batched(n, chunks, {', '.join(params + outs)}):",
                  "    for c in numba.prange(chunks):",
                  "        lo = c * n // chunks",
                  "        hi = (c + 1) * n // chunks",
                  "        for i in range(lo, hi):",
                  f"            r = _f({call_args})"]
        lines += [f"            {target(o, 'c', nd)} += {leaf_expr(p)}" for o, (p, nd) in zip(outs, leaves)]
    else:
        lines += [f"def batched(n, {', '.join(params + outs)}):",
                  "    for i in numba.prange(n):",
                  f"        r = _f({call_args})"]
        lines += [f"        {target(o, 'i', nd)} = {leaf_expr(p)}" for o, (p, nd) in zip(outs, leaves)]
    return "\n".join(lines) + "\n"


def leaf_paths(structure, path=()):
    """[(path, ndim)] of a result's nesting whose leaves are ndims."""
    if isinstance(structure, tuple):
        out = []
        for k, s in enumerate(structure):
            out += leaf_paths(s, path + (k,))
        return out
    return [(path, structure)]


class RowKernel:
    """The row form for one (argument types, in_axes): built from the transform's IR."""

    def __init__(self, transform, types, axes, reduce):
        from .. import pipeline
        from ..errors import SrcgradError

        if len(types) != transform.nargs:
            raise SrcgradError(f"{transform.entry_name} takes {transform.nargs} argument(s), got "
                               f"{len(types)}", transform.func_ir.loc)
        built = pipeline.build(transform, list(types), [])
        self.dev = generate_device(built.generated, reduce == "sum", target="cpu")  # may reject
        title = f"vmap of {transform.kind}({transform.fn_name}), in_axes {axes}, reduce={reduce!r}"
        self.source = row_module(self.dev, axes, reduce, title, transform.fastmath)
        digest = cache.key(__version__, cache.package_hash(), "row", transform.key, tuple(types), axes, reduce)
        name = f"{cache.PREFIX}vmap_{digest}"
        cache.install_finder()
        self.kernel = cache.load_module(name, self.source).batched
        self.reduce = reduce

    def __call__(self, args, axes, n, chunks):
        dev = self.dev
        summed = self.reduce == "sum"
        rows = chunks if summed else n
        alloc = np.zeros if summed else np.empty
        bufs = []
        for _, param, dtype, _ndim in dev.buffers:
            shape = args[param].shape[1:] if axes[param] is not None else np.shape(args[param])
            bufs.append(alloc((rows,) + tuple(shape), dtype=dtype))
        scal = [alloc(rows, dtype=d) for d in dev.scalar_dtypes]
        if summed:
            self.kernel(n, chunks, *args, *bufs, *scal)
        else:
            self.kernel(n, *args, *bufs, *scal)
        leaves = [bufs[k] if kind == "buffer" else scal[k] for kind, k in dev.leaves]
        return dev.structure, leaves
