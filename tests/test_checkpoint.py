"""Checkpointed loops (``for t in srcgrad.checkpoint(range(n))``): same gradients as the plain
loop, and bounded tape memory: a 10^7-step loop differentiates with a peak-RSS growth under
the bound stated in docs/limitations.md (16 MB; the plain loop's tapes alone take >160 MB)."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.testing import check_grad


def osc(p, steps):
    k, c = p[0], p[1]
    x = 1.0
    v = 0.0
    for _t in sg.checkpoint(range(steps)):
        v += 0.01 * (-k * np.sin(x) - c * v)
        x += 0.01 * v
    return (x - 0.5) ** 2 + v * v


def osc_plain(p, steps):
    k, c = p[0], p[1]
    x = 1.0
    v = 0.0
    for _t in range(steps):
        v += 0.01 * (-k * np.sin(x) - c * v)
        x += 0.01 * v
    return (x - 0.5) ** 2 + v * v


def ring_buffer(x, steps):
    a = np.zeros(3)
    s = 0.0
    for t in sg.checkpoint(range(1, steps, 2)):
        a[t % 3] = a[(t + 1) % 3] * 0.5 + np.sin(x[t % 4] * s)
        s = s + a[0] * x[1]
    return s + a[2]


def test_checkpointed_equals_plain_loop():
    p = np.array([2.0, 0.3])
    g, gp = sg.grad(osc), sg.grad(osc_plain)
    for n in (0, 1, 2, 5, 17, 1000):
        np.testing.assert_allclose(g(p, n), gp(p, n), rtol=1e-13, atol=1e-15)
    assert "ckpt_" in g.source


def test_checkpoint_with_array_state_matches_fd():
    check_grad(ring_buffer, np.array([0.3, 0.5, 0.7, 0.9]), 23)
    check_grad(ring_buffer, np.array([0.3, 0.5, 0.7, 0.9]), 2)


MEMORY_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    import srcgrad as sg
    from test_checkpoint import osc
    g = sg.grad(osc)
    p = np.array([2.0, 0.3])
    g(p, 1000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = g(p, 10_000_000)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{"kb": after - before, "g": list(out)}}))
""")


def test_ten_million_steps_in_bounded_memory():
    tests = os.path.dirname(os.path.abspath(__file__))
    res = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT.format(tests=tests)],
                         capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert res.returncode == 0, res.stderr[-2000:]
    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert info["kb"] < 16 * 1024, f"peak RSS grew by {info['kb']} kB"
    assert np.all(np.isfinite(info["g"]))


def nested_checkpoints(x, n):
    s = 0.0
    for _t in sg.checkpoint(range(n)):
        for j in sg.checkpoint(range(3)):
            s = s * x[j] + 1.0
    return s


def test_nested_checkpoints_are_rejected_at_the_inner_loop():
    from srcgrad.errors import UnsupportedError

    with pytest.raises(UnsupportedError, match=r"test_checkpoint\.py:\d+:\d+: checkpoint: .*cannot be nested"):
        sg.grad(nested_checkpoints)(np.array([0.3, 0.9, -0.4]), 3)
