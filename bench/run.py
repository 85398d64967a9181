"""`make bench`: opkpi against the practical limit and the pandas baseline, 1M and 10M phone contacts.

    .venv/bin/python bench/run.py [--sizes 1m 10m] [--budget 1200] [--fresh-ingest] [--chunk-rows N] [--no-write]

For each size, on the same generated files (bench/generate.py, cached), each in a fresh process:
  ingest  the files through the real ingest path (`ingest_paths`: parse, cast, pseudonymise,
          great-expectations validation, dedupe, chunked commits) into an empty home;
  (a)     the core KPIs as one hand-written DuckDB query over the raw Parquet (bench/kpi_duckdb.py);
  (a')    opkpi building the models those KPIs need (`operator_daily` and what it reads) in a copy
          of the loaded warehouse (`pipeline.transforms.runner.build`, full refresh);
  (b')    `run_pipeline(full_refresh=True)` in another copy: every model, then the snapshot;
  (c)     the same KPIs in straightforward pandas (bench/baseline_pandas.py).
Wall time of the work (imports excluded), CPU time and peak RSS of the process (`os.wait4`), and
a cross-check that (a'), (b') and (c) give (a)'s numbers per operator and day. A dated section is
appended to bench/results.md.

Time budget (the whole run, default 20 minutes): 10M steps are projected from the 1M ones (× 10);
a step projected at over 3 × what is left is not started (its projection is reported), and a
started step is stopped when the budget runs out (reported as "> N s", a lower bound). The 10M warehouse loaded
by ingest is kept in bench/cache/ keyed by the ingest code, so a later run reuses it (and quotes
the ingest figures measured when it was loaded) unless --fresh-ingest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import generate

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = generate.CACHE / "work"
RESULTS = BENCH / "results.md"
TASKS = BENCH / "tasks.py"
BUDGET_S = 20 * 60
RESERVE_S = 20           # kept for comparing and writing the results
ROWS = {"1m": 1_000_000, "10m": 10_000_000}
VARIANTS = ("a", "a1", "b1", "c")
LABELS = {"a": "(a) hand-written DuckDB over raw Parquet", "a1": "(a') opkpi, KPI subset of the models",
          "b1": "(b') opkpi, all transforms + publish", "c": "(c) pandas baseline",
          "ingest": "ingest (calls + CSAT + dimensions)"}


@dataclass
class Measure:
    task: str
    size: str
    status: str = "ok"              # ok | skipped | stopped | failed | cached
    seconds: float | None = None    # wall time of the work, as the task measured it
    process_s: float | None = None  # wall time of the whole process
    cpu_s: float | None = None
    rss_mb: float | None = None
    load: tuple[float, float] = (0.0, 0.0)
    note: str = ""
    details: dict = field(default_factory=dict)


class Budget:
    def __init__(self, seconds: float) -> None:
        self.t0 = time.monotonic()
        self.seconds = seconds

    def left(self) -> float:
        return self.seconds - RESERVE_S - (time.monotonic() - self.t0)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", flush=True)


# --- running one measured process ----------------------------------------------------------------

def measure(task: str, size: str, args: list[str], *, timeout: float, log_dir: Path) -> Measure:
    m = Measure(task, size)
    if timeout <= 5:
        m.status, m.note = "skipped", "no time left in the budget"
        return m
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "false", "PYTHONUNBUFFERED": "1"}
    out_path, err_path = log_dir / f"{task}-{size}.out", log_dir / f"{task}-{size}.err"
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, str(TASKS), task, *args], stdout=out, stderr=err, cwd=ROOT,
                                env=env, start_new_session=True)
        deadline = t0 + timeout
        status = None
        while status is None:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == 0:
                status = None
                if time.monotonic() > deadline:
                    os.killpg(proc.pid, signal.SIGKILL)
                    _, status, usage = os.wait4(proc.pid, 0)
                    m.status = "stopped"
                else:
                    time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
    m.process_s = time.monotonic() - t0
    m.cpu_s = usage.ru_utime + usage.ru_stime
    m.rss_mb = usage.ru_maxrss / 1024
    m.load = (load0, os.getloadavg()[0])
    if m.status == "stopped":
        m.seconds = m.process_s
        m.note = f"stopped at the budget after {m.process_s:.0f} s"
        return m
    lines = out_path.read_text().strip().splitlines()
    if proc.returncode != 0 or not lines:
        m.status = "failed"
        tail = err_path.read_text().strip().splitlines()[-3:]
        m.note = f"exit {proc.returncode}: " + " | ".join(tail)[:300]
        return m
    m.details = json.loads(lines[-1])
    m.seconds = m.details.pop("seconds")
    return m


# --- the steps ------------------------------------------------------------------------------------

def ingest_fingerprint(chunk_rows: int | None) -> str:
    """What a loaded warehouse depends on: the ingest code and settings, the data version, the libraries."""
    import duckdb
    import polars

    h = hashlib.sha256(f"{generate.VERSION}|{duckdb.__version__}|{polars.__version__}".encode())
    if chunk_rows:
        h.update(f"|chunk_rows={chunk_rows}".encode())
    for sub in ("pipeline/ingest", "pipeline/core"):
        for p in sorted((ROOT / sub).rglob("*.py")):
            h.update(p.relative_to(ROOT).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def copy_home(src: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for sub in ("warehouse", "state"):
        if (src / sub).exists():
            shutil.copytree(src / sub, dst / sub, ignore=shutil.ignore_patterns("published", "tmp", ".lock"))


def run_ingest(size: str, data: Path, budget: Budget, projected: float | None, fresh: bool,
               log_dir: Path, chunk_rows: int | None) -> tuple[Measure, Path | None]:
    """Load `size` into a home; the 10M home is cached by ingest fingerprint."""
    cached = size != "1m"
    home = WORK / f"loaded-{size}-{ingest_fingerprint(chunk_rows)}" if cached else WORK / f"loaded-{size}"
    meta = home / "ingest.json"
    if cached and meta.exists() and not fresh:
        m = Measure(**{**json.loads(meta.read_text()), "status": "cached"})
        m.note = f"loaded and measured by the run of {m.note or 'an earlier run'}; reused (same ingest code)"
        return m, home
    if projected is not None and projected > budget.left():
        m = Measure("ingest", size, status="skipped",
                    note=f"projected {projected:.0f} s (1M × 10) > {budget.left():.0f} s left in the budget")
        return m, None
    for stale in WORK.glob(f"loaded-{size}*"):
        shutil.rmtree(stale, ignore_errors=True)  # one loaded warehouse per size at a time (~1 GB each)
    extra = ["--chunk-rows", str(chunk_rows)] if chunk_rows else []
    m = measure("ingest", size, ["--data", str(data), "--home", str(home), *extra], timeout=budget.left(),
                log_dir=log_dir)
    if m.status != "ok":
        shutil.rmtree(home, ignore_errors=True)
        return m, None
    shutil.rmtree(home / "archive", ignore_errors=True)  # the builds never read it
    if cached:
        saved = {k: v for k, v in m.__dict__.items() if k != "status"}
        saved["note"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        meta.write_text(json.dumps(saved, default=list))
    return m, home


def run_size(size: str, budget: Budget, results: dict, fresh: bool, log_dir: Path,
             chunk_rows: int | None = None) -> None:
    data = generate.ensure(size, log=log)
    out = WORK / size
    out.mkdir(parents=True, exist_ok=True)
    scale = ROWS[size] / ROWS["1m"]
    base = results.get("1m", {}) if size != "1m" else {}

    def projection(task: str) -> float | None:
        ref = base.get(task)
        return ref.seconds * scale if ref is not None and ref.status == "ok" and ref.seconds else None

    def run(task: str, args: list[str]) -> Measure:
        (out / f"{task}.parquet").unlink(missing_ok=True)  # the cross-check reads only this run's outputs
        proj = projection(task)
        if proj is not None and proj > 3 * budget.left():
            m = Measure(task, size, status="skipped",
                        note=f"projected {proj:.0f} s (1M × {scale:.0f}) > {budget.left():.0f} s left in the budget")
        else:
            log(f"{size} {task} (budget left {budget.left():.0f} s"
                + (f", projected {proj:.0f} s)" if proj else ")"))
            m = measure(task, size, args, timeout=budget.left(), log_dir=log_dir)
        log(f"{size} {task}: {m.status} {fmt_s(m.seconds)} s, cpu {fmt_s(m.cpu_s)} s, "
            f"rss {fmt_s(m.rss_mb)} MB {m.note}")
        results.setdefault(size, {})[task] = m
        return m

    run("a", ["--data", str(data), "--out", str(out / "a.parquet")])
    run("c", ["--data", str(data), "--out", str(out / "c.parquet")])
    proj = projection("ingest")
    log(f"{size} ingest (budget left {budget.left():.0f} s" + (f", projected {proj:.0f} s)" if proj else ")"))
    m, home = run_ingest(size, data, budget, proj, fresh, log_dir, chunk_rows)
    log(f"{size} ingest: {m.status} {fmt_s(m.seconds)} s, cpu {fmt_s(m.cpu_s)} s, rss {fmt_s(m.rss_mb)} MB {m.note}")
    results[size]["ingest"] = m
    for task in ("a1", "b1"):
        if home is None:
            results[size][task] = Measure(task, size, status="skipped", note="no loaded warehouse (ingest skipped)")
            continue
        work_home = out / f"home-{task}"
        copy_home(home, work_home)
        run(task, ["--home", str(work_home), "--out", str(out / f"{task}.parquet")])
        shutil.rmtree(work_home, ignore_errors=True)


# --- cross-check ---------------------------------------------------------------------------------

def cross_check(size: str) -> dict[str, str]:
    """Per variant: rows of (operator, day) whose KPI inputs differ from (a)'s."""
    import duckdb

    con = duckdb.connect()
    out = WORK / size
    ref = out / "a.parquet"
    checks = {}
    if not ref.exists():
        return checks
    cols = ("segments_n", "aht_phone_num_ms", "aht_phone_den", "fcr_num", "fcr_den", "csat_top2_num",
            "csat_top2_den")
    for v in ("a1", "b1", "c"):
        path = out / f"{v}.parquet"
        if not path.exists():
            continue
        diff = " or ".join(f"a.{c} is distinct from x.{c}" for c in cols)
        n, bad = con.execute(f"""select count(*), count(*) filter (where {diff})
            from '{ref}' as a full join '{path}' as x using (operator_id, local_date)""").fetchone()
        checks[v] = "equal" if bad == 0 else f"{bad} of {n} (operator, day) rows differ"
    return checks


