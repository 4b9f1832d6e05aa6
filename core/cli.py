"""The ``sigmavault`` command: serve, plugins, config check, user, apikey, backup, service,
doctor."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import json
import logging
import os
import ssl
import sys
from pathlib import Path
from typing import Any, Sequence

from aiohttp import web

from . import __version__, api, backup, config as configuration, doctor, logs
from .app import SigmaVault
from .config import Config, ConfigError
from .errors import APIError
from .plugins import PluginLoadError, PluginManager


log = logging.getLogger("sigmavault")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", type=Path, help="TOML config file (or SIGMAVAULT_CONFIG)")
    p.add_argument("--data-dir", type=Path, help="state directory (default ./var in a checkout)")


def _config(args: argparse.Namespace, **extra: Any) -> Config:
    return configuration.load(args.config, overrides={"data_dir": args.data_dir, **extra})


def _tls_context(cfg: Config) -> ssl.SSLContext | None:
    cert, key = cfg.tls_cert, cfg.tls_key
    if cfg.tls_self_signed and not cert:
        from .tls import self_signed
        cert, key = self_signed(cfg.data_dir / "tls")
    if not cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def settle_heap() -> None:
    """What exists once the daemon has started lives as long as it does: take it out of the cyclic
    garbage collector's view, so that the full collections steady load triggers stay short
    (scanning the whole heap stalled requests for tens of milliseconds). A young generation of
    10,000 objects instead of 700: a response of 10,000 rows no longer sets off dozens of
    collections (a cold 10,000-snapshot listing: ~48 -> ~38 ms)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


async def _settle_heap(_: web.Application) -> None:
    settle_heap()


def cmd_serve(args: argparse.Namespace) -> int:
    cfg = _config(args, host=args.host, port=args.port, tls_cert=args.tls_cert, tls_key=args.tls_key,
                  tls_self_signed=args.tls_self_signed or None, log_format=args.log_format)
    logs.setup(cfg.log_format, cfg.log_level)
    config_path = _config_path(args)
    _apply_pending_restore(cfg, config_path)
    ssl_context = _tls_context(cfg)

    async def make() -> web.Application:
        sv = await SigmaVault.create(cfg)
        sv.config_path = config_path  # type: ignore[attr-defined]  # what a backup includes
        app = sv.web
        app.on_startup.append(_settle_heap)
        return app

    scheme = "https" if ssl_context else "http"
    # aiohttp's keep-alive timer also runs from the moment a connection opens and closes it if no
    # whole request head has arrived by then: slow or dribbled headers cannot hold sockets open
    # a request line may carry a file path of PATH_MAX (4096) characters, percent-encoded (up to
    # 12 bytes each): past aiohttp's 8190 it would be a plain-text 400 before any handler runs
    web.run_app(make(), host=cfg.host, port=cfg.port, ssl_context=ssl_context, access_log=None,
                shutdown_timeout=10, keepalive_timeout=cfg.header_timeout_seconds,
                max_line_size=api.MAX_LINE,
                print=lambda _: log.info("SigmaVault %s serving on %s://%s:%s/", __version__,
                                         scheme, cfg.host, cfg.port))
    return 0


def _config_path(args: argparse.Namespace) -> Path | None:
    path = getattr(args, "config", None) or os.environ.get(configuration.ENV_PREFIX + "CONFIG")
    return Path(path) if path else None


def _apply_pending_restore(cfg: Config, config_path: Path | None) -> None:
    """A backup uploaded through the API is restored here, before the database opens."""
    if not (cfg.data_dir / backup.PENDING).is_file():
        return
    pm = PluginManager(cfg.plugins.disabled, cfg.plugins.strict)
    pm.load()
    try:
        done = backup.apply_pending(cfg.data_dir, config_path, backup.known_schema_versions(pm))
    except APIError as exc:
        raise APIError(exc.status, exc.code, f"the configuration backup uploaded for restore cannot "
                       f"be applied: {exc.message}. Remove {cfg.data_dir / backup.PENDING} to start "
                       "with the current state") from None
    if done:
        print(f"restored the configuration backup of {done['hostname']} made {done['created_at']}"
              + (f"; its config file is in {done['config_path']}" if done["config_path"] and
                 config_path is None else ""), file=sys.stderr, flush=True)


