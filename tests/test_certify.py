"""strategy="certify" and directions=K on small NumPy MLPs with planted bugs."""

import json

import numpy as np
import pytest

import gradcheck as gc

LAM = 0.01  # the models' L2 regularization strength


def mlp(hidden=30, seed=1, batch=32):
    """(loss, params, grad) of a 20-H-H-1 tanh MLP with L2 regularization LAM."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((batch, 20)), rng.standard_normal((batch, 1))
    params = {
        "W1": rng.standard_normal((20, hidden)) / np.sqrt(20),
        "b1": 0.1 * rng.standard_normal(hidden),
        "W2": rng.standard_normal((hidden, hidden)) / np.sqrt(hidden),
        "b2": 0.1 * rng.standard_normal(hidden),
        "W3": rng.standard_normal((hidden, 1)) / np.sqrt(hidden),
        "b3": 0.1 * rng.standard_normal(1),
    }

    def forward(p):
        h1 = np.tanh(x @ p["W1"] + p["b1"])
        h2 = np.tanh(h1 @ p["W2"] + p["b2"])
        return h1, h2, h2 @ p["W3"] + p["b3"]

    def loss(p):
        return 0.5 * np.mean((forward(p)[2] - y) ** 2) + 0.5 * LAM * sum(np.sum(v**2) for v in p.values())

    def grad(p):
        h1, h2, out = forward(p)
        d = (out - y) / batch
        dz2 = (d @ p["W3"].T) * (1 - h2**2)
        dz1 = (dz2 @ p["W2"].T) * (1 - h1**2)
        g = {
            "W1": x.T @ dz1,
            "b1": dz1.sum(0),
            "W2": h1.T @ dz2,
            "b2": dz2.sum(0),
            "W3": h2.T @ d,
            "b3": d.sum(0),
        }
        return {k: v + LAM * p[k] for k, v in g.items()}

    return loss, params, grad


@pytest.fixture(scope="module")
def net():
    loss, params, grad = mlp()
    return loss, params, grad(params)


def certify(loss, params, grad, **options):
    return gc.check(loss, params, grad, strategy="certify", **options)


def planted(grad, **changes):
    """A copy of grad with each tensor replaced by changes[name](its gradient)."""
    return {k: changes[k](v.copy()) if k in changes else v for k, v in grad.items()}


def kinds(report):
    return {(f.kind, f.tensor) for f in report.findings}


def test_a_correct_gradient_is_certified_with_a_stated_limit(net):
    loss, params, grad = net
    report = certify(loss, params, grad)
    assert report.passed and report.findings == ()
    assert report.settings.strategy == "certify"
    assert report.settings.directions == 21
    assert report.settings.miss_probability <= 1e-6
    assert report.settings.evaluations < 150  # vs 2 × 1,591 for the full check
    median = np.median(np.abs(np.concatenate([v.ravel() for v in grad.values()])))
    assert all(row.entry_limit < 1e-6 * median for row in report.tensors)
    assert all(row.checked == np.prod(row.shape) for row in report.tensors)


def test_an_error_just_above_the_stated_limit_is_caught(net):
    loss, params, grad = net
    limit = certify(loss, params, grad).tensors[2].entry_limit  # W2; all |θ| < 1, so sⱼ = 1
    assert np.max(np.abs(params["W2"])) < 1

    def nudge(g):
        g[5, 6] += 2 * limit
        return g

    report = certify(loss, params, planted(grad, W2=nudge))
    assert not report.passed
    assert [c.name for c in report.worst(1)] == ["W2[5, 6]"]


def test_a_single_wrong_entry_is_named_with_both_values(net):
    loss, params, grad = net

    def entry(g):
        g[3, 4] *= 1.01
        return g

    report = certify(loss, params, planted(grad, W2=entry))
    assert not report.passed and report.wrong_tensors == ["W2"]
    (finding,) = report.findings
    assert finding.kind == "wrong_components" and finding.components == ("W2[3, 4]",)
    worst = report.worst(1)[0]
    assert worst.flagged and worst.analytic == pytest.approx(grad["W2"][3, 4] * 1.01)
    assert worst.numerical == pytest.approx(grad["W2"][3, 4], rel=1e-6)
    assert report.settings.evaluations < 300


def test_several_wrong_entries_with_cancelling_signs_are_all_found(net):
    loss, params, grad = net

    def entries(g):
        g[1, 2] += 1e-5
        g[5, 7] -= 1e-5
        g[20, 3] += 1e-5
        return g

    report = certify(loss, params, planted(grad, W2=entries))
    (finding,) = report.findings
    assert set(finding.components) == {"W2[1, 2]", "W2[5, 7]", "W2[20, 3]"}


def test_a_wrong_row_is_found_and_described(net):
    loss, params, grad = net

    def row(g):
        g[7] *= 1.5
        return g

    report = certify(loss, params, planted(grad, W2=row))
    (finding,) = report.findings
    assert finding.kind == "wrong_components" and finding.value == 30
    assert "row 7 (W2[7, :], 30 of its 30 entries); there analytic ≈ 1.50× numerical" in finding.message


@pytest.mark.parametrize(
    "tensor, change, kind, value, words",
    [
        ("W2", lambda g: 2 * g, "scale", 2.0, "a factor 2"),
        ("W1", lambda g: g / 32, "scale", 1 / 32, "0.0313×"),
        ("W1", lambda g: g / 32, "scale", 1 / 32, "if 32 is your batch size m, did you divide by m twice"),
        ("W1", lambda g: -g, "sign", -1.0, "wrong sign"),
        ("W2", lambda g: 0 * g, "zero_gradient", None, "is zero"),
        ("b1", lambda g: 0 * g, "zero_gradient", None, "is zero"),
    ],
)
def test_tensor_wide_bugs_are_recognised_from_directions(net, tensor, change, kind, value, words):
    loss, params, grad = net
    report = certify(loss, params, planted(grad, **{tensor: change}))
    (finding,) = report.findings
    assert (finding.kind, finding.tensor) == (kind, tensor)
    assert words in finding.message
    if value is not None:
        assert finding.value == pytest.approx(value, rel=1e-6)
    assert report.wrong_tensors == [tensor]


def test_a_missing_regularization_term_is_recognised_with_its_lambda(net):
    loss, params, grad = net
    report = certify(loss, params, planted(grad, W2=lambda g: g - LAM * params["W2"]))
    (finding,) = report.findings
    assert (finding.kind, finding.tensor) == ("missing_regularization", "W2")
    assert finding.value == pytest.approx(LAM, rel=1e-6)


@pytest.mark.parametrize("tensor", ["W2", "b3"])
def test_certify_reaches_the_verdict_of_the_full_check(net, tensor):
    loss, params, grad = net
    wrong = planted(grad, **{tensor: lambda g: 1.001 * g})
    full, fast = gc.check(loss, params, wrong, strategy="full"), certify(loss, params, wrong)
    assert full.passed is fast.passed is False
    assert full.wrong_tensors == fast.wrong_tensors == [tensor]


def test_a_spread_bug_of_no_known_pattern_stops_at_the_component_budget(net, monkeypatch):
    from gradcheck import _localise

    monkeypatch.setattr(_localise, "COMPONENT_BUDGET", 16)
    loss, params, grad = net

    def spread(g):  # every entry off by its own factor: no scale, sign, λ, zero or swap explains it
        return g * (1 + 0.5 * np.cos(np.arange(g.size))).reshape(g.shape)

    report = certify(loss, params, planted(grad, W2=spread))
    assert not report.passed and report.wrong_tensors == ["W2"]
    assert any("not narrowed down further" in f.message for f in report.findings)
    assert report.components.size < 64


def relu_net(bug=False):
    """A one-hidden-layer ReLU net whose unit 5 sits exactly on its kink for example 0."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((32, 10)), rng.standard_normal((32, 1))
    p = {
        "W1": rng.standard_normal((10, 60)) / 3,
        "b1": 0.1 * rng.standard_normal(60),
        "W2": rng.standard_normal((60, 1)) / 8,
    }
    p["b1"][5] = -(x[0] @ p["W1"][:, 5])

    def loss(q):
        return 0.5 * np.mean((np.maximum(x @ q["W1"] + q["b1"], 0) @ q["W2"] - y) ** 2)

    z = x @ p["W1"] + p["b1"]
    d = (np.maximum(z, 0) @ p["W2"] - y) / len(x)
    dz = (d @ p["W2"].T) * (z > 0)
    grad = {"W1": x.T @ dz, "b1": dz.sum(0), "W2": np.maximum(z, 0).T @ d}
    if bug:
        grad["W1"][3, 7] *= 1.001
    return loss, p, grad


