"""ADBench workloads: readers, objectives and hand-written adjoints against the reference values."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running the file without installing the repo
    sys.path.insert(0, str(ROOT))

from benchmarks.adbench import ba, data, gmm, hand, lstm  # noqa: E402

ADB = data.adbench_dir()
if ADB is None:
    _msg = f"ADBench data not found at {data.default_adbench_path()}; set SRCGRAD_ADBENCH"
    if os.environ.get("CI") == "true":
        pytest.fail(_msg, pytrace=False)
    pytest.skip(_msg, allow_module_level=True)

DERIVED = data.read_derived_values()
GMM_FILES = sorted(str(p.relative_to(ADB)) for p in ADB.glob("data/gmm/**/*.txt"))
LSTM_FILES = sorted(str(p.relative_to(ADB)) for p in ADB.glob("data/lstm/*.txt"))
BA_FILES = sorted(str(p.relative_to(ADB)) for p in ADB.glob("data/ba/*.txt"))
HAND_FILES = [("data/hand/test.txt", False), ("data/hand/hand_complicated.txt", True)] + [
    (str(p.relative_to(ADB)), "complicated" in p.parent.name)
    for p in sorted(ADB.glob("data/hand/*_*/hand*.txt"))
]


def rho(x, y):
    """ADBench's element-wise error |x - y| / max(1, |x| + |y|)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return np.abs(x - y) / np.maximum(1.0, np.abs(x) + np.abs(y))


def assert_rel(actual, expected, rtol=1e-8):
    """Assert a scalar matches to a relative tolerance."""
    assert abs(actual - expected) <= rtol * abs(expected), (actual, expected)


def gmm_args(g):
    """Positional arguments of the GMM functions."""
    return g.alphas, g.means, g.icf, g.x, g.wishart_gamma, g.wishart_m


def lstm_args(L):
    """Positional arguments of the LSTM functions."""
    return L.main_params, L.extra_params, L.state, L.sequence


# ------------------------------------------------------------------------ readers


def test_data_location_env(monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "missing"))
    assert data.adbench_dir() is None
    with pytest.raises(FileNotFoundError, match="SRCGRAD_ADBENCH"):
        data.require_adbench()
    monkeypatch.setenv(data.ENV_VAR, str(ADB))
    assert data.adbench_dir() == ADB


def test_expected_inputs_present():
    assert len(GMM_FILES) >= 8 and len(LSTM_FILES) == 2 and len(BA_FILES) == 4 and len(HAND_FILES) == 6