def _secret(args: argparse.Namespace, confirm: bool) -> tuple[str | None, list[str]]:
    """(passphrase, identities or recipients) from the backup commands' options."""
    keys = list(getattr(args, "recipient", None) or [])
    if getattr(args, "identity", None):
        keys += backup.identities_from_text(Path(args.identity).read_text())
    if keys:
        return None, keys
    if args.passphrase_file:
        return Path(args.passphrase_file).read_text().rstrip("\n"), []
    if args.passphrase_stdin:
        return sys.stdin.readline().rstrip("\n"), []
    first = getpass.getpass("backup passphrase: ")
    if confirm and getpass.getpass("again: ") != first:
        raise APIError(400, "passphrase_mismatch", "the two passphrases differ")
    return first, []


def cmd_backup(args: argparse.Namespace) -> int:
    if args.backup_cmd == "create":
        passphrase, recipients = _secret(args, confirm=True)
        config_path = _config_path(args)

        def make(app: SigmaVault) -> tuple[bytes, dict]:
            return backup.create(app, passphrase=passphrase, recipients=recipients,
                                 config_path=config_path)
        data, manifest = asyncio.run(_audited(args, "system.backup.create", "", make, {}))
        if args.output == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            out = Path(args.output or backup.archive_name(manifest))
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            print(f"wrote {out} ({len(data)} bytes; SigmaVault {manifest['sigmavault_version']}, "
                  f"{len(manifest['members'])} files)", file=sys.stderr)
        return 0
    # restore: the config file named may not exist yet (a fresh install)
    config_path = _config_path(args)
    cfg = configuration.load(config_path if config_path and config_path.exists() else None,
                             env={k: v for k, v in os.environ.items()
                                  if k != configuration.ENV_PREFIX + "CONFIG"},
                             overrides={"data_dir": args.data_dir})
    passphrase, identities = _secret(args, confirm=False)
    opened = backup.open_archive(Path(args.archive).read_bytes(), passphrase=passphrase,
                                 identities=identities)
    pm = PluginManager(cfg.plugins.disabled, cfg.plugins.strict)
    pm.load()
    backup.check_compatible(opened.manifest, backup.known_schema_versions(pm))
    done = backup.restore(opened, cfg.data_dir, config_path=config_path, replace=args.force)
    print(f"restored the backup of {done['hostname']} made {done['created_at']} (SigmaVault "
          f"{done['sigmavault_version']}) into {done['data_dir']}")
    if done["config_path"]:
        print(f"config file: {done['config_path']}")
    print("start (or restart) the daemon to use it")
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    from . import service_unit
    if args.service_cmd == "install":
        lines = service_unit.install(args.root, enable=not args.no_enable)
    else:
        lines = service_unit.uninstall(args.root)
    for line in lines:
        print(line)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    cfg = _config(args)
    app = SigmaVault(cfg)
    logging.disable(logging.ERROR)  # a failed plugin is a finding, not a traceback
    try:
        app.plugins.load()
    finally:
        logging.disable(logging.NOTSET)
    sections: dict[str, type] = {}
    for _, func in app.plugins.impls("register_config"):
        func(register=sections.__setitem__)
    configuration.load_sections(cfg, sections)

    async def check() -> list[dict]:
        await app._per_plugin("register_tools", app._registry_kwargs("tools"))
        return await doctor.run_checks(app, serving=False)

    findings = asyncio.run(check())
    status = doctor.verdict(findings)
    if args.json:
        print(json.dumps({"status": status, "findings": findings}, indent=2))
    else:
        marks = {"ok": "ok  ", "warning": "WARN", "critical": "FAIL"}
        for f in findings:
            print(f"{marks[f['status']]}  {f['title']}" + (f"\n      {f['detail']}" if f["detail"] and
                                                        f["status"] != "ok" else "")
                  + (f"\n      disables: {f['disables']}" if f["disables"] else ""))
        print(f"\n{status}: {sum(f['status'] == 'critical' for f in findings)} critical, "
              f"{sum(f['status'] == 'warning' for f in findings)} warnings")
    return 1 if status == "critical" else 0


