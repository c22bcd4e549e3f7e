"""The CUDA target of ``vmap``: one GPU thread per example (imported only when asked for).

For each argument signature the pipeline builds the example's generated function (forward and
adjoint) once; `kernelgen` prints it as a ``cuda.jit(device=True)`` function, and
`cuda_kernels` generates the kernels around it into a real module in the srcgrad cache.  This
module picks a kernel and its launch for each call:

- per-example mode, 1-D gradients: ``kernel_rows`` (tiles of examples; gradients computed in
  shared memory and written out a tile of rows at a time, coalesced), when they fit in shared
  memory; otherwise ``kernel``: thread ``i`` zeroes its own rows of the gradient outputs, calls
  the device function on row ``i`` of the mapped arguments and the shared arguments, and writes
  its scalar results to ``out[i]``.  Every write is disjoint.
- summed mode (``reduce="sum"``): ``kernel_private`` (a grid of one full wave strides over tiles
  of examples; each thread adds its examples' gradients into its own column of an accumulator in
  shared memory; each block reduces the columns and adds each element into the summed output
  with one ``cuda.atomic.add``), when the accumulators fit (the block shrinks to 32 threads if it
  must); otherwise ``kernel``: one thread per example, array gradients added straight into the
  summed output with ``cuda.atomic.add`` from the adjoint, scalar results reduced per block.
- the tiled kernels also copy the tile's rows of the mapped arguments into shared memory
  (``staged``), coalesced, when there is room at 64 threads per block or more.

Needs an NVIDIA GPU with numba's CUDA support (the ``[cuda]`` extra: numba-cuda), or the
simulator: ``NUMBA_ENABLE_CUDASIM=1`` set before numba is imported.
"""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np

from .. import __version__, cache
from ..errors import SrcgradError, UnsupportedError
from ..vmap import is_device_array
from .cuda_kernels import kernel_module
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


SHARED_PER_BLOCK = 48 * 1024  # dynamic + static shared memory a block gets without opting in
MIN_PRIVATE_THREADS = 32  # the private form shrinks the block to no fewer threads than this
STAGE_ROWS = True  # the tiled kernels copy the examples' rows into shared memory when they fit
TILED_ROWS = True  # per-example mode with 1-D gradients: kernel_rows (coalesced output rows)


class _Spec:
    def __init__(self, kernel, dev, source, private=None, dev_private=None):
        self.kernel = kernel  # per-example, or summed with global atomics
        self.dev = dev
        self.source = source
        self.private = private  # summed: the shared-memory accumulator kernel (or None)
        self.dev_private = dev_private
        self.rows = None  # per-example: the tiled kernel for 1-D gradients (or None)
        self.staged = []  # mapped arguments whose rows the tiled kernels stage in shared memory
        self.grids: dict = {}  # (kernel, threads, shared bytes) -> blocks of one full wave
        self.outputs: dict = {}  # summed: (flat, shapes) -> (buffers, scalars) on the device