def test_a_relu_kink_at_theta_is_not_a_bug():
    report = certify(*relu_net())
    assert report.passed
    assert {f.kind for f in report.findings} == {"kink"}


def test_a_bug_in_a_kinked_network_is_still_located():
    report = certify(*relu_net(bug=True))
    assert not report.passed
    wrong = [f for f in report.findings if f.kind == "wrong_components"]
    assert [f.components for f in wrong] == [("W1[3, 7]",)]


def test_an_abs_kink_on_a_parameter_is_split_off_and_reported(net):
    loss, params, grad = net
    params = {k: v.copy() for k, v in params.items()}
    params["W2"][4, 4] = 0.0
    grad = mlp()[2](params)
    grad["W2"] = grad["W2"] + 0.01 * np.where(params["W2"] >= 0, 1.0, -1.0)  # picks the right side at 0
    report = certify(lambda p: loss(p) + 0.01 * np.sum(np.abs(p["W2"])), params, grad)
    assert report.passed
    assert "kink" in {f.kind for f in report.findings}


def test_float32_parameters_are_certified(net):
    loss, params, grad = net
    params32 = {k: v.astype(np.float32) for k, v in params.items()}
    grad32 = {k: v.astype(np.float32) for k, v in mlp()[2](params32).items()}
    report = certify(loss, params32, grad32)
    assert report.passed
    assert all(np.isfinite(row.entry_limit) for row in report.tensors)


