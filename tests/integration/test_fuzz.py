"""Schema-driven fuzzing of the whole REST API (schemathesis) with an authenticated client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Operations left out of fuzzing, with the reason:
EXCLUDED_PATHS = [
    # a random valid task runs real work (throughput tests, bulk copies) for minutes
    "^/api/v1/agents/\\{id\\}/task$",
    "^/api/v1/agents/schedules$",
    # would end the fuzzer's own API key or its admin user
    "^/api/v1/auth/keys/\\{key_id\\}$",
    "^/api/v1/auth/users",
    "^/api/v1/auth/logout$",
]


def test_no_5xx_and_responses_match_schema(daemon, tmp_path):
    argv = [str(Path(sys.executable).with_name("schemathesis")), "run",
            f"{daemon.url}/api/v1/openapi.json", "--url", daemon.url,
            "-H", f"Authorization: Bearer {daemon.admin_key}",
            "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--max-examples", os.environ.get("SIGMAVAULT_FUZZ_EXAMPLES", "8"),
            "--max-time", os.environ.get("SIGMAVAULT_FUZZ_SECONDS", "240"),
            "--seed", "20261127", "--request-timeout", "70", "--workers", "1",
            "--phases", "examples,coverage,fuzzing", "--warnings", "off",
            "--report", "junit", "--report-dir", str(tmp_path)]
    for pattern in EXCLUDED_PATHS:
        argv += ["--exclude-path-regex", pattern]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    tail = (result.stdout + result.stderr)[-6000:]
    # one worker: CPython 3.11.7 ast.parse (used by hypothesis) is not thread-safe and raised
    # "AST constructor recursion depth mismatch" with two
    assert result.returncode == 0, f"schemathesis found problems:\n{tail}\n--- daemon log ---\n{daemon.log()}"
