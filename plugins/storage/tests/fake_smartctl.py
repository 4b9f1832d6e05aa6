#!/usr/bin/env python3
"""A stand-in for ``smartctl`` that replays recorded output (virtual disks have no SMART).

Environment: ``FAKE_SMARTCTL_MAP="/dev/loop5=/path/to/recording_dir;/dev/loop6=..."`` maps the
device a test asks about to a folder of ``/work/shared/fixtures/smartctl`` (or a derived copy).
The device argument is rewritten to the recorded device's name (``device.json``), then the file
named after the arguments (spaces and slashes as ``_``) is printed. The only synthesized answer
is ``-d test`` for recordings that lack it: derived from ``device.json``'s interface.
"""

import json
import os
import sys


def main(argv: list[str]) -> int:
    mapping = dict(item.split("=", 1) for item in os.environ.get("FAKE_SMARTCTL_MAP", "").split(";")
                   if "=" in item)
    folder = None
    args = list(argv)
    for i, arg in enumerate(args):
        real = os.path.realpath(arg) if arg.startswith("/dev/") else arg
        if real in mapping:
            folder = mapping[real]
            with open(os.path.join(folder, "device.json")) as f:
                meta = json.load(f)
            args[i] = meta["name"]
            break
    if folder is None:
        print(f"fake smartctl: no recording mapped for {argv}", file=sys.stderr)
        return 2
    name = "_" + "_".join(args).replace("/", "_")
    path = os.path.join(folder, name)
    if os.path.isfile(path):
        with open(path) as f:
            sys.stdout.write(f.read())
        return 0
    if args[:2] == ["-d", "test"]:
        iface = meta["interface"]
        print("smartctl 7.2 (fake: -d test answer derived from device.json)\n")
        print(f"{args[2]}: Device of type '{iface}' [{iface.upper()}] detected")
        print(f"{args[2]}: Device of type '{iface}' [{iface.upper()}] opened")
        return 0
    print(f"fake smartctl: no recording {name} in {folder}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
