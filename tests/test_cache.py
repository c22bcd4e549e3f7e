"""The on-disk cache: a second process compiles nothing and reaches its first gradient fast;
generated files are written atomically (concurrent cold processes both succeed); the cache key
follows the function's source, the global constants it reads and its helpers' sources."""

import ast
import json
import os
import statistics
import subprocess
import sys
import textwrap

import pytest

from srcgrad import cache
from srcgrad.api import Transform

# A child process: time from `import srcgrad` to the first gradient, and proof of what it
# compiled: srcgrad's pipeline is wrapped with a counter, numba's dispatcher reports cache
# hits/misses for the gradient's entry point, and the transform's specialisations.
CHILD = textwrap.dedent("""
    import json, sys, time
    t0, c0 = time.perf_counter(), time.process_time()
    import srcgrad as sg
    import srcgrad.pipeline as pipeline
    builds = []
    _build = pipeline.build
    def counting_build(*args, **kwargs):
        builds.append(1)
        return _build(*args, **kwargs)
    pipeline.build = counting_build
    sys.path.insert(0, sys.argv[1])
    import {module} as mod
    g = sg.grad(mod.f, argnums=(0, 1))
    value = g(1.5, -0.5)
    t1, c1 = time.perf_counter(), time.process_time()
    stats = g.stats
    from srcgrad import cache
    print(json.dumps({{"value": list(value), "seconds": t1 - t0, "cpu": c1 - c0,
                      "package": cache.package_hash(), "builds": len(builds),
                      "specs": len(g.transform.specs),
                      "hits": sum(stats.cache_hits.values()),
                      "misses": sum(stats.cache_misses.values())}}))
""")

MODULE = textwrap.dedent("""
    import math

    K = {k}


    def helper(u):
        return {helper}


    def f(x, y):
        s = helper(x) * y + K * x
        if s > 0.0:
            s = s + math.exp(y)
        return s
""")


def _write_module(directory, name, k=2.0, helper="u * u"):
    (directory / f"{name}.py").write_text(MODULE.format(k=k, helper=helper))


def _child_cmd(directory, module):
    return [sys.executable, "-c", CHILD.format(module=module), str(directory)]


def _child_env(cache_dir):
    return dict(os.environ, SRCGRAD_CACHE_DIR=str(cache_dir), PYTHONDONTWRITEBYTECODE="1")


