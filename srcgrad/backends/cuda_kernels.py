"""The text of the CUDA kernel modules (see `srcgrad.backends.cuda` for how they are launched).

- ``kernel``: one thread per example; per-example mode writes row ``i`` of the outputs, summed
  mode reduces scalar results per block and adds array gradients with global atomics.
- ``kernel_private`` (summed): a grid-stride loop over tiles of ``nt`` examples; every thread
  accumulates its examples' gradients in its own column of dynamic shared memory (element-major:
  ``acc[e * nt + tid]``), and the block reduces the columns and adds them with one atomic per
  element.
- ``kernel_rows`` (per-example, 1-D gradients): the same tiles; every thread computes its
  example's gradient in its own zeroed column of shared memory, then the block writes the tile's
  output rows out together, coalesced (a thread writing its own row would touch one cache line
  per element and thread).

Both tiled kernels can first copy the tile's rows of the mapped arguments (``staged``) into shared
memory, coalesced, with odd row strides (no bank conflicts); ``stage`` (a kernel argument) says
whether the launch had room for them.
"""

from __future__ import annotations

from .. import __version__
from .cpu_batch import zero_loops


def _header(dev, axes, reduce, kind, fn_name) -> list:
    return [
        f"# srcgrad {__version__}: CUDA kernel for vmap of {kind}({fn_name}), in_axes {axes}, "
        f"reduce={reduce!r}; generated.",
        "import math",
        "",
        "import numba",
        "import numpy as np",
        "from numba import cuda",
        "",
        "_dev = cuda.jit(device=True)",
        "",
        dev.source,
        "",
    ]


def _tree(scal, pad, first, extra=()) -> list:
    """A tree reduction over the block's threads of the shared arrays ``sh{k}``."""
    lines = [f"{pad}step = {first}", f"{pad}while step > 0:", *extra]
    if scal:
        lines.append(f"{pad}    if tid < step:")
    for k in range(len(scal)):
        lines.append(f"{pad}        sh{k}[tid] += sh{k}[tid + step]")
    return lines + [f"{pad}    cuda.syncthreads()", f"{pad}    step //= 2"]


