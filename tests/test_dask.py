"""A real dask.distributed cluster evaluates a check through client.get_executor()."""

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import gradcheck as gc  # noqa: E402

from . import _losses  # noqa: E402


def test_a_local_dask_cluster_gives_the_serial_values():
    serial = gc.check(_losses.loss, _losses.params(), _losses.grad)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        report = gc.check(_losses.loss, _losses.params(), _losses.grad, executor=client.get_executor())
    assert report.passed
    np.testing.assert_array_equal(report.numerical, serial.numerical)
    assert report.settings.evaluations == serial.settings.evaluations
