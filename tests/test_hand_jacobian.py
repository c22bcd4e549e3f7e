"""ADBench hand tracking (simple and complicated): srcgrad's Jacobians (forward columns) against
the reference values."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.adbench import data  # noqa: E402

if data.adbench_dir() is None:
    _msg = f"ADBench data not found at {data.default_adbench_path()}; set SRCGRAD_ADBENCH"
    if os.environ.get("CI") == "true":
        pytest.fail(_msg, pytrace=False)
    pytest.skip(_msg, allow_module_level=True)

from benchmarks.adbench import hand_srcgrad  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::numba.NumbaPerformanceWarning")


def rho(x, y):
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return np.abs(x - y) / np.maximum(1.0, np.abs(x) + np.abs(y))


def test_hand_simple_jacobian_matches_reference():
    H = data.read_hand("data/hand/test.txt", False)
    ref = data.read_hand_reference(False)
    J = hand_srcgrad.hand_jacobian_simple(H)
    assert J.shape == ref["jacobian"].shape == (6, 26)
    assert rho(J, ref["jacobian"]).max() < 1e-8
    assert rho(hand_srcgrad.hand_objective_simple(H), ref["objective"]).max() < 1e-8


def test_hand_complicated_jacobian_matches_reference():
    H = data.read_hand("data/hand/hand_complicated.txt", True)
    ref = data.read_hand_reference(True)
    J = hand_srcgrad.hand_jacobian_complicated(H)
    assert J.shape == ref["jacobian"].shape == (6, 28)
    assert rho(J, ref["jacobian"]).max() < 1e-8
