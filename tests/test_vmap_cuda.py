"""vmap(target="cuda"), every result compared with the CPU target.

With a GPU, or with NUMBA_ENABLE_CUDASIM=1 exported before pytest starts (CI), the tests run in
this process.  Otherwise numba has already been imported without the simulator, so
`test_cuda_suite_under_simulator` runs this file again in a subprocess with the simulator on.
Grids stay at 64 threads or fewer: the simulator costs about a millisecond per thread.
"""

import math
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

import srcgrad as sg

SIM = bool(numba.config.ENABLE_CUDASIM)


def _gpu() -> bool:
    if SIM:
        return False
    try:
        from srcgrad.backends.cuda import _cuda

        return bool(_cuda().is_available())
    except Exception:  # noqa: BLE001
        return False


GPU = _gpu()
IN_PROCESS = SIM or GPU
needs_cuda = pytest.mark.skipif(
    not IN_PROCESS, reason="numba was imported without NUMBA_ENABLE_CUDASIM=1 and there is no GPU: "
    "these tests run in a subprocess under the simulator (test_cuda_suite_under_simulator)")
TPB = 32


def f(x, y):
    return math.sin(x) * y + x * x * math.exp(-y)


def logistic(w, x, y):
    z = 0.0
    for j in range(x.shape[0]):
        z += w[j] * x[j]
    return math.log(1.0 + math.exp(-y * z))


def rnn(w, x, y):  # the adjoint needs a tape: a per-thread local array on the device
    z = 0.0
    for j in range(x.shape[0]):
        z = math.tanh(z + w[j] * x[j])
    return (z - y) ** 2


def mat_loss(W, x, y):  # a 2-D shared gradient, and a negative index
    z = 0.0
    for a in range(W.shape[0]):
        t = 0.0
        for j in range(x.shape[0]):
            t += W[a, j] * x[j]
        z += math.tanh(t)
    return (z - y) ** 2 + 0.5 * W[-1, -1] * x[0]


def dotted(w, x, y):
    return np.log1p(np.exp(-y * np.dot(w, x)))


def scaled(w, x, y):
    v = w * x
    return v[0] * y


def writes_input(w, x, y):
    x[0] = y
    return w[0] * x[0]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    Y = np.where(rng.random(40) < 0.5, -1.0, 1.0)
    w = rng.normal(size=4)
    return w, X, Y


def _sum(tree):
    if isinstance(tree, tuple):
        return tuple(_sum(t) for t in tree)
    return tree.sum(axis=0)


def both(fn, in_axes, args, reduce=None, **kw):
    """The CUDA result and the CPU target's (for reduce="sum": the sum of the CPU target's
    per-example results, which test_vmap.py checks against the CPU target's own sum)."""
    gpu = sg.vmap(fn, in_axes, target="cuda", reduce=reduce, threads_per_block=TPB, **kw)(*args)
    cpu = sg.vmap(fn, in_axes, target="cpu")(*args)
    return gpu, (_sum(cpu) if reduce == "sum" else cpu)


def assert_same(a, b, rtol=1e-13):
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y, rtol)
        return
    assert np.shape(a) == np.shape(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-14)


@needs_cuda
def test_elementwise_gradient():
    x = np.linspace(-2.0, 2.0, 50)
    y = np.linspace(0.5, 1.5, 50)
    gpu, cpu = both(sg.grad(f, argnums=(0, 1)), 0, (x, y))
    assert_same(gpu, cpu)
    gpu, cpu = both(sg.grad(f, argnums=(0, 1)), 0, (x, y), reduce="sum")
    assert isinstance(gpu[0], float)
    assert_same(gpu, cpu, rtol=1e-12)


@needs_cuda
def test_in_axes_none_and_primal():
    x = np.linspace(-1.0, 1.0, 20)
    assert_same(*both(sg.grad(f), (0, None), (x, 0.75)))
    assert_same(*both(f, (None, 0), (0.3, x)))  # plain function: the primal, compiled with sg.jit


@needs_cuda
def test_per_example_logistic_with_loop(data):
    w, X, Y = data
    v = sg.vmap(sg.grad(logistic), (None, 0, 0), target="cuda", threads_per_block=TPB)
    gpu, cpu = v(w, X, Y), sg.vmap(sg.grad(logistic), (None, 0, 0))(w, X, Y)
    assert gpu.shape == (40, 4) and v._cuda.last_launch[0] == "kernel_rows"
    assert_same(gpu, cpu)
    gpu, cpu = both(sg.grad(logistic, argnums=(0, 1)), (None, 0, 0), (w, X, Y), reduce="sum")
    assert_same(gpu, cpu, rtol=1e-12)


