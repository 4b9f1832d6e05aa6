"""SQLite state of the replication plugin (namespace ``replication``)."""

from __future__ import annotations

MIGRATIONS = ["""
CREATE TABLE replication_tasks (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, pool TEXT NOT NULL, volume TEXT NOT NULL,
    peer TEXT NOT NULL, target_pool TEXT NOT NULL, target_volume TEXT NOT NULL,
    schedule TEXT, enabled INTEGER NOT NULL, match TEXT NOT NULL, take_snapshot INTEGER NOT NULL,
    retention TEXT NOT NULL, bwlimit INTEGER, encrypt INTEGER NOT NULL, pad INTEGER NOT NULL,
    recipients TEXT NOT NULL,
    created REAL NOT NULL, next_run REAL);
CREATE TABLE replication_runs (
    id TEXT PRIMARY KEY, task TEXT NOT NULL, trigger TEXT NOT NULL, state TEXT NOT NULL,
    job_id TEXT, started REAL NOT NULL, ended REAL, result TEXT, error TEXT);
CREATE INDEX replication_runs_task ON replication_runs(task, started);
CREATE TABLE replication_targets (
    peer TEXT NOT NULL, pool TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (peer, pool));
CREATE TABLE replication_replicas (
    peer TEXT NOT NULL, pool TEXT NOT NULL, volume TEXT NOT NULL, sealed INTEGER NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (pool, volume));
CREATE TABLE replication_outbox (
    task TEXT NOT NULL, snapshot TEXT NOT NULL, base TEXT, spool TEXT NOT NULL,
    size INTEGER NOT NULL, sha256 TEXT NOT NULL, plain_size INTEGER NOT NULL,
    format TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (task, snapshot));
CREATE TABLE replication_inbox (
    id TEXT PRIMARY KEY, peer TEXT NOT NULL, key TEXT NOT NULL, pool TEXT NOT NULL,
    volume TEXT NOT NULL, kind TEXT NOT NULL, snapshot TEXT, size INTEGER NOT NULL,
    sha256 TEXT NOT NULL, received INTEGER NOT NULL, spool TEXT NOT NULL, created REAL NOT NULL,
    updated REAL NOT NULL, result TEXT, UNIQUE (peer, key));
CREATE TABLE replication_blobs (
    pool TEXT NOT NULL, volume TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (pool, volume, blob));
CREATE TABLE replication_catalog (
    task TEXT NOT NULL, snapshot TEXT NOT NULL, base TEXT, blob TEXT NOT NULL,
    size INTEGER NOT NULL, plain_size INTEGER NOT NULL, format TEXT NOT NULL,
    created REAL NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (task, snapshot));
"""]
