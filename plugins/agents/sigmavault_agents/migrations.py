"""SQLite schema of the agents plugin (append-only)."""

MIGRATIONS = ["""
CREATE TABLE agents_tasks (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    params TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT 'api',
    created_by TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX agents_tasks_agent ON agents_tasks(agent, created_at);
CREATE INDEX agents_tasks_state ON agents_tasks(state);
CREATE TABLE agents_counters (
    agent TEXT PRIMARY KEY,
    done INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    aborted INTEGER NOT NULL DEFAULT 0,
    total_seconds REAL NOT NULL DEFAULT 0,
    last_active REAL
);
CREATE TABLE agents_schedules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    agent TEXT NOT NULL,
    cron TEXT NOT NULL,
    params TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1,
    next_run REAL,
    last_run REAL,
    last_task TEXT,
    last_error TEXT,
    runs INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
""", """
ALTER TABLE agents_schedules ADD COLUMN secrets TEXT;
"""]
