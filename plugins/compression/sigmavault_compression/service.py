"""The compression service: the live codec registry, planning and running compression jobs, and
the ``/compression`` operations (REST routes and named methods)."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sigmavault import operation
from sigmavault.api import Page
from sigmavault.errors import APIError, bad_request, conflict
from sigmavault.jobs import FINISHED, Job, JobContext

from . import engine, stats
from .codecs import Codec, CodecError, CodecRegistry, CorruptArchive, UnsupportedArchive
from .config import CompressionConfig
from .models import CodecInfo, Deleted, JobRequest, JobsQuery, Stats
from .paths import Resolved, default_target, resolve_given, storage_paths
from .progress import CheckFn, ProgressFn, publish_events, reporter
from .storage_ratios import storage_ratios

if TYPE_CHECKING:  # pragma: no cover
    from sigmavault.app import SigmaVault

log = logging.getLogger("sigmavault.compression")

JOB_KIND = "compression"
JOBS = "/compression/jobs"
TAGS = ["compression"]


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
    where: Resolved | None = None  # the source as given (and its volume/root)
    target_given: Any = None  # the target as given; None: the default (or no target)

    def params(self) -> dict[str, Any]:
        """The job's parameters: ``source``/``target`` as given (a path or a location; a default
        target in the source's form), ``source_path``/``target_path`` resolved."""
        source: Any = self.where.report() if self.where else str(self.source)
        target: Any = self.target_given
        if target is None and self.target is not None:
            target = self.where.sibling(self.target) if self.where else str(self.target)
        return {"operation": self.operation, "source": source, "target": target,
                "source_path": str(self.source),
                "target_path": str(self.target) if self.target else None,
                "codec": self.codec.name,
                "source_codec": self.old.name if self.old else None, "level": self.level,
                "threads": self.threads, "extract": self.extract, "verify": self.verify,
                "replace_source": self.replace_source, "keep_smaller": self.keep_smaller,
                "overwrite": self.overwrite}


