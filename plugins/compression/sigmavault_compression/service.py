"""The compression service: the live codec registry, planning and running compression jobs."""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sigmavault.errors import APIError, bad_request, conflict
from sigmavault.jobs import Job, JobContext

from . import engine, stats
from .codecs import Codec, CodecError, CodecRegistry, CorruptArchive, UnsupportedArchive
from .config import settings
from .models import JobRequest
from .paths import allowed_roots, contained, default_target

log = logging.getLogger("sigmavault.compression")

JOB_KIND = "compression"
_services: "weakref.WeakKeyDictionary[Any, CompressionService]" = weakref.WeakKeyDictionary()


def service(app: Any) -> "CompressionService":
    """The one service of ``app`` (created on first use)."""
    found = _services.get(app)
    if found is None:
        found = _services[app] = CompressionService(app)
    return found


@dataclass
class Plan:
    """A validated job request: resolved paths and codecs."""

    operation: str
    source: Path
    target: Path | None
    codec: Codec  # the codec written (compress/recompress) or read (decompress/verify)
    old: Codec | None = None  # recompress: the source's codec
    level: int | None = None
    threads: int = 0
    extract: bool | None = None
    verify: bool = False
    replace_source: bool = False
    keep_smaller: bool = False
    overwrite: bool = False

    def params(self) -> dict[str, Any]:
        return {"operation": self.operation, "source": str(self.source),
                "target": str(self.target) if self.target else None, "codec": self.codec.name,
                "source_codec": self.old.name if self.old else None, "level": self.level,
                "threads": self.threads, "extract": self.extract, "verify": self.verify,
                "replace_source": self.replace_source, "keep_smaller": self.keep_smaller,
                "overwrite": self.overwrite}