def _run_child(directory, module, cache_dir):
    out = subprocess.run(_child_cmd(directory, module), capture_output=True, text=True,
                         env=_child_env(cache_dir), timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _expected(k, helper_grad, helper_val, x=1.5, y=-0.5):
    """d/dx, d/dy of f at (x, y), by hand."""
    s = helper_val * y + k * x
    gx, gy = helper_grad * y + k, helper_val
    if s > 0.0:
        import math

        gy += math.exp(y)
    return pytest.approx((gx, gy), rel=1e-14)


def test_cold_concurrent_then_warm_process_compiles_nothing(tmp_path):
    cache_dir = tmp_path / "cache"
    _write_module(tmp_path, "cachemod")
    expected = _expected(2.0, 2 * 1.5, 1.5 ** 2)

    # two cold processes at once on an empty cache directory: both must succeed
    procs = [subprocess.Popen(_child_cmd(tmp_path, "cachemod"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=_child_env(cache_dir))
             for _ in range(2)]
    builds = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        cold = json.loads(out.strip().splitlines()[-1])
        assert cold["value"] == expected
        builds.append(cold["builds"])
    # at least one generated code (the other may start late enough to find the first one's module)
    assert max(builds) >= 1
    # no partial or temporary files were left behind; every generated module is whole
    files = list(cache_dir.iterdir())
    assert not [f for f in files if f.name.endswith(".tmp")]
    generated = [f for f in files if f.suffix == ".py"]
    assert generated
    for f in generated:
        ast.parse(f.read_text())

    # warm processes: machine code comes from numba's cache, srcgrad generates nothing
    times, cpu = [], []
    package = cold["package"]
    for _ in range(8):
        warm = _run_child(tmp_path, "cachemod", cache_dir)
        assert warm["value"] == expected
        if warm["package"] != package:
            # srcgrad's own files were edited meanwhile (the key hashes them): a new cold run
            package = warm["package"]
            continue
        assert warm["builds"] == 0 and warm["specs"] == 0
        assert warm["hits"] >= 1 and warm["misses"] == 0
        times.append(warm["seconds"])
        cpu.append(warm["cpu"])
        if len(times) == 3:
            break
    assert len(times) == 3, "srcgrad's sources kept changing during the test"
    median, median_cpu = statistics.median(times), statistics.median(cpu)
    print(f"\nwarm process, import srcgrad -> first gradient: median {median * 1e3:.0f} ms wall "
          f"({', '.join(f'{t * 1e3:.0f}' for t in times)}), {median_cpu * 1e3:.0f} ms CPU; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    # CPU time is what the process itself spends (a recompile would cost seconds of it); wall
    # time also counts other processes' load on a shared machine and is only printed (a bound on
    # it failed at load 4 on 2 cores: 5.1 s wall for a warm process that compiled nothing)
    assert median_cpu < 2.0


def test_changed_constant_or_helper_is_never_served_stale(tmp_path):
    cache_dir = tmp_path / "cache"
    _write_module(tmp_path, "stalemod", k=2.0, helper="u * u")
    first = _run_child(tmp_path, "stalemod", cache_dir)
    assert first["value"] == _expected(2.0, 3.0, 2.25)
    # the same file, a different global constant: a new key, a new compile, the new answer
    _write_module(tmp_path, "stalemod", k=-3.0, helper="u * u")
    second = _run_child(tmp_path, "stalemod", cache_dir)
    assert second["builds"] >= 1
    assert second["value"] == _expected(-3.0, 3.0, 2.25)
    # the same function, a different helper body
    _write_module(tmp_path, "stalemod", k=-3.0, helper="u * u * u")
    third = _run_child(tmp_path, "stalemod", cache_dir)
    assert third["builds"] >= 1
    assert third["value"] == _expected(-3.0, 3 * 1.5 ** 2, 1.5 ** 3)


def _key_of(tmp_path, name, **kw):
    _write_module(tmp_path, name, **kw)
    sys.path.insert(0, str(tmp_path))
    try:
        module = __import__(name)
    finally:
        sys.path.pop(0)
    try:
        return Transform(module.f, "grad", (0, 1), True, "cpu", False).key
    finally:
        del sys.modules[name]


def test_cache_key_follows_source_constants_and_helpers(tmp_path):
    base = _key_of(tmp_path, "keymod_a")
    assert _key_of(tmp_path, "keymod_a") == base  # stable for the same content
    assert _key_of(tmp_path, "keymod_b", k=2.5) != base  # a global constant it reads
    assert _key_of(tmp_path, "keymod_c", helper="u * u + 1.0") != base  # a helper's source
    (tmp_path / "keymod_d.py").write_text(MODULE.format(k=2.0, helper="u * u").replace(
        "K * x", "K * x * x"))
    sys.path.insert(0, str(tmp_path))
    try:
        import keymod_d
    finally:
        sys.path.pop(0)
    assert Transform(keymod_d.f, "grad", (0, 1), True, "cpu", False).key != base  # its source
    del sys.modules["keymod_d"]


def test_cache_key_follows_transformation_options(tmp_path):
    _write_module(tmp_path, "optmod")
    sys.path.insert(0, str(tmp_path))
    try:
        import optmod
    finally:
        sys.path.pop(0)
    keys = {Transform(optmod.f, kind, nums, tup, "cpu", fm).key
            for kind, nums, tup, fm in [("grad", (0,), False, False), ("grad", (1,), False, False),
                                        ("grad", (0, 1), True, False),
                                        ("value_and_grad", (0,), False, False),
                                        ("grad", (0,), False, True)]}
    assert len(keys) == 5
    del sys.modules["optmod"]


def test_write_atomic_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "srcgrad_gen_x.py"

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        cache.write_atomic(target, "x = 1\n")
    assert not target.exists()  # a reader never sees a half-written module
    monkeypatch.undo()
    cache.write_atomic(target, "x = 1\n")
    assert target.read_text() == "x = 1\n"
    stamp = target.stat().st_mtime_ns
    cache.write_atomic(target, "x = 1\n")  # unchanged content: not rewritten (numba's cache
    assert target.stat().st_mtime_ns == stamp  # index keys on the file's timestamp)