class CompressionService:
    """Codecs, compression jobs and their statistics; reach it as
    ``app.services[CompressionService]``."""

    # 404: a pool, volume or file a job names; 409: a target that exists
    route_defaults = {"errors": (404, 409)}

    def __init__(self, app: "SigmaVault", config: CompressionConfig) -> None:
        self.app = app
        self.config = config
        self._registry: CodecRegistry | None = None
        self._registry_key: tuple[tuple[str, int], ...] = ()
        self.invalid_codecs: dict[str, str] = {}
        self._slots = asyncio.Semaphore(config.max_concurrent_jobs)

    async def start(self) -> None:
        """Validate the registered codecs now, so bad third-party ones are logged at start."""
        self.registry

    # --- operations ------------------------------------------------------------------------------

    @operation("compression.codecs.list", get="/compression/codecs", response=list[CodecInfo],
               tags=TAGS)
    async def list_codecs(self) -> list[CodecInfo]:
        """Registered codecs with their levels, extension and magic bytes."""
        return [CodecInfo(name=c.name, description=c.description, extension=c.extension,
                          magic=c.magic.hex(), multithreaded=c.multithreaded,
                          levels={"min": c.levels.min, "max": c.levels.max,
                                  "default": c.levels.default},
                          plugin=getattr(self.app.registries["codecs"].get(c.name), "plugin", None))
                for c in self.registry]

    @operation("compression.stats.get", get="/compression/stats", response=Stats, tags=TAGS)
    async def get_stats(self) -> dict[str, Any]:
        """Totals per codec (jobs, bytes, ratio, throughput) and on-disk ratios of pools/volumes."""
        available, ratios = await storage_ratios(self.app)
        return {**stats.totals(self.app.db), "storage_available": available, "storage": ratios,
                "available_codecs": self.registry.names()}

    @operation("compression.jobs.list", get=JOBS, query=JobsQuery, response=Page[Job], tags=TAGS)
    async def list_jobs(self, query: JobsQuery) -> Page[Job]:
        """Compression jobs, newest first."""
        items, total = self.app.jobs.list(state=query.state, kind=JOB_KIND, limit=query.limit,
                                          offset=query.offset)
        return Page[Job](items=items, total=total, limit=query.limit, offset=query.offset)

    @operation("compression.job.create", post=JOBS, body=JobRequest, job=True, tags=TAGS)
    async def create_job(self, body: JobRequest) -> Job:
        """Start a compress, decompress/extract, recompress or verify job."""
        return self.submit(await self.plan(body))

    @operation("compression.job.get", get=JOBS + "/{id}", response=Job, tags=TAGS)
    async def get_job(self, id: str) -> Job:
        """One compression job with its progress and result."""
        job = self.app.jobs.get(id)
        if not job.kind.startswith(JOB_KIND + "."):
            raise APIError(404, "not_found", f"compression job {id!r} does not exist",
                           {"kind": "compression job", "name": id})
        return job

    @operation("compression.job.delete", delete=JOBS + "/{id}", response=Deleted, tags=TAGS)
    async def delete_job(self, id: str) -> dict[str, Any]:
        """Cancel a waiting or running job; remove a finished one from the history."""
        job = await self.get_job(id)
        if job.state in FINISHED:
            self.app.jobs.delete(id)
            return {"id": id, "action": "deleted", "state": job.state.value}
        self.app.jobs.cancel(id)
        job = await self.app.jobs.wait(id, timeout=10)
        return {"id": id, "action": "cancelled", "state": job.state.value}

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
        """The codec called ``name`` (default: the configured one); 400 for an unknown name."""
        name = name or self.config.default_codec
        try:
            return self.registry.get(name)
        except KeyError:
            raise APIError(400, "unknown_codec", f"unknown codec {name!r}; available: "
                           f"{', '.join(self.registry.names()) or 'none'}",
                           {"codec": name, "available": self.registry.names()}) from None

    def detect(self, source: Path, name: str | None) -> Codec:
        """The codec of the archive ``source`` (checked against ``name`` when given)."""
        if name is not None:
            self.codec(name)
        try:
            return engine.detect_codec(self.registry, source, name)
        except CorruptArchive as exc:
            raise APIError(400, "not_an_archive", str(exc), {"source": str(source)}) from None

    # --- planning --------------------------------------------------------------------------------

    async def roots(self) -> list[Path]:
        """Where jobs and agents may work: the configured roots (default ``<data_dir>/pools``)
        plus the storage plugin's mountpoints, resolved."""
        configured = self.config.allowed_roots
        roots = list(configured) if configured is not None else [Path(self.app.data_dir) / "pools"]
        roots += await storage_paths(self.app)
        unique: list[Path] = []
        for root in roots:
            resolved = Path(os.path.realpath(root))
            if resolved not in unique:
                unique.append(resolved)
        return unique

    async def plan(self, req: JobRequest) -> Plan:
        """Validate ``req`` completely (4xx on any problem) before a job is started."""
        roots = await self.roots()
        where = await resolve_given(self.app, req.source, roots, "source", must_exist=True)
        source = where.path
        given = req.target or None
        target = (await resolve_given(self.app, given, roots, "target")).path if given else None
        op = req.operation
        label = req.source if isinstance(req.source, str) else req.source.label()
        if op != "compress" and not source.is_file():
            raise bad_request(f"source {label!r} is not a regular file", "not_a_file",
                              field="source")
        if op == "compress" and not (source.is_file() or source.is_dir()):
            raise bad_request(f"source {label!r} is neither a file nor a folder", "not_a_file",
                              field="source")

        if op == "compress":
            codec = self.codec(req.codec)
            target = target or default_target(engine.default_compress_target(source, codec),
                                              where)
            plan = Plan(op, source, target, codec, verify=req.verify, overwrite=req.overwrite)
            if source.is_dir() and (target == source or source in target.parents):
                raise bad_request("the target must not lie inside the folder being compressed",
                                  "target_inside_source", field="target")
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
                    engine.strip_codec_suffix(source, codec)), where)
            plan = Plan(op, source, target, codec, extract=extract, overwrite=req.overwrite)
            if extract and target.exists() and not target.is_dir():
                raise conflict(f"target {target} exists and is not a folder", "target_exists")
        elif op == "recompress":
            old = self.detect(source, None)
            codec = self.codec(req.codec)
            target = target or default_target(
                engine.default_recompress_target(source, old, codec), where)
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
        plan.where = where
        if given is not None and plan.target is not None:
            plan.target_given = given if isinstance(given, str) else given.model_dump(
                exclude_unset=True)
        return plan

    # --- running ---------------------------------------------------------------------------------

    def submit(self, plan: Plan, created_by: str | None = None) -> Job:
        """Start the job of a validated plan (the caller's user unless ``created_by``)."""
        what = plan.target or plan.source
        return self.app.jobs.submit(
            f"{JOB_KIND}.{plan.operation}", lambda ctx: self.run(ctx, plan), params=plan.params(),
            lock=f"compression:{what}",
            description=f"{plan.operation} {plan.source.name} ({plan.codec.name})",
            created_by=created_by)

    async def run(self, ctx: JobContext, plan: Plan) -> dict[str, Any]:
        """The job body: run the engine in a thread, report progress, record statistics."""
        if self._slots.locked():
            ctx.progress(description="waiting for a free compression slot")
        async with self._slots:
            ctx.progress(percent=0, description=f"{plan.operation} {plan.source.name}")
            publish_events(ctx, plan.operation, plan.codec.name, str(plan.source),
                           "out" if plan.operation in ("compress", "recompress") else "in",
                           self.config.progress_interval)
            try:
                outcome = await ctx.to_thread(self.execute, plan, reporter(ctx), ctx.check)
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

    @staticmethod
    def execute(plan: Plan, progress: ProgressFn, check: CheckFn) -> engine.Outcome:
        """Run ``plan`` (blocking)."""
        if plan.operation == "verify":
            return engine.verify(plan.source, plan.codec, progress=progress, check=check)
        assert plan.target is not None
        if plan.operation == "compress":
            return engine.compress(plan.source, plan.target, plan.codec, plan.level, plan.threads,
                                   verify=plan.verify, overwrite=plan.overwrite,
                                   progress=progress, check=check)
        if plan.operation == "decompress":
            return engine.decompress(plan.source, plan.target, plan.codec, extract=plan.extract,
                                     overwrite=plan.overwrite, progress=progress, check=check)
        assert plan.old is not None
        return engine.recompress(plan.source, plan.target, plan.old, plan.codec, plan.level,
                                 plan.threads, replace_source=plan.replace_source,
                                 keep_smaller=plan.keep_smaller, overwrite=plan.overwrite,
                                 progress=progress, check=check)
