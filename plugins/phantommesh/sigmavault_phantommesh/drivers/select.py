"""Choose the driver: the kernel module where it exists, else wireguard-go."""

from __future__ import annotations

from typing import Mapping

from .base import DriverError, NetworkDriver

PREFERENCE = ("kernel", "userspace")


def select_driver(drivers: Mapping[str, NetworkDriver], wanted: str = "auto") -> NetworkDriver:
    """Pick ``wanted`` (``auto``, ``kernel`` or ``userspace``) among the registered drivers.

    ``auto`` takes the first available driver in :data:`PREFERENCE`, then any other available
    one. Raises :class:`DriverError` naming every driver and why it cannot run.
    """
    if wanted != "auto":
        driver = drivers.get(wanted)
        if driver is None:
            raise DriverError(f"network driver {wanted!r} is not registered "
                              f"(registered: {', '.join(sorted(drivers)) or 'none'})")
        ok, why = driver.available()
        if not ok:
            raise DriverError(f"network driver {wanted!r} cannot run here: {why}")
        return driver
    order = [n for n in PREFERENCE if n in drivers] + sorted(n for n in drivers if n not in PREFERENCE)
    reasons = []
    for name in order:
        ok, why = drivers[name].available()
        if ok:
            return drivers[name]
        reasons.append(f"{name}: {why}")
    raise DriverError("no network driver can run here (" + "; ".join(reasons or ["none registered"]) + ")")