def kernel_module(dev, axes, reduce, tpb: int, kind: str, fn_name: str, private=None, staged=(),
                  rows: bool = False) -> str:
    """The module text: helpers, the device function(s) and the kernel(s) around them."""
    nargs = len(axes)
    params = [f"a{k}" for k in range(nargs)]
    bufs = [f"b{k}" for k in range(len(dev.buffers))]
    scal = [f"s{k}" for k in range(len(dev.scalar_dtypes))]
    summed = reduce == "sum"
    example = [p if ax is None else f"{p}[i]" for p, ax in zip(params, axes)]
    lines = _header(dev, axes, reduce, kind, fn_name)
    signature = f"(n, {', '.join(params + bufs + scal + ['err'])}):"
    lines += ["", "@cuda.jit", "def kernel" + signature, "    i = cuda.grid(1)"]
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
        if rows:
            lines += ["", ""] + _rows_kernel(dev, params, bufs, scal, example, signature, staged)
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
        lines.append("    cuda.syncthreads()")
        lines += _tree(scal, "    ", tpb // 2)
        lines.append("    if tid == 0:")
        for k, s in enumerate(scal):
            lines.append(f"        cuda.atomic.add({s}, 0, sh{k}[0])")
    if private is not None:
        lines += ["", ""] + _private_kernel(private, params, bufs, scal, example, tpb, signature, staged)
    return "\n".join(lines) + "\n"


def _tile_steps(name: str, width: str, pad: str) -> list:
    """Setup for copying a tile of rows of length ``width`` between global and shared memory:
    thread ``tid`` handles the flat elements tid, tid + nt, ...; their (row, column) advance by
    (d, e) with one carry, so the loop needs no integer division."""
    return [f"{pad}d{name} = nt // {width} if {width} > 0 else 0",
            f"{pad}e{name} = nt - d{name} * {width}",
            f"{pad}y{name} = tid // {width} if {width} > 0 else nt",
            f"{pad}x{name} = tid - y{name} * {width} if {width} > 0 else 0"]


def _tile_loop(name: str, width: str, body: str, pad: str) -> list:
    """The loop over this thread's (rr, c) of a tile of ``m`` rows; ``body`` uses rr and c."""
    return [f"{pad}rr = y{name}", f"{pad}c = x{name}", f"{pad}while rr < m:", f"{pad}    {body}",
            f"{pad}    rr += d{name}", f"{pad}    c += e{name}", f"{pad}    if c >= {width}:",
            f"{pad}        c -= {width}", f"{pad}        rr += 1"]


def _stage_setup(staged, params) -> list:
    lines = []
    for k in staged:
        a = params[k]
        lines += [f"    w{a} = {a}.shape[1]", f"    r{a} = w{a} | 1  # an odd row stride: no bank conflicts",
                  f"    o{a} = o", f"    o += r{a} * nt"]
        lines += _tile_steps(a, f"w{a}", "    ")
    return lines


def _stage_copy(staged, params, pad) -> list:
    lines = []
    for k in staged:
        a = params[k]
        lines += _tile_loop(a, f"w{a}", f"acc[o{a} + rr * r{a} + c] = {a}[base + rr, c]", pad)
    return lines


def _calls(dev, params, example, bufs, staged) -> tuple:
    """The device function's call on the example's rows in global memory, and on the staged ones."""
    tail = [f"p{b}" for b in bufs] + ["err"]
    staged_example = [f"acc[o{p} + tid * r{p}:o{p} + tid * r{p} + w{p}]" if k in staged else e
                      for k, (p, e) in enumerate(zip(params, example))]
    return f"{dev.name}({', '.join(example + tail)})", f"{dev.name}({', '.join(staged_example + tail)})"


def _private_kernel(dev, params, bufs, scal, example, tpb: int, signature: str, staged=()) -> list:
    """The summed kernel with per-thread accumulators in dynamic shared memory (see the module
    docstring).  The launch gives the block size (a power of two <= tpb), the shared bytes and
    ``stage``."""
    dtype = dev.buffers[0][2] if dev.buffers else "float64"
    lines = [dev.source, "", "",
             "@cuda.jit", "def kernel_private" + signature[:-2] + ", stage):",
             "    tid = cuda.threadIdx.x",
             "    nt = cuda.blockDim.x",
             f"    acc = cuda.shared.array(0, numba.{dtype})  # element-major: acc[e * nt + tid]",
             "    zt = 0"]
    for b in bufs:
        lines += [f"    z{b} = {b}.size",
                  f"    p{b} = acc[zt * nt + tid:(zt + z{b}) * nt:nt]  # this thread's column",
                  f"    for e in range(z{b}):",
                  f"        p{b}[e] = 0",
                  f"    zt += z{b}"]
    lines.append("    o = zt * nt  # the staged rows follow the accumulators")
    lines += _stage_setup(staged, params)
    for k, dt in enumerate(dev.scalar_dtypes):
        lines += [f"    sh{k} = cuda.shared.array({tpb}, np.{dt})", f"    v{k} = np.{dt}(0)"]
    call, staged_call = _calls(dev, params, example, bufs, staged)
    lines += ["    base = cuda.blockIdx.x * nt",
              "    while base < n:  # block-uniform: every thread reaches every barrier",
              "        i = base + tid"]
    if staged:
        lines += ["        if stage:",
                  "            m = n - base if n - base < nt else nt  # (min() is no device builtin here)"]
        lines += _stage_copy(staged, params, "            ")
        lines += ["            cuda.syncthreads()",
                  "            if i < n:",
                  f"                r = {staged_call}"]
        lines += [f"                v{k} += r[{k}]" for k in range(len(scal))]
        lines += ["            cuda.syncthreads()  # before the next tile overwrites the rows",
                  "        elif i < n:"]
    else:
        lines.append("        if i < n:")
    lines.append(f"            r = {call}")
    lines += [f"            v{k} += r[{k}]" for k in range(len(scal))]
    lines += ["        base += cuda.gridDim.x * nt"]
    lines += [f"    sh{k}[tid] = v{k}" for k in range(len(scal))]
    lines += ["    cuda.syncthreads()",
              "    # tree reduction over the threads of every accumulator element (and scalar)"]
    sweep = ["        q = tid",
             "        while q < zt * step:",
             "            e = q // step",
             "            t = q - e * step",
             "            acc[e * nt + t] += acc[e * nt + t + step]",
             "            q += nt"] if bufs else []
    lines += _tree(scal, "    ", "nt // 2", sweep)
    lines.append("    # one atomic per block and element")
    lines.append("    zt = 0")
    for b in bufs:
        lines += ["    e = tid", f"    while e < z{b}:",
                  f"        cuda.atomic.add({b}, e, acc[(zt + e) * nt])",
                  "        e += nt", f"    zt += z{b}"]
    if scal:
        lines.append("    if tid == 0:")
        lines += [f"        cuda.atomic.add({s}, 0, sh{k}[0])" for k, s in enumerate(scal)]
    return lines


def _rows_kernel(dev, params, bufs, scal, example, signature: str, staged=()) -> list:
    """Per-example mode with 1-D gradients: each thread's gradient in its own zeroed column of
    shared memory (column stride nt + 1, odd, so the copy-out reads no bank twice), then the
    tile's output rows written out together, coalesced."""
    dtype = dev.buffers[0][2]
    lines = ["@cuda.jit", "def kernel_rows" + signature[:-2] + ", stage):",
             "    tid = cuda.threadIdx.x",
             "    nt = cuda.blockDim.x",
             "    cs = nt + 1",
             f"    acc = cuda.shared.array(0, numba.{dtype})  # element-major: acc[o + e * cs + tid]",
             "    o = 0"]
    for b in bufs:
        lines += [f"    z{b} = {b}.shape[1]", f"    o{b} = o", f"    p{b} = acc[o + tid:o + z{b} * cs:cs]",
                  f"    o += z{b} * cs"]
        lines += _tile_steps(b, f"z{b}", "    ")
    lines += _stage_setup(staged, params)
    call, staged_call = _calls(dev, params, example, bufs, staged)
    lines += ["    base = cuda.blockIdx.x * nt",
              "    while base < n:  # block-uniform: every thread reaches every barrier",
              "        i = base + tid",
              "        m = n - base if n - base < nt else nt  # (min() is no device builtin here)"]
    if staged:
        lines.append("        if stage:")
        lines += _stage_copy(staged, params, "            ")
        lines.append("            cuda.syncthreads()")
    lines.append("        if i < n:")
    for b in bufs:
        lines += [f"            for e in range(z{b}):", f"                p{b}[e] = 0"]
    if staged:
        lines += ["            if stage:", f"                r = {staged_call}", "            else:",
                  f"                r = {call}"]
    else:
        lines.append(f"            r = {call}")
    lines += [f"            {s}[i] = r[{k}]" for k, s in enumerate(scal)]
    lines.append("        cuda.syncthreads()")
    lines.append("        # the tile's output rows, written out together (coalesced)")
    for b in bufs:
        lines += _tile_loop(b, f"z{b}", f"{b}[base + rr, c] = acc[o{b} + c * cs + rr]", "        ")
    lines += ["        cuda.syncthreads()  # before the next tile overwrites columns and rows",
              "        base += cuda.gridDim.x * nt"]
    return lines