def test_directions_k_passes_a_correct_gradient_and_states_what_it_misses(net):
    loss, params, grad = net
    report = gc.check(loss, params, grad, directions=8)
    assert report.passed
    assert report.settings.strategy == "directions" and report.settings.directions == 8
    assert report.settings.miss_probability == 2.0**-8
    assert report.settings.evaluations < 18 + 4 + 8 * 2 + 8  # probe, noise, pilot, 2 per direction
    assert all(0 < row.entry_limit < 1e-6 for row in report.tensors)
    assert "probability ≤ 3.9e-03" in str(report)


def test_directions_k_names_the_failing_tensor_but_not_the_entry(net):
    loss, params, grad = net

    def entry(g):
        g[3, 4] += 1e-6
        return g

    report = gc.check(loss, params, planted(grad, W2=entry), directions=4)
    assert not report.passed and report.wrong_tensors == ["W2"]
    (finding,) = report.findings
    assert finding.kind == "wrong_components" and "run without directions= to locate them" in finding.message


def test_the_report_says_which_strategy_ran_why_and_what_it_guarantees(net):
    loss, params, grad = net
    report = certify(loss, params, grad)
    text = str(report)
    assert "21 random-sign directions through every component" in text
    assert "strategy='certify' asked for" in text
    data = json.loads(report.to_json())
    assert data["settings"]["strategy"] == "certify"
    assert data["settings"]["miss_probability"] == report.settings.miss_probability
    assert data["tensors"][0]["entry_limit"] == report.tensors[0].entry_limit


def test_auto_runs_the_full_check_on_small_problems():
    loss, params, grad = mlp(hidden=10)  # 331 components: full whatever the machine's speed
    report = gc.check(loss, params, grad(params))
    assert report.settings.strategy == "full"
    assert report.settings.strategy_reason == "auto: 331 components (≤ 1000) are checked one by one"
    assert all(row.entry_limit > 0 for row in report.tensors)


def test_certify_leaves_the_callers_arrays_alone(net):
    loss, params, grad = net
    before = {k: v.copy() for k, v in params.items()}
    certify(loss, params, planted(grad, W2=lambda g: 2 * g))
    assert all(np.array_equal(before[k], params[k]) for k in params)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"strategy": "fast"}, r"strategy='fast' \(type=str\).*'auto', 'full', 'certify'"),
        ({"strategy": None}, r"strategy=None \(type=NoneType\)"),
        ({"directions": 0}, r"directions=0 \(type=int\)"),
        ({"directions": True}, r"directions=True \(type=bool\)"),
        ({"directions": 4, "strategy": "full"}, r"directions=4 .* strategy='full'"),
        ({"strategy": "certify", "method": "forward"}, r"strategy='certify' .* method='forward'"),
        ({"directions": 4, "eps": 1e-7}, r"directions=4 .* eps=1e-07"),
    ],
)
def test_bad_options_are_refused_eagerly(options, match):
    with pytest.raises(gc.OptionError, match=match):
        gc.check(lambda p: 0.0, np.zeros(3), np.zeros(3), **options)
