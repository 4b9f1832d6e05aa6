"""Every hook specification of SigmaVault, in one place.

A plugin implements any of these with ``from sigmavault import hookimpl``. Hooks may be
``async def``: the core awaits coroutine results (see ``sigmavault.plugins.PluginManager.acall``).
Registry hooks follow the register-callback style: the core passes a ``register`` callable and the
plugin calls it once per item it contributes. Every hook here has a docstring and a section in
``docs/hooks.md``; ``tests/test_hooks_documented.py`` fails when one is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

hookspec = pluggy.HookspecMarker("sigmavault")


@dataclass
class Agent:
    """What ``register_agents`` registers: one named worker of the swarm.

    ``run(ctx, params)`` does the real work inside a job: ``ctx`` is a
    :class:`sigmavault.jobs.JobContext`, ``params`` an instance of ``params_model``. Its return
    value (JSON-able) is the task result; raising fails the task with that message.
    """

    name: str
    tier: str  # core | security | storage | support
    specialty: str
    params_model: type
    run: Callable[[Any, Any], Awaitable[Any]]
    concurrency: int = 1
    timeout: float | None = 3600.0
    retries: int = 0
    description: str = ""
    lock: Callable[[Any], str | None] | None = None  # params -> job lock name
    tags: list[str] = field(default_factory=list)
    # checks params against the running app before anything is queued (raise APIError for a 4xx)
    preflight: Callable[[Any, Any], Awaitable[None]] | None = None


@dataclass(frozen=True)
class ShareAccount:
    """A NAS user as share protocols see it (``sigmavault-shares`` holds the accounts)."""

    name: str
    uid: int
    enabled: bool = True
    full_name: str = ""
    groups: tuple[str, ...] = ()  # every group the user is in (its own list and group members)


@dataclass(frozen=True)
class ShareSnapshot:
    """One snapshot of a share's volume: ``path`` is the snapshot's copy of the volume root."""

    name: str
    created: str  # ISO 8601 with a time zone, from the storage backend
    path: str


@dataclass(frozen=True)
class ResolvedShare:
    """A share resolved for protocols: where it is and who gets what, decided once by
    ``sigmavault-shares`` (the access list resolved like the folder's POSIX ACL).

    ``levels`` maps every NAS user to ``none``/``read``/``write`` (disabled accounts ``none``,
    read-only shares capped at ``read``); ``guest`` is what somebody without an account gets
    (``none`` unless ``guest_ok``). ``path`` is ``volume_path`` plus ``subfolder``;
    ``snapshots`` are the volume's snapshots (empty when the backend has none). ``options``
    holds this protocol's options, validated by its ``options_model`` (defaults filled in).
    """

    name: str
    path: str
    pool: str
    volume: str
    volume_path: str
    subfolder: str | None
    levels: dict[str, str]
    guest: str
    description: str = ""
    read_only: bool = False
    guest_ok: bool = False
    browseable: bool = True
    hosts_allow: tuple[str, ...] = ()
    hosts_deny: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    snapshots: tuple[ShareSnapshot, ...] = ()


@dataclass(frozen=True)
class AccessStep:
    """One step of a share protocol's access explanation (its ``explain``): a reason and what it
    does to the verdict. ``sigmavault-shares`` combines the steps with the access list's own
    chain (entry, group, disabled account, read-only share, folder ACL); the answer is the lowest
    of that chain's level and every ``cap``.

    ``acts_as`` (a NAS user), ``as_other`` (somebody with no NAS account: the ``everyone`` entry,
    the folder ACL's "other") and ``superuser`` (the access list and ACL do not apply) change whose
    rights the chain resolves, as a squash or a guest mapping does; the last such step counts.
    """

    reason: str
    cap: str | None = None  # "none" / "read" / "write": the most this step allows; None: none
    acts_as: str | None = None
    as_other: bool = False
    superuser: bool = False
    after: bool = False  # listed after the access list's reasons (a check made on its outcome)


@dataclass
class Tool:
    """What ``register_tools`` registers: an external program a plugin needs, for
    ``sigmavault doctor`` (present? which version? what is lost without it)."""

    name: str  # the program, looked up on PATH
    disables: str  # what does not work without it, in words
    version_argv: tuple[str, ...] = ()  # how it tells its version (empty: it does not)
    plugin: str = ""  # set by the core: the distribution that registered it


# --- lifecycle -----------------------------------------------------------------------------------


@hookspec
def startup(app: "SigmaVault") -> None:
    """Called once when the daemon starts, after config, database, registries and routes are ready.

    :param app: the running :class:`sigmavault.app.SigmaVault`; start background tasks here with
        ``app.spawn(coro)`` so that they are cancelled on shutdown.
    """


@hookspec
def shutdown(app: "SigmaVault") -> None:
    """Called once when the daemon stops, before the database is closed.

    :param app: the running :class:`sigmavault.app.SigmaVault`.
    """


# --- configuration and state ---------------------------------------------------------------------


@hookspec
def register_config(register: Callable[[str, type], None]) -> None:
    """Declare this plugin's configuration section.

    :param register: ``register(section, model)`` where ``section`` is the TOML table name (and
        the ``SIGMAVAULT_<SECTION>__<KEY>`` environment prefix) and ``model`` a pydantic model with
        defaults for every field. The validated instance is ``app.config.section(section)``.
    """


@hookspec
def register_migrations(register: Callable[[str, list[str]], None]) -> None:
    """Declare SQLite schema migrations for this plugin's tables.

    :param register: ``register(namespace, statements)``; ``statements`` is an ordered list of SQL
        scripts. Script *n* runs once, when the stored version of ``namespace`` is below *n*. Never
        edit a released script: append a new one.
    """


# --- HTTP ----------------------------------------------------------------------------------------


@hookspec
def register_routes(app: "SigmaVault") -> None:
    """Add REST routes under ``/api/v1``.

    :param app: declare routes with ``app.api.get/post/put/patch/delete(path, ...)`` used as a
        decorator; each route declares its request and response models (for validation and
        ``/api/v1/openapi.json``) and its role (``readonly`` for GET, ``admin`` otherwise, unless
        stated; ``public=True`` only for the few routes that must work signed-out).
    """


@hookspec
def register_ui_pages(register: Callable[..., None]) -> None:
    """Offer pages and dashboard widgets to the web UI.

    :param register: ``register(id, title, path, icon=None, section="main", kind="page")``; the UI
        reads them from ``GET /api/v1/ui/pages`` and shows those whose API is present. A
        ``kind="page"`` is a sidebar entry at ``path``; a ``kind="widget"`` is a dashboard card
        showing the answer of the GET endpoint ``path`` (relative to ``/api/v1``) and linking to
        the plugin's page. An unknown kind fails the plugin.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add sub-commands to the ``sigmavault`` CLI.

    :param cli: the ``argparse`` sub-parsers object; call ``cli.add_parser(name, help=...)`` and
        set ``func=callable(args) -> int`` with ``set_defaults``.
    """


# --- events and jobs -----------------------------------------------------------------------------


@hookspec
def register_events(register: Callable[..., None]) -> None:
    """Declare event types this plugin publishes on the event hub.

    :param register: ``register(name, model, description)``; ``name`` is dotted
        (``storage.event``), ``model`` a pydantic model of the ``data`` field. Publishing an
        undeclared type is an error; declared types are listed at ``GET /api/v1/events``.
    """


@hookspec
def event_published(app: "SigmaVault", event: dict) -> None:
    """Observe every event after it is published (for relays, alert rules, audit).

    :param app: the running app.
    :param event: the envelope ``{"type", "seq", "ts", "data"}``. Must return quickly; start a
        task with ``app.spawn`` for slow work.
    """


@hookspec
def job_interrupted(app: "SigmaVault", job: dict) -> None:
    """Clean up after a job the daemon was running when it died (called once, at start-up).

    :param app: the starting app.
    :param job: the job, already marked ABORTED with ``interrupted: true``; its ``params`` say
        which targets it was writing (``sigmavault.files.sweep_temporaries`` removes leftovers).
    """


@hookspec
def job_finished(app: "SigmaVault", job: dict) -> None:
    """Observe every job that reached SUCCESS, FAILED or ABORTED.

    :param app: the running app.
    :param job: the job as served by ``GET /api/v1/jobs/{id}``.
    """


# --- cross-plugin services -----------------------------------------------------------------------


@hookspec
def register_methods(register: Callable[..., None], app: "SigmaVault") -> None:
    """Offer named service methods that other plugins call without importing this plugin.

    Prefer declaring operations on a service (``register_services``); this hook is for a plain
    function with no service behind it.

    :param app: the app being built.
    :param register: ``register(name, func, description)``; ``name`` is dotted
        (``storage.snapshot.create``), ``func`` a (possibly async) callable taking keyword
        arguments. Callers use ``await app.call(name, **kwargs)``; ``app.has_method(name)`` tells
        whether the providing plugin is installed.
    """


@hookspec
def register_services(app: "SigmaVault", register: Callable[[Any], None]) -> None:
    """Register this plugin's services: the objects that hold its state and do its work.

    :param app: the app being built (config, database and registries are ready; the server is not
        started). Construct services here without I/O; do I/O in their ``async start()``.
    :param register: ``register(service)``. The core then reaches it by type as
        ``app.services[ServiceClass]`` (503 ``service_unavailable`` when absent), registers every
        method marked with :func:`sigmavault.operation` (the named method for ``app.call`` and
        its REST route, from one declaration), calls ``await service.start()`` at start-up
        (in registration order, before the ``startup`` hook) and ``await service.stop()`` at
        shutdown (in reverse order, after the ``shutdown`` hook), when it has them.
    """


# --- feature registries --------------------------------------------------------------------------


@hookspec
def register_storage_backends(register: Callable[[Any], None], app: "SigmaVault") -> None:
    """Contribute storage backends (``dir``, ``btrfs``, ``zfs`` …).

    :param register: ``register(backend)``; ``backend`` implements
        :class:`sigmavault.backends.StorageBackend` (a unique ``name``, ``capabilities`` and the
        methods of ``docs/plugins/storage-backends.md``), plus the optional capability protocols
        its ``capabilities`` claim.
    :param app: the app being built; this plugin's services are registered already
        (``app.services[...]``), so a backend a service owns can be registered here.
    """


@hookspec
def register_codecs(register: Callable[[Any], None], app: "SigmaVault") -> None:
    """Contribute compression codecs.

    :param register: ``register(codec)``; ``codec`` has ``name``, ``levels``, ``extension``,
        ``magic``, ``multithreaded`` and streaming ``compressor``/``decompressor`` factories as
        documented by the compression plugin.
    :param app: the app being built (its services are registered already).
    """


@hookspec
def register_agents(register: Callable[[Any], None], app: "SigmaVault") -> None:
    """Contribute agents to the swarm.

    :param register: ``register(agent)`` with a :class:`Agent` (name, tier, specialty,
        ``params_model`` pydantic model, concurrency, timeout, retries and an async
        ``run(ctx, params)`` handler that receives the job context).
    :param app: the app being built (its services are registered already).
    """


@hookspec
def register_network_drivers(register: Callable[[Any], None], app: "SigmaVault") -> None:
    """Contribute network (mesh) drivers, such as WireGuard kernel or userspace.

    :param register: ``register(driver)``; ``driver`` has ``name``, ``available()`` and the
        interface documented by the phantommesh plugin.
    :param app: the app being built (its services are registered already).
    """


@hookspec
def register_tools(register: Callable[[Any], None], app: "SigmaVault") -> None:
    """Name the external programs this plugin runs, so that ``sigmavault doctor`` and
    ``GET /api/v1/system/doctor`` report whether each is installed, its version, and what is lost
    without it.

    :param register: ``register(tool)`` with a :class:`Tool`; a program two plugins need is
        registered by the one that owns it (one entry per program).
    :param app: the app being built.
    """


@hookspec
def register_encryptors(register: Callable[[Any], None], app: "SigmaVault") -> None:
    """Contribute stream encryptors used by other plugins (backups, CONDUIT) through hooks.

    :param register: ``register(encryptor)``; ``encryptor`` has ``name`` and
        ``encrypt_file(src, dst, recipients)`` / ``decrypt_file(src, dst)`` coroutines.
    :param app: the app being built (its services are registered already).
    """


@hookspec
def register_share_protocols(register: Callable[[Any], None], app: "SigmaVault") -> None:
    """Contribute file-sharing protocols (SMB, NFS, WebDAV …) that serve ``sigmavault-shares``
    shares.

    :param register: ``register(protocol)``. A protocol object has:

        - ``name``: what a share lists in ``protocols`` (``"smb"``);
        - ``options_model``: a pydantic model of the per-share options (``options[name]`` of a
          share; validated on create/update, a bad value is a 422 naming
          ``options.<name>.<field>``), or ``None``;
        - ``async apply(shares: list[ResolvedShare], accounts: list[ShareAccount])``: serve
          exactly these shares (the enabled ones listing this protocol) to these accounts.
          Called at start-up and after every share or account change; must be idempotent, and
          must raise :class:`sigmavault.errors.APIError` without changing what is served when
          it refuses the configuration;
        - ``async check(shares, accounts)``: the same validation as ``apply`` without changing
          anything (called before a change is stored);
        - ``async set_password(user, password)``: store the protocol's own hash of a NAS user's
          new password (the plain password is never stored by SigmaVault);
        - ``async remove_user(user)``: forget a deleted user;
        - ``async status() -> dict``: at least ``running`` (bool);
        - optionally ``mode_bits(options) -> bool``: whether this protocol's server checks
          mode bits rather than POSIX ACLs for a share with these options (NFS-Ganesha); the
          shares plugin then applies the access list as owner, group and mode bits, or refuses
          one they cannot express with 409 ``<name>_per_user_access`` naming ``options.<name>``;
        - optionally ``async drift(shares, accounts) -> list[str]``: how what is served differs
          from what ``apply`` would serve, in words (``[]``: nothing); BRIDGE, the share health
          agent, reports it and repairs it with ``apply``.
        - optionally ``async explain(share: ResolvedShare, user: ShareAccount | None,
          client: str | None) -> list[AccessStep]``: what this protocol adds to the explainer
          (``GET /shares/{share}/access?user=&protocol=&address=``) for ``user`` (``None``: no
          user named; the protocol says what that means, a guest for SMB, root for NFS)
          connecting from the IP address ``client`` (``None``: not given): client rules, squash,
          guest mapping, refused logins … as :class:`AccessStep` s that may cap the level and
          change whose rights apply. Without it the access list's answer stands.
    :param app: the app being built (its services are registered already).
    """


@hookspec
def security_checks(app: "SigmaVault") -> list[dict]:
    """Report findings for the security audit (agent FORTRESS).

    :param app: the running app.
    :return: a list of ``{"id", "severity", "title", "detail"}`` findings about this plugin's
        own state (for example key file modes). Return an empty list when all is well.
    """


@hookspec
def backup_paths(app: "SigmaVault") -> list[Any]:
    """Name the files a configuration backup must hold beside the database.

    ``sigmavault backup create`` and ``POST /api/v1/system/backup`` copy the database (every
    plugin's tables are in it already), the config file, the TLS certificate and the core's secret
    files; a plugin whose state lives in files adds them here (an encryption keystore, a password
    database of a protocol server …). Never bulk data: pools and volumes are not configuration.

    :param app: the app (built; it may not be started, e.g. when the CLI makes the backup).
    :return: paths (``str`` or ``Path``) of files or directories (taken whole). A path inside the
        data dir is restored relative to the data dir of the install it is restored into; one
        outside it is restored to the same absolute path. Missing paths are skipped.
    """


@hookspec
def doctor_checks(app: "SigmaVault") -> list[dict]:
    """Contribute findings to ``sigmavault doctor`` and ``GET /api/v1/system/doctor``.

    The core checks the data dir, the port, the clock, free space and the external programs of
    the installed plugins; a plugin adds what only it can tell (a daemon it needs is reachable,
    a kernel module is loaded …).

    :param app: the app. Through the API it is the running daemon; from ``sigmavault doctor`` it
        is not built (plugins loaded and configured, no database, no services started): use
        ``app.config`` and ``app.data_dir`` only, or check ``app.services.get(...)`` for ``None``.
    :return: a list of findings shaped like :func:`security_checks`' plus a status:
        ``{"id", "status", "title", "detail"}`` with ``status`` one of ``ok``, ``warning``
        (something is disabled or degraded) or ``critical`` (the daemon cannot work as
        configured: the CLI exits non-zero), and optionally ``"disables"``: what does not work
        until it is fixed, in words.
    """


@hookspec
def disk_roles(app: "SigmaVault") -> dict[str, dict]:
    """Say which disks of this host a plugin uses outside of storage pools, for the disk
    inventory (``GET /api/v1/storage/disks``) and the check that a disk is free before a pool or
    an OSD takes it. Pool members need no hook: the storage plugin asks each pool's backend
    (``pool_devices``).

    :param app: the running app.
    :return: ``{device path: role}``; the path is resolved (symlinks such as
        ``/dev/disk/by-id/…`` are fine) and may name a whole disk or a partition. ``role`` is a
        JSON-able dict with at least ``"kind"`` (for example ``"ceph_osd"``) and what names the
        owner, e.g. ``{"kind": "ceph_osd", "backend": "ceph", "cluster": fsid, "osd": 3}``. The
        inventory shows it as the disk's ``in_use_by``. A plugin that cannot tell right now (a
        cluster does not answer) leaves those disks out rather than failing the listing.
    """