@pytest.mark.parametrize("path", GMM_FILES)
def test_read_gmm(path):
    g = data.read_gmm(path, replicate_point=False)
    p = g.k + g.k * g.d + g.k * g.d * (g.d + 1) // 2
    assert g.alphas.shape == (g.k,) and g.means.shape == (g.k, g.d)
    assert g.icf.shape == (g.k, g.d * (g.d + 1) // 2) and g.alphas.size + g.means.size + g.icf.size == p
    assert g.x.shape == ((1 if "2.5M" in path else g.n), g.d) and g.x.dtype == np.float64
    assert (g.wishart_gamma, g.wishart_m) == (1.0, 0)
    assert all(np.isfinite(a).all() for a in (g.alphas, g.means, g.icf, g.x))


def test_read_gmm_replicates_point():
    g = data.read_gmm("data/gmm/2.5M/gmm_d2_K5.txt")
    assert g.x.shape == (2_500_000, 2) and np.all(g.x == g.x[0])


@pytest.mark.parametrize("path", LSTM_FILES)
def test_read_lstm(path):
    L = data.read_lstm(path)
    assert L.main_params.shape == (2 * L.layers, 4 * L.b) and L.extra_params.shape == (3, L.b)
    assert L.state.shape == (2 * L.layers, L.b) and L.sequence.shape == (L.c, L.b)
    assert set(np.unique(L.sequence)) <= {0.0, 1.0}


@pytest.mark.parametrize("path", BA_FILES)
def test_read_ba(path):
    B = data.read_ba(path)
    assert B.cams.shape == (B.n, 11) and B.X.shape == (B.m, 3) and B.w.shape == (B.p,)
    assert B.obs.shape == (B.p, 2) and B.feats.shape == (B.p, 2)
    assert B.obs[:, 0].max() == B.n - 1 and B.obs[:, 1].max() == B.m - 1


@pytest.mark.parametrize("path,complicated", HAND_FILES)
def test_read_hand(path, complicated):
    H = data.read_hand(path, complicated)
    model = H.model
    assert len(model.bone_names) == 22 and model.base_relatives.shape == (22, 4, 4)
    assert model.base_positions.shape == (544, 3) and model.triangles.shape == (1084, 3)
    np.testing.assert_allclose(model.weights.sum(axis=0), 1.0, atol=1e-6)
    assert H.theta.shape == (26,) and H.points.shape == (H.correspondences.size, 3)
    assert (H.us is not None) == complicated


def test_read_references():
    assert data.read_gmm_reference()["gradient"].shape == (18,)
    assert data.read_lstm_reference()["gradient"].shape == (266,)
    assert data.read_ba_reference()["jacobian_vals"].shape == (310,)
    assert data.read_hand_reference(False)["jacobian"].shape == (6, 26)
    assert data.read_hand_reference(True)["jacobian"].shape == (6, 28)


# ---------------------------------------------------------------------------- GMM


def test_gmm_reference_objective_and_gradient():
    ref = data.read_gmm_reference()
    args = gmm_args(data.read_gmm("data/gmm/test.txt"))
    for fn in (gmm.gmm_objective_loops, gmm.gmm_objective_numpy, gmm.gmm_objective_njit):
        assert_rel(fn(*args), ref["objective"])
    for adjoint in (gmm.gmm_grad_hand, gmm.gmm_grad_hand_pointwise):
        obj, *grads = adjoint(*args)
        assert_rel(obj, ref["objective"])
        assert rho(gmm.gmm_flat_gradient(*grads), ref["gradient"]).max() < 1e-8


@pytest.mark.parametrize("path", [p for p in GMM_FILES if p != "data/gmm/test.txt" and p in DERIVED])
def test_gmm_objective_derived(path):
    if "2.5M/gmm_d10" in path:
        pytest.skip("2.5M d10 needs 200 MB and several seconds; d2 covers replication")
    g = data.read_gmm(path)
    args = gmm_args(g)
    expected = float(DERIVED[path]["value"])
    assert_rel(gmm.gmm_objective_njit(*args), expected)
    assert_rel(gmm.gmm_grad_hand(*args)[0], expected)
    if g.n <= 10_000:
        assert_rel(gmm.gmm_objective_numpy(*args), expected)
    if g.n * g.k * g.d * g.d <= 1_000 * 5 * 100:  # pure-Python loops only on small inputs
        assert_rel(gmm.gmm_objective_loops(*args), expected)


@pytest.mark.parametrize("path", ["data/gmm/test.txt", "data/gmm/1k/gmm_d10_K25.txt"])
@pytest.mark.parametrize("adjoint", ["gmm_grad_hand", "gmm_grad_hand_pointwise"])
def test_gmm_grad_hand_directional_fd(path, adjoint):
    g = data.read_gmm(path)
    _, da, dm, di = getattr(gmm, adjoint)(*gmm_args(g))
    rng = np.random.default_rng(42)
    va, vm, vi = (rng.standard_normal(a.shape) for a in (g.alphas, g.means, g.icf))
    exact = np.sum(da * va) + np.sum(dm * vm) + np.sum(di * vi)

    def f(s):
        return gmm.gmm_objective_njit(g.alphas + s * va, g.means + s * vm, g.icf + s * vi,
                                      g.x, g.wishart_gamma, g.wishart_m)

    h = 1e-5
    fd = (f(h) - f(-h)) / (2 * h)
    assert abs(fd - exact) <= 1e-6 * max(1.0, abs(exact)), (fd, exact)


# --------------------------------------------------------------------------- LSTM


def test_lstm_reference_objective_and_gradient():
    ref = data.read_lstm_reference()
    L = data.read_lstm("data/lstm/lstm_l2_c1024.txt")
    state0 = L.state.copy()
    exact = float(DERIVED["data/lstm/lstm_l2_c1024.txt"]["value"])
    for fn in (lstm.lstm_objective, lstm.lstm_objective_loops, lstm.lstm_objective_njit):
        val = fn(*lstm_args(L))
        assert_rel(val, ref["objective"])  # the reference has 8 digits only
        assert_rel(val, exact, 1e-12)
    assert np.array_equal(L.state, state0)
    obj, d_main, d_extra = lstm.lstm_grad_hand(*lstm_args(L))
    assert_rel(obj, exact, 1e-12)
    grad = np.concatenate([d_main.ravel(), d_extra.ravel()])
    assert rho(grad, ref["gradient"]).max() < 1e-8


def test_lstm_l4_objective_and_directional_fd():
    L = data.read_lstm("data/lstm/lstm_l4_c1024.txt")
    exact = float(DERIVED["data/lstm/lstm_l4_c1024.txt"]["value"])
    assert_rel(lstm.lstm_objective(*lstm_args(L)), exact)
    assert_rel(lstm.lstm_objective_njit(*lstm_args(L)), exact)
    obj, d_main, d_extra = lstm.lstm_grad_hand(*lstm_args(L))
    assert_rel(obj, exact)
    rng = np.random.default_rng(7)
    vm, ve = rng.standard_normal(d_main.shape), rng.standard_normal(d_extra.shape)
    directional = np.sum(d_main * vm) + np.sum(d_extra * ve)

    def f(s):
        return lstm.lstm_objective_njit(L.main_params + s * vm, L.extra_params + s * ve, L.state, L.sequence)

    h = 1e-5
    fd = (f(h) - f(-h)) / (2 * h)
    assert abs(fd - directional) <= 1e-6 * abs(directional), (fd, directional)


# ----------------------------------------------------------------------------- BA


def test_ba_reference_residuals_and_fd_jacobian():
    ref = data.read_ba_reference()
    B = data.read_ba("data/ba/test.txt")
    args = (B.cams, B.X, B.w, B.obs, B.feats)
    for fn in (ba.ba_objective, ba.ba_objective_loops, ba.ba_objective_njit):
        reproj, werr = fn(*args)
        assert reproj.shape == (B.p, 2) and werr.shape == (B.p,)
        assert rho(reproj, np.tile(ref["reproj_err_pair"], (B.p, 1))).max() < 1e-8
        assert rho(werr, ref["w_err"]).max() < 1e-8
    indptr, indices, values, shape = ba.ba_jacobian_fd(*args)
    assert shape == ref["jacobian_shape"] and indptr[-1] == values.size == 31 * B.p
    cam_cols, pt_cols, w_col = np.arange(11), 11 * B.n + np.arange(3), 11 * B.n + 3 * B.m
    np.testing.assert_array_equal(indices[:15], np.concatenate([cam_cols, pt_cols, [w_col]]))
    np.testing.assert_array_equal(indices[30 * B.p:], w_col + np.arange(B.p))
    assert rho(values, ref["jacobian_vals"]).max() < 1e-6  # ADBench's tolerance for finite differences


@pytest.mark.parametrize("path", [p for p in BA_FILES if p != "data/ba/test.txt"])
def test_ba_residuals_derived(path):
    B = data.read_ba(path)
    expected = np.array(DERIVED[path]["value"].split(), dtype=float)
    for fn in (ba.ba_objective, ba.ba_objective_njit):
        reproj, werr = fn(B.cams, B.X, B.w, B.obs, B.feats)
        assert rho(reproj, expected[:2]).max() < 1e-8 and rho(werr, expected[2]).max() < 1e-8


# --------------------------------------------------------------------------- hand


def hand_residuals(H, complicated):
    """Residuals of a hand instance, simple or complicated."""
    if complicated:
        return hand.hand_objective_complicated(H.theta, H.us, H.model, H.correspondences, H.points)
    return hand.hand_objective_simple(H.theta, H.model, H.correspondences, H.points)


@pytest.mark.parametrize("path,complicated", HAND_FILES[:2])
def test_hand_reference_residuals_and_fd_jacobian(path, complicated):
    ref = data.read_hand_reference(complicated)
    H = data.read_hand(path, complicated)
    assert rho(hand_residuals(H, complicated), ref["objective"]).max() < 1e-8
    jac = hand.hand_jacobian_fd(H.theta, H.model, H.correspondences, H.points, H.us)
    assert jac.shape == ref["jacobian"].shape
    assert rho(jac, ref["jacobian"]).max() < 1e-6


@pytest.mark.parametrize("path,complicated", HAND_FILES)
def test_hand_residuals_derived(path, complicated):
    H = data.read_hand(path, complicated)
    res = hand_residuals(H, complicated)
    ssq, first = DERIVED[path]["value"].split(";")
    assert_rel(res @ res, float(ssq))
    assert rho(res[:3], np.array(first.split(), dtype=float)).max() < 1e-8
