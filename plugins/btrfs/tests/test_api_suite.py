"""The backend-agnostic storage API suite on real btrfs (raid1 on two loop devices)."""

from __future__ import annotations


import pytest
from sigmavault.testing import backend_suite

pytestmark = pytest.mark.root


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0, "include_loop_devices": True,
                        "scrub_poll_interval": 0.2}}


class TestBtrfsApi(backend_suite.BackendSuite):
    @pytest.fixture
    def pool_body(self, loop_devices):
        def make(name: str) -> dict:
            return {"name": name, "backend": "btrfs", "topology": {"layout": "raid1"},
                    "devices": loop_devices(2)}
        return make