# --- report --------------------------------------------------------------------------------------

def fmt_s(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def machine() -> dict[str, str]:
    import duckdb
    import pandas
    import polars
    import pyarrow

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor() or "?")
    mem = next((int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), 0)
    try:
        from importlib.metadata import version
        ge = version("great-expectations")
    except Exception:
        ge = "?"
    return {"cores": str(os.cpu_count()), "ram": f"{mem / 1024 / 1024:.1f} GiB", "cpu": cpu,
            "python": platform.python_version(), "duckdb": duckdb.__version__, "polars": polars.__version__,
            "pandas": pandas.__version__, "pyarrow": pyarrow.__version__, "great_expectations": ge,
            "kernel": platform.release()}


def ingest_rows(m: Measure) -> tuple[int, float]:
    files = m.details.get("files", [])
    rows = sum(f["rows"] for f in files if f["kind"] in ("calls", "csat_responses"))
    secs = sum(f["seconds"] for f in files if f["kind"] in ("calls", "csat_responses"))
    return rows, secs


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("**met**" if ok else "**missed**")


def top_models(m: Measure | None, n: int = 8) -> str:
    if m is None or not m.details.get("model_seconds"):
        return ""
    ms = sorted(m.details["model_seconds"].items(), key=lambda kv: -kv[1])
    total = sum(v for _, v in ms)
    return ", ".join(f"`{k}` {v:.1f}" for k, v in ms[:n]) + f" (Σ models {total:.1f} s)"


