"""The CUDA target of ``vmap``: one GPU thread per example (imported only when asked for).

For each argument signature the pipeline builds the example's generated function (forward and
adjoint) once; `kernelgen` prints it as a ``cuda.jit(device=True)`` function, and a kernel is
generated around it into a real module in the srcgrad cache:

- per-example mode: thread ``i`` zeroes its own rows of the gradient outputs, calls the device
  function on row ``i`` of the mapped arguments and the shared arguments, and writes its scalar
  results to ``out[i]``: every write is disjoint.
- summed mode (``reduce="sum"``): scalar results are summed by a tree reduction in shared memory
  within each block, then one ``cuda.atomic.add`` per block and output; array gradients are
  accumulated straight into the one summed output with ``cuda.atomic.add`` from the adjoint.

Needs an NVIDIA GPU with numba's CUDA support (the ``[cuda]`` extra: numba-cuda), or the
simulator: ``NUMBA_ENABLE_CUDASIM=1`` set before numba is imported.
"""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np

from .. import __version__, cache
from ..errors import SrcgradError
from ..vmap import is_device_array
from .cpu_batch import zero_loops
from .kernelgen import generate_device

_LOCK = threading.RLock()


class CudaUnavailableError(SrcgradError):
    """target='cuda' was asked for where neither a GPU nor the simulator can run kernels."""


def _cuda():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from numba import cuda
    return cuda


def simulator_enabled() -> bool:
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def require_cuda():
    """Raise `CudaUnavailableError` unless kernels can run (a GPU, or the simulator)."""
    if simulator_enabled():
        return
    try:
        cuda = _cuda()
        available = cuda.is_available()
    except Exception as exc:  # noqa: BLE001 (a broken driver or toolkit: report it)
        available, why = False, f"{type(exc).__name__}: {exc}"
    else:
        why = "numba.cuda.is_available() is False: no NVIDIA GPU or driver found"
    if available:
        return
    hint = ""
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        hint = (" NUMBA_ENABLE_CUDASIM is set now, but numba read it when it was first imported: "
                "set it before anything imports numba (srcgrad included).")
    raise CudaUnavailableError(
        f"vmap(target='cuda') cannot run here ({why}). Use target='cpu', run on a machine with an "
        "NVIDIA GPU (pip install 'srcgrad[cuda]'), or set NUMBA_ENABLE_CUDASIM=1 before numba is "
        f"imported to run the kernels in numba's (slow) simulator.{hint}", construct="target")


class _Spec:
    def __init__(self, kernel, dev, source):
        self.kernel = kernel
        self.dev = dev
        self.source = source


class BatchCuda:
    """The CUDA side of one ``vmap``: kernels per (argument types, in_axes)."""

    def __init__(self, transform, reduce, threads_per_block: int, tape_size: int):
        if transform.kind not in ("primal", "grad", "value_and_grad"):
            raise SrcgradError(f"vmap(target='cuda') supports jit, grad and value_and_grad, not "
                               f"{transform.kind}", construct="vmap")
        tpb = int(threads_per_block)
        if tpb < 1 or tpb > 1024 or tpb & (tpb - 1):
            raise ValueError("threads_per_block must be a power of two between 1 and 1024")
        self.transform = transform
        self.reduce = reduce
        self.tpb = tpb
        self.tape_size = max(1, int(tape_size))
        self.specs: dict = {}
        self.source = None

    def spec(self, types, axes) -> _Spec:
        from .. import pipeline

        key = (tuple(types), axes)
        with _LOCK:
            spec = self.specs.get(key)
            if spec is None:
                t = self.transform
                if len(types) != t.nargs:
                    raise SrcgradError(f"{t.entry_name} takes {t.nargs} argument(s), got {len(types)}",
                                       t.func_ir.loc)
                built = pipeline.build(t, list(types), [])
                dev = generate_device(built.generated, self.reduce == "sum", self.tape_size)
                source = kernel_module(dev, axes, self.reduce, self.tpb, t.kind, t.fn_name)
                digest = cache.key(__version__, cache.package_hash(), t.key, key, self.reduce, self.tpb,
                                   self.tape_size)
                name = f"{cache.PREFIX}cuda_{digest}"
                cache.install_finder()
                module = cache.load_module(name, source)
                spec = _Spec(module.kernel, dev, source)
                self.specs[key] = spec
            self.source = spec.source
            return spec

    def __call__(self, args, axes, n, types):
        cuda = _cuda()
        spec = self.spec(types, axes)
        dev = spec.dev
        arrays = [a for a in args if isinstance(a, np.ndarray) or is_device_array(a)]
        on_device = bool(arrays) and all(is_device_array(a) for a in arrays)
        dargs = []
        for a in args:
            if isinstance(a, np.ndarray):
                a = cuda.to_device(np.ascontiguousarray(a))
            dargs.append(a)
        summed = self.reduce == "sum"
        bufs = []
        for _, param, dtype, _ndim in dev.buffers:
            shape = tuple(args[param].shape[1:] if axes[param] is not None else args[param].shape)
            if summed:
                bufs.append(cuda.to_device(np.zeros(shape, dtype=dtype)))
            else:
                bufs.append(cuda.device_array((n,) + shape, dtype=dtype))
        scal = [cuda.to_device(np.zeros(1, dtype=d)) if summed else cuda.device_array(n, dtype=d)
                for d in dev.scalar_dtypes]
        err = cuda.to_device(np.zeros(1, dtype=np.int32))
        blocks = (n + self.tpb - 1) // self.tpb
        spec.kernel[blocks, self.tpb](n, *dargs, *bufs, *scal, err)
        if err.copy_to_host()[0]:
            raise SrcgradError(f"a loop in {self.transform.fn_name} saved more than tape_size="
                               f"{self.tape_size} values on a per-thread tape: pass a larger "
                               "tape_size to vmap", self.transform.func_ir.loc, construct="tape")
        outs = []
        for kind, k in dev.leaves:
            arr = bufs[k] if kind == "buffer" else scal[k]
            if summed:
                host = arr.copy_to_host()
                outs.append(host[0].item() if kind == "scalar" else host)
            else:
                outs.append(arr if on_device else arr.copy_to_host())
        return _rebuild(dev.structure, outs)


