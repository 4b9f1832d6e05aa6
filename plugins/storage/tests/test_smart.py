"""SMART through the API with a fake ``smartctl`` replaying recorded real output.

Virtual and loop disks have no SMART, so the one test double here is smartctl itself
(fake_smartctl.py first on PATH): it answers for our loop devices with the recordings in
shared/fixtures/smartctl. Cases marked DERIVED are edited copies of a healthy recording.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from sigmavault.testing import next_event, wait_job

API = "/api/v1/storage"
HERE = Path(__file__).parent


def _fixtures() -> Path:
    for candidate in (HERE.parents[2].parent / "shared" / "fixtures" / "smartctl",
                      Path("/work/shared/fixtures/smartctl")):
        if candidate.is_dir():
            return candidate
    pytest.fail("shared/fixtures/smartctl is missing") if os.environ.get("CI") else pytest.skip(
        "shared/fixtures/smartctl is missing")


@pytest.fixture
def sv_config_overrides():
    return {"storage": {"monitor_interval": 0, "smart_interval": 0, "include_loop_devices": True}}


@pytest.fixture
def loops(loop_devices):
    """``make(n)`` → 16 MiB loop devices (the core's ``loop_devices``)."""
    return lambda n: loop_devices(n, size=16 << 20)


def derived_copy(tmp_path: Path, name: str) -> Path:
    """A writable copy of a recording, for DERIVED variants."""
    dst = tmp_path / f"derived_{name}"
    shutil.copytree(_fixtures() / name, dst)
    return dst


def make_failing(folder: Path, all_file: str) -> None:
    """DERIVED failing disk: overall assessment FAILED and reallocated sectors failing now."""
    path = folder / all_file
    text = path.read_text()
    text = text.replace("test result: PASSED", "test result: FAILED!")
    lines = []
    for line in text.splitlines():
        if line.split()[:2] == ["5", "Reallocated_Sector_Ct"]:
            line = ("  5 Reallocated_Sector_Ct   0x0033   005   005   010    Pre-fail  Always"
                    "   FAILING_NOW 1984")
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")


async def ok(resp, status=200):
    body = await resp.json()
    assert resp.status == status, (resp.status, body)
    return body


async def test_sata_hdd_and_nvme_reports(client, loops, fake_smartctl):
    hdd, nvme = loops(2)
    fx = _fixtures()
    fake_smartctl({hdd: fx / "sata_hdd_0_issue42", nvme: fx / "nvme_0"})
    rep = await ok(await client.get(f"{API}/disks/{os.path.basename(hdd)}/smart"))
    assert rep["supported"] and rep["health"] == "PASS" and rep["interface"] == "ata"
    assert rep["model"] == "OOS12000G" and rep["serial"] == "00008AXB"
    assert rep["temperature"] == 38 and rep["power_on_hours"] == 252
    assert rep["is_ssd"] is False and rep["rotation_rate"] == 7200
    assert {a["id"]: a["raw"] for a in rep["attributes"]}[9] == "252"
    assert rep["self_tests"][0]["status"].startswith("Self-test routine in progress")
    assert rep["test_running"] is True and len(rep["self_tests"]) == 8

    rep = await ok(await client.get(f"{API}/disks/{os.path.basename(nvme)}/smart"))
    assert rep["interface"] == "nvme" and rep["health"] == "PASS" and rep["is_ssd"] is True
    assert rep["nvme"] is not None and rep["nvme"]["percentageUsed"] is not None
    assert rep["temperature"] is not None and rep["power_on_hours"] is not None


async def test_unsupported_device_and_unknown_disk(client, loops, fake_smartctl):
    [dev] = loops(1)
    fake_smartctl({dev: _fixtures() / "unsupported_0"})
    rep = await ok(await client.get(f"{API}/disks/{os.path.basename(dev)}/smart"))
    assert rep["supported"] is False and rep["health"] in ("UNKNOWN", "PASS")
    resp = await client.get(f"{API}/disks/nosuchdisk/smart")
    assert resp.status == 404
    resp = await client.get(f"{API}/disks/-x/smart")
    assert resp.status == 400


async def test_failing_disk_is_reported_with_an_event(client, loops, fake_smartctl, tmp_path):
    """DERIVED: a failing disk made from the healthy SATA SSD recording (sata_ssd_0_issue_49)."""
    [dev] = loops(1)
    folder = derived_copy(tmp_path, "sata_ssd_0_issue_49")
    fake_smartctl({dev: folder})
    disk = os.path.basename(dev)
    ws = await client.ws_connect("/api/v1/ws")
    await ws.send_json({"type": "client.subscribe", "events": ["storage.event"]})
    healthy = await ok(await client.get(f"{API}/disks/{disk}/smart"))
    assert healthy["health"] == "PASS" and healthy["interface"] == "ata"
    assert healthy["model"] == "LITEONIT LCT-512L9S-11 2.5 7mm 512GB"
    # "Rotation Rate: Solid State Device"; the recording has no temperature attribute (194/190)
    assert healthy["is_ssd"] is True and healthy["rotation_rate"] is None
    assert healthy["temperature"] is None and healthy["power_on_hours"] == 2376
    assert {a["id"]: a["raw"] for a in healthy["attributes"]}[9] == "2376"
    assert [t["hours"] for t in healthy["self_tests"][:3]] == ["2376", "2376", "1501"]
    make_failing(folder, "_-d_ata_--all__dev_sda")
    rep = await ok(await client.get(f"{API}/disks/{disk}/smart"))
    assert rep["health"] == "FAIL"
    assert any("Reallocated_Sector_Ct" in m for m in rep["messages"])
    ev = await next_event(ws, lambda e: e["type"] == "storage.event"
                          and e["data"]["kind"] == "smart_health", timeout=10)
    assert ev["data"]["disk"] == disk and ev["data"]["old"] == "PASS" and ev["data"]["new"] == "FAIL"
    await ws.close()


async def test_self_test_runs_as_a_job(client, readonly_client, loops, fake_smartctl, tmp_path):
    """DERIVED: the `-t short` answer is written in smartctl 7.2's wording for the SSD copy."""
    ssd, hdd = loops(2)
    folder = derived_copy(tmp_path, "sata_ssd_0_issue_49")
    (folder / "_-d_ata_-t_short__dev_sda").write_text(
        "smartctl 7.2 (derived)\n\n=== START OF OFFLINE IMMEDIATE AND SELF-TEST SECTION ===\n"
        'Sending command: "Execute SMART Short self-test routine immediately in off-line mode".\n'
        'Drive command "Execute SMART Short self-test routine immediately in off-line mode" '
        "successful.\nTesting has begun.\nPlease wait 2 minutes for test to complete.\n"
        "Test will complete after Fri Nov 27 15:10:00 2026\n")
    fake_smartctl({ssd: folder, hdd: _fixtures() / "sata_hdd_0_issue42"})
    resp = await readonly_client.post(f"{API}/disks/{os.path.basename(ssd)}/smart/test", json={})
    assert resp.status == 403
    job = await ok(await client.post(f"{API}/disks/{os.path.basename(ssd)}/smart/test",
                                     json={"type": "short", "poll_interval": 0.1}), 202)
    done = await wait_job(client, job["id"], timeout=30)
    assert done["state"] == "SUCCESS", done
    assert done["result"]["started"] is True and done["result"]["health"] == "PASS"
    assert done["result"]["eta"].startswith("Fri Nov 27")
    # the HDD recording has an extended test running: a new one is refused
    job = await ok(await client.post(f"{API}/disks/{os.path.basename(hdd)}/smart/test",
                                     json={"type": "short"}), 202)
    done = await wait_job(client, job["id"], timeout=30)
    assert done["state"] == "FAILED" and "in progress" in done["error"].lower()
    resp = await client.post(f"{API}/disks/{os.path.basename(ssd)}/smart/test",
                             json={"type": "destroy"})
    assert resp.status == 422
