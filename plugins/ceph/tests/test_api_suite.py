"""The shared storage API suite against CephFS on a real one-node cluster (conftest.py)."""

from __future__ import annotations

import pytest
from sigmavault.testing.backend_suite import BackendSuite

pytestmark = pytest.mark.root


class TestCephApi(BackendSuite):
    @pytest.fixture
    def pool_body(self, ceph_cluster):
        def make(name: str) -> dict:
            return {"name": name, "backend": "ceph", "options": {"size": 1}}
        return make
