"""Protocol-neutral shares (``/shares``): stored, applied to their folder as POSIX ACLs, resolved
and handed to every share protocol (``register_share_protocols``), explained per user.

A share served by a protocol whose server checks mode bits, not the ACL (one with a
``mode_bits(options)`` method: NFS) gets its list as mode bits when they can express it (owner,
group and everything under the folder changed: :func:`.acl.apply_mode_shape`); a list they
cannot express is refused with 409 ``<protocol>_per_user_access`` naming ``options.<protocol>``
when that protocol says so, else keeps the ACL shape."""

from __future__ import annotations

import logging
import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sigmavault import operation
from sigmavault.api import validation_error
from sigmavault.app import SigmaVault
from sigmavault.errors import APIError
from sigmavault.hookspecs import AccessStep, ResolvedShare, ShareSnapshot
from sigmavault.validation import inside

from .acl import EXPRESSIBLE, MODE_BITS_SERVER, NoPosixAcls, apply_share_acl, mode_plan, \
    read_acl, refusal
from .config import SharesConfig
from .explain import combine, explain, explain_other, guest_level, resolve_levels, whose
from .models import (ShareName, AccessOut, AccessQuery, Group, Share,
                     ShareCreate, ShareOut, ShareUpdate, User)

from .accounts import AccountService
from .store import Store, _now, field_error, protocols, publish

log = logging.getLogger("sigmavault.shares")
Volumes = dict[tuple[str, str], tuple[Path, tuple[ShareSnapshot, ...]]]


def _gmt_ok(created: str) -> bool:
    try:
        datetime.fromisoformat(created.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def grant_traverse(folder: Path, stop: Path | None = None) -> list[str]:
    """Give "other" search (``x``, not read) permission on every ancestor of ``folder`` that
    lacks it, so the accounts the share's ACL admits can reach it; the folders changed."""
    changed = []
    for parent in folder.parents:
        if parent == Path("/") or (stop is not None and parent == stop):
            break
        try:
            mode = parent.stat().st_mode
        except FileNotFoundError:
            continue
        if not mode & stat.S_IXOTH:
            try:
                os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)
            except OSError as exc:  # a read-only snapshot file system
                log.warning("cannot let share users traverse %s: %s", parent, exc)
                continue
            changed.append(str(parent))
    return changed