def cmd_plugins(args: argparse.Namespace) -> int:
    cfg = _config(args)
    pm = PluginManager(cfg.plugins.disabled, cfg.plugins.strict)
    pm.load()
    infos = [i.as_dict() for i in pm.list()]
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    width = max(len(i["name"]) for i in infos)
    for i in infos:
        line = f"{i['name']:<{width}}  {i['version']:<8} {i['status']:<8} {', '.join(i['hooks'])}"
        print(line + (f"\n{'':<{width}}  error: {i['error']}" if i["error"] else ""))
    return 1 if args.strict and any(i["status"] == "failed" for i in infos) else 0


def cmd_config_check(args: argparse.Namespace) -> int:
    cfg = _config(args)
    app = SigmaVault(cfg)
    app.plugins.load()
    sections: dict[str, type] = {}
    for _, func in app.plugins.impls("register_config"):
        func(register=sections.__setitem__)
    unknown = configuration.load_sections(cfg, sections)
    for name in unknown:
        print(f"warning: [{name}] is not declared by any loaded plugin", file=sys.stderr)
    print(f"configuration ok ({len(sections)} plugin sections, data dir {cfg.data_dir})")
    return 0


async def _with_app(args: argparse.Namespace, fn: Any) -> Any:
    app = await SigmaVault.create(_config(args))
    try:
        return fn(app)
    finally:
        app.db.close()


