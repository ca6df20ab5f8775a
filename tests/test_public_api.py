"""The public names are a contract: this pins them."""

import gradcheck as gc

PUBLIC = {
    "Component",
    "BatchedLossError",
    "ComplexStepError",
    "Finding",
    "GradcheckError",
    "GradcheckWarning",
    "GradientMismatch",
    "LossError",
    "LossRaisedError",
    "LossValueError",
    "Monitor",
    "MonitorFailure",
    "MutatedParamsError",
    "NonFiniteError",
    "NondeterministicLossError",
    "OptionError",
    "OutputError",
    "Problem",
    "ProblemError",
    "Report",
    "Settings",
    "SlowCheckWarning",
    "StructureError",
    "TaylorReport",
    "TensorRow",
    "WorkerError",
    "assert_gradients",
    "check",
    "check_hvp",
    "check_jvp",
    "check_vjp",
    "numerical_gradient",
    "relative_difference",
    "taylor_test",
}


def test_all_is_exactly_the_public_names():
    assert set(gc.__all__) == PUBLIC


def test_public_classes_report_the_package_as_their_module():
    for name in gc.__all__:
        obj = getattr(gc, name)
        if isinstance(obj, type):
            assert obj.__module__ == "gradcheck", name