class ShareService:
    """Protocol-neutral shares (``/shares``): stored, applied as ACLs, served by protocols."""

    # 404: the pool or volume named in a body; 409: a share of that name exists
    route_defaults = {"errors": (404, 409), "params": {"share": ShareName}}

    def __init__(self, app: SigmaVault, config: SharesConfig) -> None:
        self.app, self.config = app, config
        self.store = Store(app)

    @property
    def accounts(self) -> AccountService:
        return self.app.services[AccountService]

    # --- resolving ---------------------------------------------------------------------------------

    async def _volume_path(self, pool: str, volume: str) -> Path:
        try:
            return Path(await self.app.call("storage.volume.path", pool=pool, volume=volume))
        except APIError as exc:
            if exc.status == 404 or exc.status == 400:
                field = "pool" if "pool" in exc.message.split(" ")[0:2] else "volume"
                raise field_error(exc.status, exc.code, field, exc.message) from None
            raise

    async def folder(self, share: Share, vol: Path | None = None) -> tuple[Path, Path]:
        """(volume path, the share's folder), the subfolder checked to stay inside the
        volume (400 naming ``subfolder``); ``vol``: the volume's path, when known."""
        if vol is None:
            vol = await self._volume_path(share.pool, share.volume)
        if not share.subfolder:
            return vol, vol
        try:
            return vol, inside(vol, share.subfolder)
        except APIError as exc:
            raise field_error(exc.status, exc.code, "subfolder", exc.message) from None

    async def _snapshots(self, pool: str, volume: str) -> tuple[ShareSnapshot, ...]:
        if not self.app.has_method("storage.snapshot.list"):
            return ()
        try:
            rows = await self.app.call("storage.snapshot.list", pool=pool, volume=volume)
        except APIError:
            return ()  # a backend without snapshots
        out = []
        for r in rows:
            path = r.get("path") or await self.app.call("storage.snapshot.path", pool=pool,
                                                        volume=volume, snapshot=r["name"])
            if _gmt_ok(str(r.get("created", ""))):
                out.append(ShareSnapshot(name=r["name"], created=str(r["created"]), path=path))
        return tuple(out)

    def _options(self, share: ShareCreate, proto: Any) -> dict[str, Any]:
        model = getattr(proto, "options_model", None)
        raw = share.options.get(proto.name, {})
        return model.model_validate(raw).model_dump() if model is not None else dict(raw)

    async def resolve(self, share: ShareCreate, users: list[User], groups: list[Group],
                      proto: Any, volumes: Volumes | None = None) -> ResolvedShare:
        """``volumes``: (pool, volume) → its path and snapshots, filled and reused across the
        shares of one apply (many shares on one volume list its snapshots once)."""
        memo: Volumes = {} if volumes is None else volumes
        key = (share.pool, share.volume)
        if key not in memo:
            memo[key] = (await self._volume_path(share.pool, share.volume),
                         await self._snapshots(share.pool, share.volume))
        vol, snapshots = memo[key]
        vol, folder = await self.folder(share, vol)
        return ResolvedShare(
            name=share.name, path=str(folder), pool=share.pool, volume=share.volume,
            volume_path=str(vol), subfolder=share.subfolder,
            levels=dict(resolve_levels(share, users, groups)), guest=guest_level(share),
            description=share.description, read_only=share.read_only, guest_ok=share.guest_ok,
            browseable=share.browseable, hosts_allow=tuple(share.hosts_allow),
            hosts_deny=tuple(share.hosts_deny), options=self._options(share, proto),
            snapshots=snapshots)

    async def resolved(self, shares: list[ShareCreate], proto: Any, strict: str | None = None
                        ) -> list[ResolvedShare]:
        """The enabled shares listing ``proto``; a share that cannot be resolved (its volume is
        gone) is left out and logged, except ``strict`` (the share being changed) which raises."""
        users, groups = self.store.users(), self.store.groups()
        out = []
        volumes: Volumes = {}
        for s in shares:
            if not s.enabled or proto.name not in s.protocols:
                continue
            try:
                out.append(await self.resolve(s, users, groups, proto, volumes))
            except APIError:
                if strict is not None and s.name.lower() == strict.lower():
                    raise
                log.warning("share %s left out: its folder cannot be resolved", s.name)
        return out

    async def apply_protocols(self, shares: list[ShareCreate] | None = None) -> None:
        """Hand every protocol its resolved shares and the accounts."""
        shares = self.store.shares() if shares is None else shares
        accounts = self.accounts.accounts()
        for proto in protocols(self.app).values():
            resolved = await self.resolved(shares, proto)
            for r in resolved:   # the daemon's start tightens its data dir: pass through again
                grant_traverse(Path(r.path))
                for snap in r.snapshots:  # taken before the share existed, or a new backend dir
                    grant_traverse(Path(snap.path) / "x")
            await proto.apply(resolved, accounts)

    async def refresh(self) -> None:
        """Re-apply everything (snapshots changed, start-up); errors are logged."""
        async with self.accounts.lock:
            try:
                await self.apply_protocols()
            except Exception:
                log.exception("applying the shares to their protocols failed")

    def _mode_bits_protocols(self, share: ShareCreate) -> dict[str, bool]:
        """The share's protocols whose server checks mode bits, not the ACL (their optional
        ``mode_bits(options) -> bool``), each with whether it refuses a list mode bits cannot
        express (False: it serves the ACL's shape anyway)."""
        registered = protocols(self.app)
        out = {}
        for name in share.protocols:
            proto = registered.get(name)
            check = getattr(proto, "mode_bits", None)
            if check is not None:
                out[name] = bool(check(self._options(share, proto)))
        return out

    def _as_mode_bits(self, share: ShareCreate) -> bool:
        """Whether the folder gets the mode-plan shape: a protocol of the share checks mode bits
        and they can express the list."""
        if not self._mode_bits_protocols(share):
            return False
        try:
            mode_plan(share.access, why=MODE_BITS_SERVER)
        except NoPosixAcls:
            return False
        return True

    async def apply_folder(self, share: ShareCreate) -> Path:
        """Make the share's folder when missing, let its users reach it, apply its access list
        (as mode bits when a protocol of the share checks them and they can express it)."""
        _, folder = await self.folder(share)
        folder.mkdir(parents=True, exist_ok=True)
        grant_traverse(folder)
        await apply_share_acl(folder, share.access, mode_bits=self._as_mode_bits(share))
        return folder

    # --- checks ------------------------------------------------------------------------------------

    async def _check(self, share: ShareCreate, others: list[ShareCreate]) -> None:
        """Everything about ``share`` that can be checked without changing anything: 4xx naming
        the field."""
        clash = next((s for s in others if s.name.lower() == share.name.lower()), None)
        if clash is not None:
            raise field_error(409, "share_exists", "name", f"share {clash.name!r} exists already "
                              "(share names ignore case)")
        registered = protocols(self.app)
        unknown = [p for p in share.protocols if p not in registered]
        if unknown:
            raise field_error(422, "unknown_protocol", "protocols",
                              f"no share protocol {', '.join(unknown)} is installed (have: "
                              f"{', '.join(sorted(registered)) or 'none'})")
        for name, opts in share.options.items():
            if name not in registered:
                raise field_error(422, "unknown_protocol", f"options.{name}",
                                  f"no share protocol {name} is installed")
            model = getattr(registered[name], "options_model", None)
            if model is not None:
                try:
                    model.model_validate(opts)
                except ValidationError as exc:
                    raise validation_error(exc, f"options.{name}") from None
        users = {u.name for u in self.store.users()}
        groups = {g.name for g in self.store.groups()}
        for i, e in enumerate(share.access):
            if e.kind == "user" and e.name not in users or \
                    e.kind == "group" and e.name not in groups:
                raise field_error(422, f"unknown_{e.kind}", f"access.{i}.name",
                                  f"no NAS {e.kind} {e.name}")
        _, folder = await self.folder(share)
        data = self.app.data_dir.resolve()
        if folder == data or folder in data.parents:
            raise field_error(409, "share_in_data_dir", "volume", f"{folder} holds SigmaVault's "
                              f"private data directory {data}")
        why = refusal(folder, share.access)
        if why is not None:
            raise field_error(422, "needs_posix_acls", "access", why)
        for name, refuses in self._mode_bits_protocols(share).items():
            try:
                mode_plan(share.access, why=MODE_BITS_SERVER)
            except NoPosixAcls as exc:
                if refuses:
                    raise field_error(409, f"{name}_per_user_access", f"options.{name}",
                                      f"share {share.name} is served over {name}, and {exc}; "
                                      f"{EXPRESSIBLE}") from None
        everything = [*others, share]
        accounts = self.accounts.accounts()
        for proto in registered.values():
            check = getattr(proto, "check", None)
            if check is not None:
                await check(await self.resolved(everything, proto, strict=share.name), accounts)

    async def _commit(self, share: ShareCreate, replaced: str | None, kind: str) -> None:
        """Store ``share`` (replacing ``replaced``), apply its ACL and every protocol; put the
        old row back when a step fails."""
        old = self.app.db.one("SELECT * FROM shares WHERE name = ?", (replaced,)) \
            if replaced else None
        with self.app.db.transaction() as conn:
            if replaced:
                conn.execute("DELETE FROM shares WHERE name = ?", (replaced,))
            conn.execute("INSERT INTO shares (name, spec, created, updated) VALUES (?, ?, ?, ?)",
                         (share.name, share.model_dump_json(),
                          old["created"] if old else _now(), _now()))
        try:
            await self.apply_folder(share)
            await self.apply_protocols()
        except BaseException:
            with self.app.db.transaction() as conn:
                conn.execute("DELETE FROM shares WHERE name = ?", (share.name,))
                if old is not None:
                    conn.execute("INSERT INTO shares (name, spec, created, updated) "
                                 "VALUES (?, ?, ?, ?)", (old["name"], old["spec"],
                                                         old["created"], old["updated"]))
            try:
                await self.apply_protocols()
            except Exception:
                log.exception("re-applying the shares after a failed change failed")
            raise
        publish(self.app, kind=kind, share=share.name, message=f"share {share.name} {kind}")

    async def _out(self, share: ShareCreate) -> ShareOut:
        try:
            _, folder = await self.folder(share)
            path: str | None = str(folder)
        except APIError:
            path = None
        return ShareOut(**share.model_dump(), path=path)

    # --- operations --------------------------------------------------------------------------------

    @operation("shares.list", get="/shares", response=list[ShareOut], summary="Shares")
    async def list_shares(self) -> list[ShareOut]:
        return [await self._out(s) for s in self.store.shares()]

    @operation("shares.get", get="/shares/{share}", response=ShareOut, summary="One share")
    async def get_share(self, share: str) -> ShareOut:
        return await self._out(self.store.share(share))

    @operation("shares.create", post="/shares", body=ShareCreate, response=ShareOut, status=201,
               summary="Create a share: folder (made when missing), ACL, protocols")
    async def create_share(self, body: ShareCreate) -> ShareOut:
        async with self.accounts.lock:
            await self._check(body, self.store.shares())
            await self._commit(body, None, "created")
        return await self.get_share(body.name)

    @operation("shares.update", patch="/shares/{share}", body=ShareUpdate, response=ShareOut,
               summary="Change a share; the ACL and every protocol follow")
    async def update_share(self, share: str, body: ShareUpdate) -> ShareOut:
        async with self.accounts.lock:
            current = self.store.share(share)
            merged = current.model_dump()
            merged.update(body.model_dump(exclude_unset=True))
            try:
                updated = ShareCreate.model_validate(merged)
            except ValidationError as exc:
                raise validation_error(exc, "body") from None
            others = [s for s in self.store.shares() if s.name.lower() != share.lower()]
            await self._check(updated, others)
            await self._commit(updated, current.name, "changed")
        return await self.get_share(share)

    @operation("shares.delete", delete="/shares/{share}", status=204,
               summary="Delete a share (its folder and files stay)")
    async def delete_share(self, share: str) -> None:
        async with self.accounts.lock:
            current = self.store.share(share)
            row = self.app.db.one("SELECT * FROM shares WHERE name = ?", (share,))
            self.app.db.execute("DELETE FROM shares WHERE name = ?", (share,))
            try:
                await self.apply_protocols()
            except BaseException:
                assert row is not None
                self.app.db.execute("INSERT INTO shares (name, spec, created, updated) "
                                    "VALUES (?, ?, ?, ?)", tuple(row.values()))
                raise
        publish(self.app, kind="deleted", share=current.name,
                message=f"share {current.name} deleted")

    @operation("shares.access", get="/shares/{share}/access", query=AccessQuery,
               response=AccessOut, summary="Why a user (or a guest) can or cannot read or write "
               "a share: the access list, the folder's ACL and, given a protocol, its own rules "
               "(NFS client rules and squash, SMB hosts, guest and encryption)",
               errors=(404, 422))
    async def access(self, share: str, user: str | None = None, protocol: str | None = None,
                     address: str | None = None) -> AccessOut:
        s = self.store.share(share)
        who = self.store.user(user) if user is not None else None
        _, folder = await self.folder(s)
        acl = await read_acl(folder) if folder.exists() else None
        steps = await self._protocol_steps(s, who, protocol, address)
        subject = whose(steps)
        acting = subject.acts_as if subject is not None and subject.acts_as else None
        if subject is not None and subject.superuser:
            chain = None
        elif subject is not None and subject.as_other:
            chain = explain_other(s, acl)
        elif acting is not None:
            chain = explain(s, self.store.user(acting), self.store.groups(), acl)
            chain["reasons"] = [f"{acting}: {why}" for why in chain["reasons"]]
        else:
            chain = explain(s, who, self.store.groups(), acl)
        verdict = combine(steps, chain)
        if acl is None:
            verdict["reasons"].append(f"folder {folder} does not exist")
            verdict["access"] = "none"
        entries = [f"{e.tag}:{e.qualifier or ''}:{e.perms}" for e in acl.access] if acl else []
        return AccessOut(access=verdict["access"], reasons=verdict["reasons"], user=user,
                         protocol=protocol, address=address, acts_as=acting, path=str(folder),
                         acl=entries)

    async def _protocol_steps(self, share: ShareCreate, user: User | None, protocol: str | None,
                              address: str | None) -> list[AccessStep]:
        """What ``protocol`` adds to the explanation (nothing when it has no ``explain``)."""
        if protocol is None:
            if address is not None:
                raise field_error(422, "protocol_required", "protocol", "a client address is "
                                  "explained by a protocol's rules: name the protocol")
            return []
        registered = protocols(self.app)
        proto = registered.get(protocol)
        if proto is None:
            raise field_error(422, "unknown_protocol", "protocol",
                              f"no share protocol {protocol} is installed (have: "
                              f"{', '.join(sorted(registered)) or 'none'})")
        if protocol not in share.protocols:
            return [AccessStep(f"share {share.name} is not served over {protocol} (its "
                               f"protocols: {', '.join(share.protocols) or 'none'})", cap="none")]
        explain_protocol = getattr(proto, "explain", None)
        if explain_protocol is None:
            return []
        resolved = await self.resolve(share, self.store.users(), self.store.groups(), proto)
        account = next((a for a in self.accounts.accounts() if user and a.name == user.name),
                       None)
        return list(await explain_protocol(resolved, account, address))
