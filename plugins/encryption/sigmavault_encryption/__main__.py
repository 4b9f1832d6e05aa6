"""A minimal age-compatible command line: ``python -m sigmavault_encryption``.

    keygen [--pq] [-o FILE]                     write an identity file (age-keygen format)
    encrypt (-r RECIPIENT... | -p) [-a] -o OUT IN
                                                encrypt a file (or a folder, as a tar stream) to
                                                recipients or a passphrase; -a: ASCII armor
    decrypt [-i IDENTITY_FILE] -o OUT IN        decrypt a file (binary or armored); without -i
                                                the passphrase is asked on the terminal

Passphrases are read from the terminal, as ``age -p`` does.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime, timezone
from pathlib import Path

from . import age
from .errors import AgeError
from .recipients import (HybridIdentity, ScryptIdentity, ScryptRecipient, X25519Identity,
                         parse_identity_file, parse_recipient)


PASSPHRASE_LOG_N = 18  # the scrypt work factor age -p uses


def _new_passphrase() -> str:
    passphrase = getpass.getpass("Enter passphrase: ")
    if not passphrase:
        raise SystemExit("error: the passphrase is empty")
    if getpass.getpass("Confirm passphrase: ") != passphrase:
        raise SystemExit("error: the passphrases do not match")
    return passphrase


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sigmavault_encryption")
    sub = parser.add_subparsers(dest="cmd", required=True)
    kg = sub.add_parser("keygen")
    kg.add_argument("--pq", action="store_true", help="hybrid post-quantum (mlkem768x25519) identity")
    kg.add_argument("-o", "--output")
    enc = sub.add_parser("encrypt")
    to = enc.add_mutually_exclusive_group(required=True)
    to.add_argument("-r", "--recipient", action="append")
    to.add_argument("-p", "--passphrase", action="store_true", help="encrypt with a passphrase (asked)")
    enc.add_argument("-a", "--armor", action="store_true", help="ASCII armor (PEM-like text)")
    enc.add_argument("-o", "--output", required=True)
    enc.add_argument("--no-fsync", action="store_true",
                     help="write in place without fsync (like the age CLI); not crash-safe")
    enc.add_argument("input")
    dec = sub.add_parser("decrypt")
    dec.add_argument("-i", "--identity", help="identity file (default: ask for the passphrase)")
    dec.add_argument("-o", "--output", required=True)
    dec.add_argument("input")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "keygen":
            identity = HybridIdentity.generate() if args.pq else X25519Identity.generate()
            text = (f"# created: {datetime.now(timezone.utc).isoformat(timespec='seconds')}\n"
                    f"# public key: {identity.recipient}\n{identity}\n")
            if args.output:
                Path(args.output).touch(mode=0o600, exist_ok=False)
                Path(args.output).write_text(text)
            else:
                sys.stdout.write(text)
        elif args.cmd == "encrypt":
            recips = ([ScryptRecipient(_new_passphrase(), PASSPHRASE_LOG_N)] if args.passphrase
                      else [parse_recipient(r) for r in args.recipient])
            src = Path(args.input)
            if args.no_fsync and src.is_file():
                with open(src, "rb") as f, open(args.output, "wb") as out:
                    age.encrypt(f, out, recips, flush_behind=False, armored=args.armor)
            else:
                from . import files   # (tar, atomic writes: imported only when needed)
                op = files.encrypt_dir if src.is_dir() else files.encrypt_file
                op(src, Path(args.output), recips, overwrite=True, armored=args.armor)
        else:
            from . import files
            ids = (parse_identity_file(Path(args.identity).read_text()) if args.identity
                   else [ScryptIdentity(getpass.getpass("Enter passphrase: "))])
            files.decrypt_file(Path(args.input), Path(args.output), ids, overwrite=True)
    except (AgeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