@needs_cuda
def test_tape_loop_value_and_grad(data):
    w, X, Y = data
    vag = sg.value_and_grad(rnn, argnums=(0, 1))
    gpu, cpu = both(vag, (None, 0, 0), (w, X, Y))
    assert_same(gpu, cpu)
    sgpu, scpu = both(vag, (None, 0, 0), (w, X, Y), reduce="sum")
    assert_same(sgpu, scpu, rtol=1e-12)
    np.testing.assert_allclose(sgpu[1][0], gpu[1][0].sum(axis=0), rtol=1e-12)
    small = sg.vmap(vag, (None, 0, 0), target="cuda", threads_per_block=TPB, tape_size=2)
    with pytest.raises(sg.SrcgradError, match="tape_size"):
        small(w, X, Y)
    # the error flag is reset: 2 features fit a tape of 2
    assert_same(small(w[:2], X[:, :2], Y), sg.vmap(vag, (None, 0, 0))(w[:2], X[:, :2], Y))


def _examples(n, d, seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), rng.normal(size=(n, d)), np.where(rng.random(n) < 0.5, -1.0, 1.0)


@needs_cuda
def test_summed_private_accumulators():
    """Summed gradients of shared arguments go through per-thread accumulators in shared memory
    (d = 5 elements, not a multiple of the block) with one atomic per block and element; on the
    simulator's two blocks each thread handles several examples (the grid strides)."""
    n = 100 if SIM else 300_000
    w, X, Y = _examples(n, 5)
    vag = sg.value_and_grad(logistic, argnums=(0, 1))
    v = sg.vmap(vag, (None, 0, 0), target="cuda", reduce="sum", threads_per_block=TPB)
    got = v(w, X, Y)
    kind, blocks, nt, shared, stage = v._cuda.last_launch
    # two 5-element accumulators per thread, and the example's row x staged in shared memory
    assert kind == "kernel_private" and nt == TPB and stage == 1 and shared == (2 * 5 + 5) * TPB * 8
    assert blocks * nt < n  # threads stride over the batch
    assert "cuda.shared.array(0, numba.float64)" in v.source
    assert isinstance(got[0], float) and got[1][0].shape == (5,) and got[1][1].shape == (5,)
    assert_same(got, _sum(sg.vmap(vag, (None, 0, 0))(w, X, Y)), rtol=1e-12)
    got2 = v(w, X, Y)  # the outputs are zeroed again for every call
    assert_same(got2, got, rtol=1e-12)


@needs_cuda
def test_per_example_tiled_rows():
    """Per-example 1-D gradients are computed in shared memory and written out a tile of rows at a
    time (coalesced); the example rows are staged in shared memory; the grid strides."""
    n = 100 if SIM else 300_000
    w, X, Y = _examples(n, 5, seed=5)
    vag = sg.value_and_grad(logistic, argnums=(0, 1))
    v = sg.vmap(vag, (None, 0, 0), target="cuda", threads_per_block=TPB)
    got = v(w, X, Y)
    kind, blocks, nt, shared, stage = v._cuda.last_launch
    assert kind == "kernel_rows" and nt == TPB and stage == 1 and shared == ((TPB + 1) * 10 + TPB * 5) * 8
    assert blocks * nt < n
    assert_same(got, sg.vmap(vag, (None, 0, 0))(w, X, Y))
    # the one-thread-per-example kernel gives the same
    from srcgrad.backends import cuda as cuda_backend

    cuda_backend.TILED_ROWS = False
    try:
        v2 = sg.vmap(vag, (None, 0, 0), target="cuda", threads_per_block=TPB)
        assert_same(v2(w, X, Y), got)
        assert v2._cuda.last_launch[0] == "kernel"
    finally:
        cuda_backend.TILED_ROWS = True


