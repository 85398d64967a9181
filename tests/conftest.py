"""Shared fixtures: a fresh home, small canonical files, the real CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.core.config import Config
from pipeline.core.home import Home

ROOT = Path(__file__).resolve().parents[1]
OPKPI = [str(Path(sys.executable).parent / "opkpi")]

OPERATORS_CSV = """operator_id,display_name,team_id,tier,timezone,valid_from
op-1,Ганна Коваленко,t1,L1,Europe/Kyiv,2026-01-01
op-2,Olivia Brown,t1,L2,Europe/Kyiv,2026-01-01
"""


def calls_csv(n: int, *, start: int = 0, talk: int = 100) -> str:
    """n answered calls, one per line, distinct ids from `start`."""
    lines = ["call_id,leg,direction,queue_id,agent_id,customer_phone,enqueued_at,answered_at,ended_at,outcome,"
             "end_reason,talk_s"]
    for i in range(start, start + n):
        h, m = divmod(i % 600, 60)
        lines.append(f"c{i},1,inbound,q1,op-{1 + i % 2},+7 912 000-{i % 100:02d}-{i % 97:02d},"
                     f"2026-10-14T{8 + h % 10:02d}:{m:02d}:00+03:00,2026-10-14T{8 + h % 10:02d}:{m:02d}:10+03:00,"
                     f"2026-10-14T{8 + h % 10:02d}:{m:02d}:50+03:00,answered,resolved,{talk}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


@pytest.fixture
def config() -> Config:
    return Config()


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "GX_ANALYTICS_ENABLED": "false", **(env or {})}
    return subprocess.run([*OPKPI, *args], capture_output=True, text=True, env=full_env, cwd=cwd or ROOT,
                          timeout=600)
