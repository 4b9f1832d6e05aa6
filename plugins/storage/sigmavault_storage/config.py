"""The ``[storage]`` configuration section."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class StorageConfig(BaseModel):
    pools_root: str | None = Field(None, description="parent directory of dir-backend pools "
                                   "(default: <data_dir>/pools)")
    dir_snapshot_mode: Literal["auto", "reflink", "hardlink", "copy"] = Field(
        "auto", description="auto: reflink where the filesystem supports it, else full copies; "
        "hardlink: hard-link trees (small, but in-place edits of live files show in snapshots)")
    include_loop_devices: bool = Field(False, description="offer loop devices as disks (tests, "
                                       "labs); real NAS installs leave this off")
    monitor_interval: float = Field(30.0, ge=0, description="seconds between pool health and disk "
                                    "scans (0: off)")
    smart_interval: float = Field(3600.0, ge=0, description="seconds between SMART health polls "
                                  "(0: off)")
    scrub_poll_interval: float = Field(1.0, gt=0, le=60)
    smartctl_path: str | None = Field(None, description="smartctl binary (default: from PATH)")
    smart_timeout: float = Field(60.0, gt=0)
    copy_timeout: float = Field(3600.0, gt=0, description="limit for dir-backend copies")
    usage_max_age: float = Field(300.0, gt=0, description="seconds after which a dir pool's, "
                                 "volume's or snapshot's measured usage is measured again (in the "
                                 "background)")
    protection_tick: float = Field(30.0, ge=0, description="longest seconds between two checks for "
                                   "due data protection tasks (0: the scheduler is off; run now "
                                   "still works)")
    protection_smart_poll_interval: float = Field(30.0, ge=0.05, le=600, description="seconds "
                                                  "between SMART self-test status polls of a "
                                                  "SMART test task")