def _rebuild(structure, leaves):
    if isinstance(structure, tuple):
        return tuple(_rebuild(s, leaves) for s in structure)
    return leaves[structure]


def kernel_module(dev, axes, reduce, tpb: int, kind: str, fn_name: str) -> str:
    """The module text: helpers, the device function and the kernel around it."""
    nargs = len(axes)
    params = [f"a{k}" for k in range(nargs)]
    bufs = [f"b{k}" for k in range(len(dev.buffers))]
    scal = [f"s{k}" for k in range(len(dev.scalar_dtypes))]
    summed = reduce == "sum"
    example = [p if ax is None else f"{p}[i]" for p, ax in zip(params, axes)]
    lines = [
        f"# srcgrad {__version__}: CUDA kernel for vmap of {kind}({fn_name}), in_axes {axes}, "
        f"reduce={reduce!r}; generated.",
        "import math",
        "",
        "import numpy as np",
        "from numba import cuda",
        "",
        "_dev = cuda.jit(device=True)",
        "",
        dev.source,
        "",
        "",
        "@cuda.jit",
        f"def kernel(n, {', '.join(params + bufs + scal + ['err'])}):",
        "    i = cuda.grid(1)",
    ]
    call_bufs = bufs if summed else [f"r{b}" for b in bufs]
    call = f"{dev.name}({', '.join(example + call_bufs + ['err'])})"
    if not summed:
        lines.append("    if i < n:")
        for b, (_, _, _, ndim) in zip(bufs, dev.buffers):
            lines.append(f"        r{b} = {b}[i]")
            lines += zero_loops(f"r{b}", ndim, "        ")
        lines.append(f"        r = {call}")
        for k, s in enumerate(scal):
            lines.append(f"        {s}[i] = r[{k}]")
        return "\n".join(lines) + "\n"
    lines.append("    tid = cuda.threadIdx.x")
    for k, dtype in enumerate(dev.scalar_dtypes):
        lines.append(f"    sh{k} = cuda.shared.array({tpb}, np.{dtype})")
        lines.append(f"    v{k} = np.{dtype}(0)")
    lines.append("    if i < n:")
    lines.append(f"        r = {call}")
    for k in range(len(scal)):
        lines.append(f"        v{k} = r[{k}]")
    if scal:
        lines.append("    # tree reduction of the block's values in shared memory, one atomic per block")
        for k in range(len(scal)):
            lines.append(f"    sh{k}[tid] = v{k}")
        lines += ["    cuda.syncthreads()", f"    step = {tpb // 2}", "    while step > 0:",
                  "        if tid < step:"]
        for k in range(len(scal)):
            lines.append(f"            sh{k}[tid] += sh{k}[tid + step]")
        lines += ["        cuda.syncthreads()", "        step //= 2", "    if tid == 0:"]
        for k, s in enumerate(scal):
            lines.append(f"        cuda.atomic.add({s}, 0, sh{k}[0])")
    return "\n".join(lines) + "\n"