@needs_cuda
def test_summed_two_dimensional_gradient():
    rng = np.random.default_rng(4)
    W = rng.normal(size=(3, 6)) / 3
    _, X, Y = _examples(40, 6)
    gpu, cpu = both(sg.grad(mat_loss, argnums=(0, 1)), (None, 0, 0), (W, X, Y), reduce="sum")
    assert gpu[0].shape == (3, 6) and gpu[1].shape == (6,)
    assert_same(gpu, cpu, rtol=1e-12)
    assert_same(*both(sg.grad(mat_loss), (None, 0, 0), (W, X, Y)))  # per-example, same function


@needs_cuda
def test_summed_large_gradients_shrink_block_then_fall_back():
    # 100 float64 per thread: 128 threads would need 100 KB of shared memory, 32 fit in 48 KB
    # (50 KB with the staged rows: too much)
    w, X, Y = _examples(40, 100)
    v = sg.vmap(sg.grad(logistic), (None, 0, 0), target="cuda", reduce="sum", threads_per_block=128)
    got = v(w, X, Y)
    assert v._cuda.last_launch[0] == "kernel_private" and v._cuda.last_launch[2] == 32
    assert v._cuda.last_launch[4] == 0  # the rows would not fit beside the accumulators: not staged
    assert_same(got, sg.vmap(sg.grad(logistic), (None, 0, 0))(w, X, Y).sum(axis=0), rtol=1e-12)
    # 200 float64 per thread do not fit even 32 threads: global atomics per example
    w, X, Y = _examples(40, 200)
    gpu, cpu = both(sg.grad(logistic), (None, 0, 0), (w, X, Y), reduce="sum")
    assert_same(gpu, cpu, rtol=1e-12)
    v = sg.vmap(sg.grad(logistic), (None, 0, 0), target="cuda", reduce="sum", threads_per_block=TPB)
    v(w, X[:4], Y[:4])
    assert v._cuda.last_launch[0] == "kernel"


@needs_cuda
def test_generated_kernel_source(data):
    w, X, Y = data
    v = sg.vmap(sg.grad(logistic), (None, 0, 0), target="cuda", reduce="sum", threads_per_block=TPB)
    v(w, X[:5], Y[:5])
    assert "cuda.atomic.add(w_bar" in v.source and "cuda.jit(device=True)" in v.source
    v = sg.vmap(sg.value_and_grad(logistic), (None, 0, 0), target="cuda", reduce="sum",
                threads_per_block=TPB)
    v(w, X[:5], Y[:5])
    assert "cuda.syncthreads()" in v.source and "cuda.shared.array(32" in v.source


@needs_cuda
def test_device_arrays_stay_on_device(data):
    from numba import cuda

    w, X, Y = data
    out = sg.vmap(sg.grad(logistic), (None, 0, 0), target="cuda", threads_per_block=TPB)(
        cuda.to_device(w), cuda.to_device(X[:8]), cuda.to_device(Y[:8]))
    assert hasattr(out, "copy_to_host")  # a device array
    np.testing.assert_allclose(out.copy_to_host(), sg.vmap(sg.grad(logistic), (None, 0, 0))(w, X[:8], Y[:8]),
                               rtol=1e-13)


@needs_cuda
def test_outside_kernel_subset_is_rejected(data):
    w, X, Y = data
    with pytest.raises(sg.UnsupportedError, match=r"v = w \* x.*GPU thread cannot allocate") as e:
        sg.vmap(sg.grad(scaled), (None, 0, 0), target="cuda")(w, X, Y)
    assert f"test_vmap_cuda.py:{scaled.__code__.co_firstlineno + 1}" in str(e.value)
    with pytest.raises(sg.UnsupportedError, match=r"np\.dot\(w, x\).*not available inside CUDA kernels"):
        sg.vmap(sg.grad(dotted), (None, 0, 0), target="cuda")(w, X, Y)
    with pytest.raises(sg.UnsupportedError, match="writing into the argument x"):
        sg.vmap(sg.jit(writes_input), (None, 0, 0), target="cuda")(w, X.copy(), Y)


def test_clear_error_without_gpu_or_simulator():
    code = textwrap.dedent("""
        import numpy as np, srcgrad as sg
        from srcgrad.backends import cuda as c
        try:
            avail = c._cuda().is_available()
        except Exception:
            avail = False
        if avail:
            print("GPU")
        else:
            try:
                sg.vmap(lambda x: x * x, target="cuda")
            except sg.SrcgradError as e:
                print("ERR", type(e).__name__, e)
    """)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    if out.stdout.startswith("GPU"):
        pytest.skip("a GPU is present: the error path cannot be exercised")
    assert "ERR CudaUnavailableError" in out.stdout
    assert "NUMBA_ENABLE_CUDASIM=1" in out.stdout and "target='cpu'" in out.stdout