def report(results: dict, checks: dict, info: dict, budget: Budget, started: datetime, argv: list[str]) -> str:
    command = "make bench" if not argv else " ".join(["bench/run.py", *argv])
    lines = [f"## {started:%Y-%m-%d %H:%M} UTC — `{command}`", ""]
    lines.append(f"Machine: {info['cores']} cores, {info['ram']} RAM, {info['cpu']}; Linux {info['kernel']}. "
                 f"Python {info['python']}, DuckDB {info['duckdb']}, Polars {info['polars']}, pandas {info['pandas']}, "
                 f"pyarrow {info['pyarrow']}, great-expectations {info['great_expectations']}.")
    loads = [x for r in results.values() for m in r.values() if m.status != "cached" for x in m.load if x]
    if loads:
        lines.append(f"Load average (1 min) seen at the measurements: {min(loads):.1f}–{max(loads):.1f} on "
                     f"{info['cores']} cores (other processes on the machine inflate wall times; CPU seconds "
                     "are less sensitive to that).")
    lines.append(f"Whole run: {budget.elapsed() / 60:.1f} min (budget {budget.seconds / 60:.0f} min).")
    lines.append("")
    sizes = [s for s in ("1m", "10m") if s in results]
    head = "| | " + " | ".join(f"{s.upper()} wall s | ×(a) | CPU s | peak RSS MB" for s in sizes) + " |"
    lines += [head, "|---" * (1 + 4 * len(sizes)) + "|"]
    for task in ("a", "a1", "b1", "c", "ingest"):
        cells = [LABELS[task]]
        for s in sizes:
            m = results[s].get(task)
            a = results[s].get("a")
            if m is None or m.status in ("skipped", "failed"):
                cells += [m.status if m else "–", "", "", ""]
                continue
            wall = fmt_s(m.seconds) if m.status != "stopped" else f"> {m.seconds:.0f}"
            if m.status == "cached":
                wall += " (cached)"
            ratio = (f"{m.seconds / a.seconds:.1f}" if a and a.status == "ok" and a.seconds and task != "ingest"
                     and m.seconds else "")
            if ratio and m.status == "stopped":
                ratio = "> " + ratio
            cells += [wall, ratio, fmt_s(m.cpu_s), fmt_s(m.rss_mb, 0)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    # ingest per million
    for s in sizes:
        m = results[s].get("ingest")
        if m is not None and m.status in ("ok", "cached"):
            rows, secs = ingest_rows(m)
            per_file = [f["seconds"] for f in m.details.get("files", []) if f["kind"] == "calls"]
            spread = (f"; calls files {min(per_file):.0f}–{max(per_file):.0f} s per 1M-row file"
                      if len(per_file) > 1 else "")
            lines.append(f"- Ingest {s.upper()}: {rows:,} fact rows in {secs:.0f} s = **{secs / rows * 1e6:.1f} s per "
                         f"million rows**{spread} (whole task {fmt_s(m.seconds)} s incl. dimensions).")
        elif m is not None:
            lines.append(f"- Ingest {s.upper()}: {m.status} — {m.note}")
    for s in sizes:
        for task in VARIANTS:
            m = results[s].get(task)
            if m is not None and m.note and m.status != "ok" and task != "ingest":
                lines.append(f"- {LABELS[task]} {s.upper()}: {m.note}")
    for s in sizes:
        if checks.get(s):
            lines.append(f"- Cross-check {s.upper()} against (a), per operator and day (segments, AHT num/den, FCR "
                         "num/den, CSAT top-2 num/den): "
                         + ", ".join(f"{LABELS[v].split(' ')[0]} {r}" for v, r in checks[s].items()) + ".")
    lines.append("")
    lines.append("Targets:")
    lines.append("")
    lines.append("| target | " + " | ".join(s.upper() for s in sizes) + " |")
    lines.append("|---" * (1 + len(sizes)) + "|")

    def ok(m: Measure | None) -> bool:
        return m is not None and m.status == "ok" and m.seconds is not None

    row1, row2, row3 = ["(a') ≤ 1.5 × (a)"], ["(a') ≥ 5× faster than (c) at ≤ ½ its peak RSS"], ["(b') ≤ 60 s on 10M"]
    for s in sizes:
        r = results[s]
        a, a1, b1, c = (r.get(k) for k in ("a", "a1", "b1", "c"))
        if ok(a) and ok(a1):
            row1.append(f"{verdict(a1.seconds <= 1.5 * a.seconds)} ({a1.seconds / a.seconds:.1f}×)")
        elif a1 is not None and a1.status == "stopped" and ok(a):
            row1.append(f"{verdict(False)} (> {a1.seconds / a.seconds:.0f}×)")
        else:
            row1.append("not measured")
        if ok(a1) and ok(c):
            speed, mem = c.seconds / a1.seconds, a1.rss_mb / c.rss_mb
            pace = f"{speed:.1f}× faster" if speed >= 1 else f"{1 / speed:.1f}× slower"
            row2.append(f"{verdict(speed >= 5 and mem <= 0.5)} ({pace} than (c), {mem:.2f}× its peak RSS)")
        elif a1 is not None and a1.status == "stopped" and ok(c) and a1.seconds > c.seconds / 5:
            row2.append(f"{verdict(False)} (> {a1.seconds:.0f} s vs {c.seconds:.0f} s for (c))")
        else:
            row2.append("not measured")
        if s == "10m":
            if ok(b1):
                row3.append(f"{verdict(b1.seconds <= 60)} ({b1.seconds:.0f} s)")
            elif b1 is not None and b1.status == "stopped":
                row3.append(f"{verdict(False)} (> {b1.seconds:.0f} s)")
            else:
                row3.append("not measured")
        else:
            row3.append(f"({fmt_s(b1.seconds) if ok(b1) else '–'} s)")
    for row in (row1, row2, row3):
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    notes = []
    for s in sizes:
        for task in ("a1", "b1"):
            m = results[s].get(task)
            tm = top_models(m)
            if tm:
                extra = ""
                if task == "b1" and m.details.get("publish_seconds") is not None:
                    extra = f"; publish {m.details['publish_seconds']:.1f} s"
                notes.append(f"- Slowest models, {LABELS[task].split(' ')[0]} {s.upper()} (s): {tm}{extra}.")
    if notes:
        lines += ["Where the time goes (per-model build seconds from the runner's own report):", "", *notes, ""]
    return "\n".join(lines) + "\n"


def append_results(section: str) -> None:
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nAppended by `make bench` (bench/run.py); what each figure measures "
                           "is in bench/README.md. Newest last.\n\n", encoding="utf-8")
    with RESULTS.open("a", encoding="utf-8") as f:
        f.write("\n" + section)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description="opkpi benchmark (make bench)")
    p.add_argument("--sizes", nargs="+", default=["1m", "10m"], choices=list(ROWS))
    p.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for the whole run (default 1200)")
    p.add_argument("--fresh-ingest", action="store_true", help="re-ingest 10M even when a loaded warehouse is cached")
    p.add_argument("--chunk-rows", type=int, help="ingest commit chunk rows (default: the configuration's, 50,000)")
    p.add_argument("--no-write", action="store_true", help="print the section instead of appending it")
    p.add_argument("--from-json", action="store_true", help=argparse.SUPPRESS)  # re-render the last run
    args = p.parse_args(argv)
    started = datetime.now(UTC)
    budget = Budget(args.budget)
    log_dir = WORK / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    info = machine()
    log(f"machine: {info['cores']} cores, {info['ram']}, {info['cpu']}; load {os.getloadavg()[0]:.1f}")
    results: dict[str, dict[str, Measure]] = {}
    if args.from_json:
        saved = json.loads((WORK / "last.json").read_text())
        results = {s: {k: Measure(**m) for k, m in r.items()} for s, r in saved.items()}
    else:
        for size in args.sizes:
            run_size(size, budget, results, args.fresh_ingest, log_dir, args.chunk_rows)
        (WORK / "last.json").write_text(json.dumps(
            {s: {k: m.__dict__ for k, m in r.items()} for s, r in results.items()}, default=list, indent=1))
    checks = {s: cross_check(s) for s in results}
    section = report(results, checks, info, budget, started, argv)
    print(section)
    if not args.no_write:
        append_results(section)
        log(f"appended to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