def _device_limits(cuda) -> tuple:
    """(multiprocessors, max threads per multiprocessor, shared memory per multiprocessor)."""
    if simulator_enabled():
        return 1, 64, 64 * 1024  # two blocks at most of 32 threads: tiny simulated grids
    d = cuda.get_current_device()
    return (int(d.MULTIPROCESSOR_COUNT), int(getattr(d, "MAX_THREADS_PER_MULTI_PROCESSOR", 2048)),
            int(getattr(d, "MAX_SHARED_MEMORY_PER_MULTIPROCESSOR", 228 * 1024)))


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
        self.last_launch = None  # (kernel name, blocks, threads, dynamic shared bytes): for tests
        self._err = None  # (context, device flag), reused between calls
        self._call_lock = threading.Lock()
        self._limits = None

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
                summed = self.reduce == "sum"
                dev = generate_device(built.generated, summed, self.tape_size)
                private, staged = None, []
                one_dtype = len({d for _, _, d, _ in dev.buffers}) <= 1
                rows = not summed and one_dtype and bool(dev.buffers) and \
                    all(nd == 1 for _, _, _, nd in dev.buffers)
                if summed and one_dtype:
                    try:
                        private = generate_device(built.generated, True, self.tape_size,
                                                  accumulate="private", name=f"{dev.name}_private")
                    except UnsupportedError:  # (a partial index of a gradient): global atomics
                        private = None
                if private is not None or rows:
                    acc = dev.buffers[0][2] if dev.buffers else "float64"
                    staged = [k for k, (ty, ax) in enumerate(zip(types, axes))
                              if ax is not None and getattr(ty, "ndim", 0) == 1 and ty.dtype == acc]
                source = kernel_module(dev, axes, self.reduce, self.tpb, t.kind, t.fn_name, private,
                                       staged, rows)
                digest = cache.key(__version__, cache.package_hash(), t.key, key, self.reduce, self.tpb,
                                   self.tape_size)
                name = f"{cache.PREFIX}cuda_{digest}"
                cache.install_finder()
                module = cache.load_module(name, source)
                spec = _Spec(module.kernel, dev, source, getattr(module, "kernel_private", None), private)
                spec.rows = getattr(module, "kernel_rows", None)
                spec.staged = staged
                self.specs[key] = spec
            self.source = spec.source
            return spec

    def _err_flag(self, cuda):
        ctx = None if simulator_enabled() else cuda.current_context()
        if self._err is None or self._err[0] is not ctx:
            self._err = (ctx, cuda.to_device(np.zeros(1, dtype=np.int32)))
        return self._err[1]

    def _tiled_launch(self, cuda, spec, kernel, sizes, rows, n, column_pad: int):
        """(blocks, threads, dynamic shared bytes, stage) for a tiled kernel, or None (no room:
        the one-thread-per-example kernel).  ``sizes``: the accumulator elements per thread;
        ``rows``: the row lengths of the staged arguments; ``column_pad``: extra accumulator rows
        (kernel_rows strides its columns by nt + 1)."""
        if kernel is None:
            return None
        item = np.dtype(spec.dev.buffers[0][2]).itemsize if spec.dev.buffers else 8
        static = self.tpb * sum(np.dtype(d).itemsize for d in spec.dev.scalar_dtypes) \
            if kernel is spec.private else 0
        room = SHARED_PER_BLOCK - static
        acc, staged = sum(sizes), sum(r | 1 for r in rows)  # odd row strides: no bank conflicts
        fits = [(stage, nt, ((nt + column_pad) * acc + nt * staged * stage) * item)
                for stage in ([1] if rows else []) + [0]
                for nt in [self.tpb >> k for k in range(11)]
                if nt >= min(MIN_PRIVATE_THREADS, self.tpb) and
                ((nt + column_pad) * acc + nt * staged * stage) * item <= room]
        if not fits:
            return None
        stage, nt, shared = fits[0]  # staging first, then the largest block
        if stage and nt < min(self.tpb, 64):  # one warp per block: slower than not staging
            stage, nt, shared = next(f for f in fits if not f[0])  # (H100, summed, d = 64)
        blocks = self._full_wave(cuda, spec, kernel, nt, shared, static)
        return min((n + nt - 1) // nt, blocks), nt, shared, stage

    def _full_wave(self, cuda, spec, kernel, nt, shared, static):
        """Blocks that fit on the device at once (a grid-stride kernel needs no more; a partial
        second wave would leave most multiprocessors idle at the end)."""
        key = (kernel is spec.private, nt, shared, len(getattr(kernel, "overloads", ())))
        blocks = spec.grids.get(key)
        if blocks is None:
            if self._limits is None:
                self._limits = _device_limits(cuda)
            sms, threads_per_sm, shared_per_sm = self._limits
            try:  # the occupancy calculator, once the kernel is compiled for these arguments
                blocks = min(k.max_cooperative_grid_blocks(nt, shared) for k in kernel.overloads.values())
            except Exception:  # noqa: BLE001 (not compiled yet, or the simulator)
                blocks = 0
            if blocks <= 0:  # before: assume 64 registers per thread
                per_sm = min(threads_per_sm // nt, 65536 // (64 * nt),
                             shared_per_sm // (shared + static + 1024), 32)
                blocks = sms * max(1, per_sm)
            spec.grids[key] = blocks
        return blocks

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
        shapes = [tuple(args[param].shape[1:] if axes[param] is not None else args[param].shape)
                  for _, param, _, _ in dev.buffers]
        with self._call_lock:  # the error flag and the summed outputs are reused between calls
            err = self._err_flag(cuda)
            rows = [int(args[k].shape[1]) for k in spec.staged] if STAGE_ROWS else []
            sizes = [int(np.prod(s)) for s in shapes]
            private = tiled = None
            if summed:
                private = self._tiled_launch(cuda, spec, spec.private, sizes, rows, n, 0)
                dev = spec.dev_private if private is not None else dev
                bufs, scal = self._summed_outputs(cuda, spec, dev, shapes, private is not None)
            else:
                if TILED_ROWS:
                    tiled = self._tiled_launch(cuda, spec, spec.rows, sizes, rows, n, 1)
                bufs = [cuda.device_array((n,) + s, dtype=d) for s, (_, _, d, _) in zip(shapes, dev.buffers)]
                scal = [cuda.device_array(n, dtype=d) for d in dev.scalar_dtypes]
            if private is not None or tiled is not None:
                kernel, name = (spec.private, "kernel_private") if summed else (spec.rows, "kernel_rows")
                blocks, nt, shared, stage = private or tiled
                self.last_launch = (name, blocks, nt, shared, stage)
                kernel[blocks, nt, 0, shared](n, *dargs, *bufs, *scal, err, stage)
            else:
                blocks = (n + self.tpb - 1) // self.tpb
                self.last_launch = ("kernel", blocks, self.tpb, 0)
                spec.kernel[blocks, self.tpb](n, *dargs, *bufs, *scal, err)
            if dev.may_fail and err.copy_to_host()[0]:  # no tape, no flag: the call stays asynchronous
                err.copy_to_device(np.zeros(1, dtype=np.int32))
                raise SrcgradError(f"a loop in {self.transform.fn_name} saved more than tape_size="
                                   f"{self.tape_size} values on a per-thread tape: pass a larger "
                                   "tape_size to vmap", self.transform.func_ir.loc, construct="tape")
            outs = []
            for kind, k in dev.leaves:
                arr = bufs[k] if kind == "buffer" else scal[k]
                if summed:
                    host = arr.copy_to_host()
                    outs.append(host[0].item() if kind == "scalar" else host.reshape(shapes[k]))
                else:
                    outs.append(arr if on_device else arr.copy_to_host())
        return _rebuild(dev.structure, outs)

    def _summed_outputs(self, cuda, spec, dev, shapes, flat: bool):
        """The summed outputs, allocated once per (spec, shapes) and zeroed for every call (the
        call copies them to the host before it returns).  ``cuda.to_device(np.zeros(...))`` took
        173 us per array on an H100 with numba-cuda 0.30 (a memset takes a few)."""
        key = (flat, tuple(shapes), id(self._err[0]))  # and the context they live in
        outs = spec.outputs.get(key)
        if outs is None:
            bufs = [cuda.device_array(int(np.prod(s)) if flat else s, dtype=d)
                    for s, (_, _, d, _) in zip(shapes, dev.buffers)]
            outs = spec.outputs[key] = (bufs, [cuda.device_array(1, dtype=d) for d in dev.scalar_dtypes])
        for arr in outs[0] + outs[1]:
            _zero(arr)
        return outs


def _zero(arr):
    global _MEMSET
    if _MEMSET is None:
        try:
            from numba.cuda.cudadrv.driver import device_memset
        except ImportError:
            device_memset = False
        _MEMSET = False if simulator_enabled() else device_memset
    if _MEMSET and arr.size:
        try:
            return _MEMSET(arr, 0, arr.size * arr.dtype.itemsize)
        except Exception:  # noqa: BLE001 (a driver API that moved: copy zeros instead)
            _MEMSET = False
    arr.copy_to_device(np.zeros(arr.shape, dtype=arr.dtype))


_MEMSET = None


def _rebuild(structure, leaves):
    if isinstance(structure, tuple):
        return tuple(_rebuild(s, leaves) for s in structure)
    return leaves[structure]