def _actor() -> str:
    """Who ran the command, for the audit log: ``cli:<os user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return f"cli:uid {os.getuid()}"


async def _audited(args: argparse.Namespace, action: str, target: str, fn: Any,
                   details: dict[str, Any], outcome_details: Any = lambda result: {}) -> Any:
    """``_with_app`` for a change: its outcome (success or refusal) goes to the audit log."""
    def run(app: SigmaVault) -> Any:
        try:
            result = fn(app)
        except APIError as exc:
            app.audit(action, target, f"error {exc.status}", {**details, "error": exc.code},
                      actor=_actor())
            raise
        app.audit(action, target, "ok", {**details, **outcome_details(result)}, actor=_actor())
        return result
    return await _with_app(args, run)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise APIError(400, "password_mismatch", "the two passwords differ")
    return first


def cmd_user(args: argparse.Namespace) -> int:
    if args.user_cmd == "list":
        users = asyncio.run(_with_app(args, lambda app: app.auth.list_users()))
        for u in users:
            print(f"{u['username']:<24} {u['role']:<9} created {u['created_at']}")
    elif args.user_cmd == "create":
        password = _password(args)
        asyncio.run(_audited(args, "auth.user.create", args.username,
                             lambda app: app.auth.create_user(args.username, password, args.role),
                             {"role": args.role}))
        print(f"created {args.role} user {args.username}")
    elif args.user_cmd == "passwd":
        password = _password(args)
        asyncio.run(_audited(args, "auth.user.passwd", args.username,
                             lambda app: app.auth.set_password(args.username, password), {}))
        print(f"password of {args.username} changed; their sessions were ended")
    return 0


def cmd_apikey(args: argparse.Namespace) -> int:
    secret, _ = asyncio.run(_audited(
        args, "auth.key.create", args.username,
        lambda app: app.auth.create_key(args.username, args.name, args.role, args.expires_days),
        {"name": args.name, "role": args.role, "expires_days": args.expires_days},
        lambda created: {"key_id": created[1]["id"]}))
    print(secret)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sigmavault", description="SigmaVault NAS management daemon")
    p.add_argument("--version", action="version", version=f"sigmavault {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the daemon (API, events and web UI)")
    _add_common(serve)
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 12080)")
    serve.add_argument("--tls-cert", type=Path)
    serve.add_argument("--tls-key", type=Path)
    serve.add_argument("--tls-self-signed", action="store_true",
                       help="generate and use a self-signed certificate in the data dir")
    serve.add_argument("--log-format", choices=["human", "json"])
    serve.set_defaults(func=cmd_serve)

    plugins = sub.add_parser("plugins", help="list plugins: name, version, status, hooks")
    _add_common(plugins)
    plugins.add_argument("--json", action="store_true")
    plugins.add_argument("--strict", action="store_true", help="exit 1 if a plugin failed")
    plugins.set_defaults(func=cmd_plugins)

    cfg = sub.add_parser("config", help="configuration tools")
    cfg_sub = cfg.add_subparsers(dest="config_cmd", required=True)
    check = cfg_sub.add_parser("check", help="validate the configuration and exit")
    _add_common(check)
    check.set_defaults(func=cmd_config_check)

    user = sub.add_parser("user", help="manage local users")
    user_sub = user.add_subparsers(dest="user_cmd", required=True)
    for name, helptext in (("list", "list users"), ("create", "create a user"),
                           ("passwd", "set a user's password")):
        up = user_sub.add_parser(name, help=helptext)
        _add_common(up)
        if name != "list":
            up.add_argument("username")
            up.add_argument("--password-stdin", action="store_true")
        if name == "create":
            up.add_argument("--role", choices=["admin", "readonly"], default="readonly")
    user.set_defaults(func=cmd_user)

    key = sub.add_parser("apikey", help="create an API key and print its secret")
    _add_common(key)
    key.add_argument("username")
    key.add_argument("--name", default="cli")
    key.add_argument("--role", choices=["admin", "readonly"])
    key.add_argument("--expires-days", type=int)
    key.set_defaults(func=cmd_apikey)

    backup_p = sub.add_parser("backup", help="configuration backup: create or restore an "
                              "age-encrypted archive")
    backup_sub = backup_p.add_subparsers(dest="backup_cmd", required=True)
    create = backup_sub.add_parser("create", help="write a backup of the database, config, TLS "
                                   "certificate, secrets and keystores (not pool data)")
    restore = backup_sub.add_parser("restore", help="restore a backup into the data dir (stop "
                                    "the daemon first)")
    for bp in (create, restore):
        _add_common(bp)
        bp.add_argument("--passphrase-stdin", action="store_true",
                        help="read the passphrase from the first line of standard input")
        bp.add_argument("--passphrase-file", type=Path, help="read the passphrase from a file")
    create.add_argument("--output", "-o", help="archive path (default: sigmavault-HOST-TIME"
                        ".tar.gz.age here; - for standard output)")
    create.add_argument("--recipient", "-r", action="append",
                        help="encrypt to this age recipient (age1…) instead of a passphrase")
    restore.add_argument("archive", type=Path)
    restore.add_argument("--identity", "-i", type=Path,
                         help="age identity file (for an archive made with --recipient)")
    restore.add_argument("--force", action="store_true",
                         help="replace the database and secrets of a data dir already in use")
    backup_p.set_defaults(func=cmd_backup)

    service = sub.add_parser("service", help="install or remove the systemd service")
    service_sub = service.add_subparsers(dest="service_cmd", required=True)
    for name, helptext in (("install", "write the unit, /etc/sigmavault/config.toml and "
                            "/var/lib/sigmavault, then enable and start it"),
                           ("uninstall", "stop and remove the unit (config and data are kept)")):
        sp = service_sub.add_parser(name, help=helptext)
        sp.add_argument("--root", type=Path, default=Path("/"),
                        help="install under this directory instead of / (staging; no systemctl)")
        if name == "install":
            sp.add_argument("--no-enable", action="store_true",
                            help="do not enable and start it (systemctl daemon-reload only)")
    service.set_defaults(func=cmd_service)

    doc = sub.add_parser("doctor", help="check programs, permissions, port, clock and free "
                         "space; exit 1 when something critical fails")
    _add_common(doc)
    doc.add_argument("--json", action="store_true")
    doc.set_defaults(func=cmd_doctor)

    logging.disable(logging.ERROR)  # load problems are reported by the command that runs
    try:
        pm = PluginManager(configuration.load().plugins.disabled)
        pm.load()
        pm.pm.hook.register_commands(cli=sub)
    except (ConfigError, PluginLoadError):
        pass
    finally:
        logging.disable(logging.NOTSET)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # the daemon and the commands beside it create files in the data dir, which holds secrets:
    # private unless a caller chooses a mode (as pools and volumes do)
    os.umask(0o077)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"sigmavault: {exc}", file=sys.stderr)
        return 2
    except PluginLoadError as exc:
        print(f"sigmavault: {exc}", file=sys.stderr)
        return 3
    except APIError as exc:
        print(f"sigmavault: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    os._exit(main())