PTX_CHECK = """
import sys
import numpy as np
from numba import types as nt
import srcgrad as sg
from srcgrad.backends import cuda as cb
from srcgrad.types import ArrayType
import test_vmap_cuda as t

cuda = cb._cuda()
if not cuda.is_available():  # no GPU: tell the compiler it targets compute capability 9.0
    import numba.cuda.dispatcher as dispatcher

    class _Device:
        compute_capability = (9, 0)

    dispatcher.get_current_device = lambda: _Device()
F, A = ArrayType("float64"), ArrayType("float64", 1)
M = ArrayType("float64", 2)
cases = [(sg.grad(t.f, argnums=(0, 1)), [F, F], (0, 0)), (sg.grad(t.f), [F, F], (0, None)),
         (sg.grad(t.logistic), [A, A, F], (None, 0, 0)),
         (sg.value_and_grad(t.rnn, argnums=(0, 1)), [A, A, F], (None, 0, 0)),
         (sg.grad(t.mat_loss, argnums=(0, 1)), [M, A, F], (None, 0, 0))]


def signature(types, axes, dev, buffer_ndim):
    sig = [nt.int64] + [nt.float64 if ty.ndim + (ax is not None) == 0 else
                        nt.Array(nt.float64, ty.ndim + (ax is not None), "C") for ty, ax in zip(types, axes)]
    sig += [nt.Array(nt.float64, buffer_ndim(nd), "C") for _, _, _, nd in dev.buffers]
    sig += [nt.Array(nt.float64, 1, "C") for _ in dev.scalar_dtypes]
    sig.append(nt.Array(nt.int32, 1, "C"))
    return tuple(sig)


for fn, types, axes in cases:
    for reduce in (None, "sum"):
        spec = cb.BatchCuda(fn.transform, reduce, 128, 16).spec(types, axes)
        sig = signature(types, axes, spec.dev, lambda nd: nd + (reduce is None))
        ptx, _ = cuda.compile_ptx(spec.kernel.py_func, sig, cc=(9, 0))
        assert (reduce == "sum") == ("atom.global.add.f64" in ptx), (fn, reduce)
        assert (reduce == "sum") == (spec.private is not None), (fn, reduce)
        print("ok", fn.transform.fn_name, reduce)
        if spec.rows is not None:  # per-example, 1-D gradients: the tiled kernel
            ptx, _ = cuda.compile_ptx(spec.rows.py_func, sig + (nt.int64,), cc=(9, 0))
            assert ".extern .shared" in ptx and "bar.sync" in ptx and "atom.global" not in ptx, fn
            print("ok rows", fn.transform.fn_name)
        if spec.private is not None:  # summed gradients arrive flat
            sig = signature(types, axes, spec.dev_private, lambda nd: 1) + (nt.int64,)  # + stage
            ptx, _ = cuda.compile_ptx(spec.private.py_func, sig, cc=(9, 0))
            assert bool(spec.dev.buffers) == (".extern .shared" in ptx) and "bar.sync" in ptx, fn
            assert "atom.global.add.f64" in ptx and "atom.global.add.f64" not in ptx.split(".entry")[0], fn
            print("ok private", fn.transform.fn_name)
"""


def test_kernels_compile_to_ptx(tmp_path):
    """The simulator runs kernels as Python; this compiles the generated kernels (device
    functions, atomics, shared memory, local tapes) for a real GPU (sm_90) with numba's CUDA
    compiler, which needs no GPU."""
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0", SRCGRAD_CACHE_DIR=str(tmp_path),
               PYTHONPATH=os.path.dirname(__file__) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", PTX_CHECK], env=env, capture_output=True, text=True,
                         timeout=300)
    if out.returncode != 0 and "libnvvm" in (out.stderr + out.stdout).lower():
        pytest.skip("numba's CUDA compiler (NVVM) is not installed")
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.count("ok ") == 17


@pytest.mark.skipif(IN_PROCESS, reason="the CUDA tests already run in this process")
def test_cuda_suite_under_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
           "-k", "not clear_error and not suite and not ptx"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "skipped" not in out.stdout.splitlines()[-1]