class CompressionService:
    def __init__(self, app: Any):
        self.app = app
        self._registry: CodecRegistry | None = None
        self._registry_key: tuple = ()
        self.invalid_codecs: dict[str, str] = {}
        self._slots: asyncio.Semaphore | None = None

    # --- codecs ----------------------------------------------------------------------------------

    @property
    def registry(self) -> CodecRegistry:
        """Every valid codec of ``app.registries["codecs"]`` (rebuilt when that changes)."""
        items = dict(self.app.registries.get("codecs", {}))
        key = tuple((name, id(obj)) for name, obj in sorted(items.items()))
        if self._registry is None or key != self._registry_key:
            registry = CodecRegistry()
            self.invalid_codecs = {}
            for name, obj in sorted(items.items()):
                try:
                    registry.add(obj)
                except CodecError as exc:
                    self.invalid_codecs[name] = str(exc)
                    log.warning("codec %s ignored: %s", name, exc)
            self._registry, self._registry_key = registry, key
        return self._registry

    def codec(self, name: str | None) -> Codec:
        name = name or settings(self.app).default_codec
        try:
            return self.registry.get(name)
        except KeyError:
            raise APIError(400, "unknown_codec", f"unknown codec {name!r}; available: "
                           f"{', '.join(self.registry.names()) or 'none'}",
                           {"codec": name, "available": self.registry.names()}) from None

    def detect(self, source: Path, name: str | None) -> Codec:
        if name is not None:
            self.codec(name)
        try:
            return engine.detect_codec(self.registry, source, name)
        except CorruptArchive as exc:
            raise APIError(400, "not_an_archive", str(exc), {"source": str(source)}) from None

    # --- planning --------------------------------------------------------------------------------

    async def roots(self) -> list[Path]:
        return await allowed_roots(self.app)

    async def plan(self, req: JobRequest) -> Plan:
        """Validate ``req`` completely (4xx on any problem) before a job is started."""
        roots = await self.roots()
        source = contained(req.source, roots, "source")
        if not source.exists():
            raise APIError(404, "not_found", f"source {req.source!r} does not exist",
                           {"kind": "path", "name": req.source})
        target = contained(req.target, roots, "target") if req.target else None
        op = req.operation
        if op != "compress" and not source.is_file():
            raise bad_request(f"source {req.source!r} is not a regular file", "not_a_file")
        if op == "compress" and not (source.is_file() or source.is_dir()):
            raise bad_request(f"source {req.source!r} is neither a file nor a folder", "not_a_file")

        if op == "compress":
            codec = self.codec(req.codec)
            target = target or default_target(engine.default_compress_target(source, codec),
                                              source, roots)
            plan = Plan(op, source, target, codec, verify=req.verify, overwrite=req.overwrite)
            if source.is_dir() and (plan.target == source or source in plan.target.parents):
                raise bad_request("the target must not lie inside the folder being compressed",
                                  "target_inside_source")
        elif op == "decompress":
            codec = self.detect(source, req.codec)
            extract = req.extract
            try:
                is_tar = engine.looks_like_tar(
                    await asyncio.to_thread(engine.peek_payload, source, codec))
            except CorruptArchive:
                is_tar = False  # the job itself fails with the decoder's message
            if extract and not is_tar:
                raise bad_request(f"{source.name} does not contain a tar archive", "not_a_tar")
            extract = is_tar if extract is None else extract
            if target is None:
                target = default_target(source.parent if extract else source.with_name(
                    engine.strip_codec_suffix(source, codec)), source, roots)
            plan = Plan(op, source, target, codec, extract=extract, overwrite=req.overwrite)
            if extract and target.exists() and not target.is_dir():
                raise conflict(f"target {target} exists and is not a folder", "target_exists")
        elif op == "recompress":
            old = self.detect(source, None)
            codec = self.codec(req.codec)
            target = target or default_target(
                engine.default_recompress_target(source, old, codec), source, roots)
            plan = Plan(op, source, target, codec, old=old, replace_source=req.replace_source,
                        keep_smaller=req.keep_smaller, overwrite=req.overwrite or target == source)
        else:
            plan = Plan(op, source, None, self.detect(source, req.codec))

        if op in ("compress", "recompress"):
            try:
                plan.level = codec.levels.check(req.level)
            except ValueError as exc:
                raise bad_request(f"{codec.name}: {exc}", "invalid_level",
                                  levels={"min": codec.levels.min, "max": codec.levels.max,
                                          "default": codec.levels.default}) from None
            plan.threads = engine.effective_threads(codec, req.threads)
        if plan.target == source and op in ("compress", "decompress"):
            raise bad_request("the target must differ from the source (use recompress to replace "
                              "an archive in place)", "target_is_source")
        if plan.target is not None and not (op == "decompress" and plan.extract):
            if plan.target.exists() and plan.target.is_dir():
                raise conflict(f"target {plan.target} is a folder", "target_exists")
            if plan.target.exists() and not plan.overwrite:
                raise conflict(f"target {plan.target} already exists (set overwrite to replace it)",
                               "target_exists", target=str(plan.target))
            if not plan.target.parent.is_dir():
                raise bad_request(f"folder {plan.target.parent} does not exist", "no_such_folder")
        return plan

    # --- running ---------------------------------------------------------------------------------

    def submit(self, plan: Plan, created_by: str | None = None) -> Job:
        what = plan.target or plan.source
        return self.app.jobs.submit(
            f"{JOB_KIND}.{plan.operation}", lambda ctx: self.run(ctx, plan), params=plan.params(),
            lock=f"compression:{what}",
            description=f"{plan.operation} {plan.source.name} ({plan.codec.name})",
            created_by=created_by)

    def slots(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(settings(self.app).max_concurrent_jobs)
        return self._slots

    async def run(self, ctx: JobContext, plan: Plan) -> dict[str, Any]:
        """The job body: run the engine in a thread, publish progress, record statistics."""
        slots = self.slots()
        if slots.locked():
            ctx.progress(description="waiting for a free compression slot")
        async with slots:
            ctx.progress(percent=0, description=f"{plan.operation} {plan.source.name}")
            emit = self.emitter(ctx.job_id, plan.operation, plan.codec.name, str(plan.source), ctx)
            try:
                outcome = await ctx.to_thread(self.execute, plan, emit, ctx.check)
            except UnsupportedArchive as exc:
                raise APIError(422, "unsupported_archive", str(exc)) from None
            except CorruptArchive as exc:
                raise APIError(422, "corrupt_archive", str(exc)) from None
            except FileExistsError as exc:
                raise APIError(409, "target_exists", str(exc)) from None
        result = outcome.to_dict()
        result.pop("extra", None)
        stats.record(self.app.db, result, ctx.job_id)
        ctx.log(f"{plan.operation} done: {result['uncompressed']} bytes, "
                f"ratio {result['ratio_text']}, {result['seconds']:.2f} s")
        return result

    def execute(self, plan: Plan, emit: Callable[[dict], None], check: Callable[[], None]
                ) -> engine.Outcome:
        """Run ``plan`` (blocking)."""
        interval = settings(self.app).progress_interval
        common = {"progress": emit, "check": check, "progress_interval": interval}
        if plan.operation == "compress":
            return engine.compress(plan.source, plan.target, plan.codec, plan.level, plan.threads,
                                   verify=plan.verify, overwrite=plan.overwrite, **common)
        if plan.operation == "decompress":
            return engine.decompress(plan.source, plan.target, plan.codec, extract=plan.extract,
                                     overwrite=plan.overwrite, **common)
        if plan.operation == "recompress":
            return engine.recompress(plan.source, plan.target, plan.old, plan.codec, plan.level,
                                     plan.threads, replace_source=plan.replace_source,
                                     keep_smaller=plan.keep_smaller, overwrite=plan.overwrite,
                                     **common)
        return engine.verify(plan.source, plan.codec, **common)

    def emitter(self, job_id: str, operation: str, codec: str, source: str,
                ctx: JobContext | None = None) -> Callable[[dict], None]:
        """A thread-safe progress callback publishing ``compression.progress`` events."""
        loop = asyncio.get_running_loop()

        def emit(snapshot: dict[str, Any]) -> None:
            data = {"job_id": job_id, "operation": operation, "codec": codec, "source": source,
                    **snapshot}
            if ctx is not None and snapshot.get("percent") is not None:
                ctx.progress(percent=snapshot["percent"], bytes_done=snapshot["bytes_in"],
                             bytes_total=snapshot.get("bytes_total"))
            loop.call_soon_threadsafe(self._publish, data)

        return emit

    def _publish(self, data: dict[str, Any]) -> None:
        try:
            self.app.events.publish("compression.progress", data)
        except Exception:
            log.exception("could not publish compression.progress")
