"""Load files into the warehouse: parse → cast → pseudonymise → validate → deduplicate → commit
per chunk together with the manifest (DESIGN §5). Nothing is silently lost: per file,
read = inserted + updated + duplicate + quarantined + deferred.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
import re
import signal
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from pipeline.core.config import Config
from pipeline.core.errors import FileRejected
from pipeline.core.home import Home
from pipeline.ingest.archive import Archive
from pipeline.ingest.contract import KINDS, PII_COLUMNS, KindSpec, infer_kind, kinds_in_load_order
from pipeline.ingest.pii import Pseudonymiser, mask_text
from pipeline.ingest.problems import Problem
from pipeline.ingest.readers import ParsedFile
from pipeline.ingest.schema import stored_columns

log = logging.getLogger("opkpi.ingest")

FAULT_ENV = "OPKPI_FAULT_KILL_AFTER_CHUNK"
DATA_SUFFIXES = {".csv", ".txt", ".jsonl", ".ndjson", ".parquet", ".xlsx"}
SKIP_SUFFIXES = {".tmp", ".part"}


@dataclass
class FileResult:
    file: str
    path: Path
    kind: str | None = None
    sha256: str = ""
    status: str = "rejected"
    read: int = 0
    inserted: int = 0
    updated: int = 0
    duplicate: int = 0
    quarantined: int = 0
    deferred: int = 0
    flagged: int = 0
    warnings: int = 0
    problems: list[Problem] = field(default_factory=list)
    load_id: str = ""
    message: str = ""

    def summary_line(self) -> str:
        if self.status == "rejected":
            return f"{self.file}: rejected ({self.message})"
        if self.status == "unchanged":
            return f"{self.file}: unchanged ({self.message})"
        return (f"{self.file}: {self.status} as {self.kind}: read {self.read}, inserted {self.inserted}, "
                f"updated {self.updated}, duplicate {self.duplicate}, quarantined {self.quarantined}, "
                f"deferred {self.deferred}, flagged {self.flagged}")


@dataclass
class _Context:
    home: Home
    config: Config
    con: duckdb.DuckDBPyConnection
    pseudo: Pseudonymiser
    archive: Archive
    pending_agents: set[tuple[str, str]] = field(default_factory=set)  # declared by the file being loaded


def is_data_file(path: Path) -> bool:
    name = path.name
    return (path.suffix.lower() in DATA_SUFFIXES and not name.startswith(("~", "."))
            and path.suffix.lower() not in SKIP_SUFFIXES)


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Directories expand to their data files; files named after a kind go in load order
    (dimensions before facts) so agent references resolve within one call."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and is_data_file(f)))
        else:
            files.append(p)
    order = {spec.name: i for i, spec in enumerate(kinds_in_load_order())}
    return sorted(files, key=lambda f: order.get(f.stem.lower(), len(order)))


def new_load_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def ingest_files(ctx: _Context, paths: Sequence[Path], *, kind: str | None, force: bool,
                 strict: bool, chunk_rows: int, dialect: str = "canonical",
                 options: dict | None = None) -> list[FileResult]:
    results = []
    for path in expand_paths(paths):
        for result in _ingest_one(ctx, path, kind=kind, force=force, strict=strict, chunk_rows=chunk_rows,
                                  dialect=dialect, options=options):
            log.info(mask_text(result.summary_line()))
            results.append(result)
    return results


def ingest_entries(ctx: _Context, entries: Sequence, *, chunk_rows: int) -> list[FileResult]:
    """Load archived files (rebuild): bytes from the archive, kind and dialect from its metadata."""
    results = []
    for e in entries:
        data = ctx.archive.read(e.sha256)
        options = {k: v for k, v in e.options.items() if k not in ("encoding", "timezone")}
        results += _ingest_one(ctx, Path(e.name), kind=e.kind, force=False, strict=ctx.config.ingest.strict,
                               chunk_rows=chunk_rows, dialect=e.dialect, data=data, options=options)
    return results


# --- one file ----------------------------------------------------------------------------------

def _ingest_one(ctx: _Context, path: Path, *, kind: str | None, force: bool, strict: bool,
                chunk_rows: int, dialect: str, data: bytes | None = None,
                only_lines: set[int] | None = None, options: dict | None = None) -> list[FileResult]:
    """One source file → one result per kind it yields (a canonical file yields one).
    `data` given: bytes from the archive (rebuild, replay). `only_lines`: replay just those records.
    `options`: dialect options (e.g. the mapping text), archived with the file for rebuilds."""
    label = path.name
    result = FileResult(file=label, path=path)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            return [_reject(ctx, result, FileRejected(
                f"Attempted to read {path}, but {exc.strerror or exc}", "Check the path and permissions",
                rule_id="unreadable_file", location=label), dialect)]
    result.sha256 = hashlib.sha256(data).hexdigest()
    prev = _previous_load(ctx.con, result.sha256)
    if prev is not None and prev["status"] in ("loaded", "partial") and not force:
        same = "this file" if prev["file"] == label else f"{prev['file']}"
        result.status = "unchanged"
        result.kind = prev["kind"]
        result.message = f"same content as {same} loaded at {prev['attempt_at']:%Y-%m-%d %H:%M} UTC"
        _manifest_insert(ctx.con, new_load_id(), result, path, len(data), dialect, "unchanged",
                         chunk_rows, message=result.message)
        return [result]
    try:
        outputs = _parse(ctx, path, label, data, kind=kind, dialect=dialect, options=options or {})
        ctx.pending_agents = _agents_declared(outputs)
        prepared = [_prepare(ctx, spec, parsed, strict=strict) for spec, parsed in outputs]
    except FileRejected as exc:
        return [_reject(ctx, result, exc, dialect, size=len(data))]
    if not prepared:
        result.status, result.message = "loaded", "nothing new in this file"
        _manifest_insert(ctx.con, new_load_id(), result, path, len(data), dialect, "loaded", chunk_rows,
                         message=result.message)
        return [result]
    ctx.archive.store(data, sha256=result.sha256, kind=prepared[0].spec.name, dialect=dialect, name=label,
                      options={**_archive_options(ctx.config), **(options or {})})
    results = []
    for prep in prepared:
        r = FileResult(file=label, path=path, sha256=result.sha256, kind=prep.spec.name)
        if only_lines is not None:
            prep = _restrict(prep, only_lines)
        resume = _previous_load(ctx.con, r.sha256, kind=prep.spec.name)
        resume = resume if resume is not None and resume["status"] == "in_progress" else None
        results.append(_commit_chunks(ctx, r, path, len(data), prep, dialect=dialect, chunk_rows=chunk_rows,
                                      resume=resume))
    return results


def _agents_declared(outputs: list[tuple[KindSpec, ParsedFile]]) -> set[tuple[str, str]]:
    """Operators and identities a dialect registers in the same file: not unknown agents."""
    known: set[tuple[str, str]] = set()
    for spec, parsed in outputs:
        f = parsed.frame
        if spec.name == "operators" and "operator_id" in f.columns:
            known |= {("canonical", v) for v in f["operator_id"].drop_nulls().to_list()}
        elif spec.name == "operator_identities" and {"source_system", "source_id"} <= set(f.columns):
            known |= set(f.select("source_system", "source_id").drop_nulls().iter_rows())
    return known


def _parse(ctx: _Context, path: Path, label: str, data: bytes, *, kind: str | None, dialect: str,
           options: dict) -> list[tuple[KindSpec, ParsedFile]]:
    """Bytes → canonical parsed frames. A source dialect may yield several kinds from one file."""
    from pipeline.ingest.dialects import DialectContext, read_dialect
    from pipeline.ingest.readers import read_file

    if dialect != "canonical":
        dctx = DialectContext(config=ctx.config, con=ctx.con, path=path, label=label, options=options,
                              pseudonymiser=ctx.pseudo, archive=ctx.archive)
        return [(KINDS[k], parsed) for k, parsed in read_dialect(dialect, data, dctx)]
    cfg = ctx.config.ingest
    parsed = read_file(path, data, encoding=cfg.encoding, max_field_bytes=cfg.max_field_bytes, file_label=label)
    return [(_resolve_kind(parsed.header, kind, label, path), parsed)]


def _archive_options(config: Config) -> dict:
    return {"encoding": config.ingest.encoding, "timezone": config.ingest.timezone}


def _reject(ctx: _Context, result: FileResult, exc: FileRejected, dialect: str, size: int = 0) -> FileResult:
    result.status = "rejected"
    result.message = mask_text(str(exc))
    line, column = _parse_location(exc.location)
    result.problems.append(Problem(rule_id=exc.rule_id, file=result.file, line=line, column=column,
                                   message=mask_text(str(exc)), where=exc.location))
    _manifest_insert(ctx.con, new_load_id(), result, result.path, size, dialect, "rejected", 0,
                     message=result.message)
    return result


def _parse_location(location: str) -> tuple[int | None, int | None]:
    head = location.split(" (byte", 1)[0]
    parts = head.rsplit(":", 2)
    nums: list[int | None] = []
    for part in parts[1:]:
        nums.append(int(part) if part.isdigit() else None)
    while len(nums) < 2:
        nums.append(None)
    if len(parts) == 2:
        return nums[0], None
    return nums[0], nums[1]


@dataclass
class _Prepared:
    spec: KindSpec
    header: list[str]
    frame: pl.DataFrame            # typed, pseudonymised, validated rows to load (with _line)
    record_lines: list[int]        # every record of the file, loaded or not, in order
    problems: list[Problem]
    duplicate_lines: set[int]      # identical repeats inside the file
    deferred: int = 0              # records held back for the next read


def _prepare(ctx: _Context, spec: KindSpec, parsed: ParsedFile, *, strict: bool) -> _Prepared:
    from pipeline.ingest.casting import cast_frame, check_header
    from pipeline.ingest.validation import validate

    label = parsed.file
    cfg = ctx.config.ingest
    problems: list[Problem] = list(parsed.problems)
    problems += check_header(parsed, spec, strict=strict)
    typed, cast_problems = cast_frame(parsed, spec, timezone=cfg.timezone)
    problems += cast_problems
    typed, pii_problems = ctx.pseudo.apply(typed, file=label, header=parsed.header)
    problems += pii_problems
    row_problems = validate(typed, spec, file=label, header=parsed.header)
    problems += row_problems
    bad = {p.line for p in row_problems if p.action == "quarantine"}
    if bad:
        typed = typed.filter(~pl.col("_line").is_in(list(bad)))
    typed, dup_lines, conflicts = _dedupe_keys(typed, spec, label, parsed.header)
    problems += conflicts
    problems += _unknown_agents(ctx, typed, spec, label, parsed.header)
    _fill_raw(problems, parsed)
    record_lines = sorted(set(parsed.frame["_line"].to_list())
                          | {p.line for p in parsed.problems if p.line is not None and p.action == "quarantine"})
    return _Prepared(spec, parsed.header, typed, record_lines, problems, dup_lines, parsed.deferred)


def _restrict(prep: _Prepared, lines: set[int]) -> _Prepared:
    keep = sorted(lines)
    return _Prepared(prep.spec, prep.header, prep.frame.filter(pl.col("_line").is_in(keep)),
                     [ln for ln in prep.record_lines if ln in lines],
                     [p for p in prep.problems if p.line in lines], prep.duplicate_lines & lines, 0)


def _resolve_kind(header: list[str], kind: str | None, label: str, path: Path) -> KindSpec:
    if kind is not None:
        if kind not in KINDS:
            raise FileRejected(f"Attempted to load {label} as kind `{kind}`, but no such kind exists",
                               "Use one of: " + ", ".join(KINDS), rule_id="unknown_kind", location=f"{label}:1:1")
        return KINDS[kind]
    spec = infer_kind(header)
    if spec is None and path.stem.lower() in KINDS:
        spec = KINDS[path.stem.lower()]  # named after its kind: let the header check say what is missing
    if spec is None:
        raise FileRejected(f"Attempted to infer the kind of {label} from its header at {label}:1:1, "
                           "but it matches no canonical kind",
                           "Pass --kind, or compare the header with docs/data-contract.md",
                           rule_id="unknown_kind", location=f"{label}:1:1")
    return spec


def _row_fingerprint(frame: pl.DataFrame, columns: list[str]) -> pl.Expr:
    return pl.concat_str([pl.col(c).cast(pl.Utf8).fill_null("\x00") for c in columns], separator="\x1f")


def _dedupe_keys(frame: pl.DataFrame, spec: KindSpec, label: str,
                 header: list[str]) -> tuple[pl.DataFrame, set[int], list[Problem]]:
    """One key twice in a file: identical content is a duplicate, different content quarantines
    every row of that key (`conflicting_key`). Checked on the whole file, so across chunks."""
    if frame.height == 0:
        return frame, set(), []
    keys = list(spec.key)
    # Fingerprints only for the rows of repeated keys: building one per row of the file cost more
    # than the whole check, and most files repeat no key at all.
    repeated = frame.group_by(keys).agg(pl.len().alias("n")).filter(pl.col("n") > 1)
    if repeated.height == 0:
        return frame, set(), []
    content = [c for c in frame.columns if c != "_line"]
    keyed = (frame.join(repeated.select(keys), on=keys)
             .select(*keys, "_line", _row_fingerprint(frame, content).alias("_fp")))
    variants = keyed.group_by(keys).agg(pl.len().alias("n"), pl.col("_fp").n_unique().alias("variants"))
    joined = keyed.join(variants, on=keys)
    conflict_rows = joined.filter(pl.col("variants") > 1)
    dup_rows = (joined.filter(pl.col("variants") == 1).sort("_line")
                .filter(pl.col("_line") != pl.col("_line").min().over(list(spec.key))))
    first_key = spec.key[0]
    col_idx = header.index(first_key) + 1 if first_key in header else None
    problems = [
        Problem(rule_id="conflicting_key", file=label, line=line, column=col_idx, column_name=first_key,
                message=f"key ({', '.join(spec.key)}) appears with different contents in this file")
        for line in sorted(conflict_rows["_line"].to_list())
    ]
    drop = set(conflict_rows["_line"].to_list()) | set(dup_rows["_line"].to_list())
    return frame.filter(~pl.col("_line").is_in(list(drop))), set(dup_rows["_line"].to_list()), problems


def _unknown_agents(ctx: _Context, frame: pl.DataFrame, spec: KindSpec, label: str,
                    header: list[str]) -> list[Problem]:
    """Referential check: an agent id that maps to no operator loads, flagged (DESIGN §2)."""
    if not spec.agent_columns or frame.height == 0:
        return []
    pending = ctx.pending_agents
    known_ops = {r[0] for r in ctx.con.execute("SELECT DISTINCT operator_id FROM raw_operators").fetchall()}
    known_ops |= {agent for system, agent in pending if system == "canonical"}
    identities = {(r[0], r[1]) for r in ctx.con.execute(
        "SELECT DISTINCT source_system, source_id FROM raw_operator_identities").fetchall()} | pending
    bots = set(ctx.config.bots)
    normalize = [(re.compile(p), r) for p, r in ctx.config.asterisk.agent_normalize]
    problems: list[Problem] = []
    has_system = "source_system" in frame.columns
    for col in spec.agent_columns:
        sub = frame
        if spec.name == "ticket_events" and col == "author_id":
            sub = frame.filter(pl.col("author_type") == "operator")
        system = pl.col("source_system").fill_null("canonical") if has_system else pl.lit("canonical")
        pairs = sub.select("_line", pl.col(col).alias("agent"), system.alias("system")).drop_nulls("agent")
        for line, raw_agent, sys_ in pairs.iter_rows():
            agent = _normalize_agent(raw_agent, sys_, normalize)
            if agent in bots:
                continue
            if (sys_ == "canonical" and agent in known_ops) or (sys_, agent) in identities:
                continue
            if sys_ != "canonical" and agent in known_ops:
                continue
            idx = header.index(col) + 1 if col in header else None
            problems.append(Problem(rule_id="unknown_agent", file=label, line=line, column=idx, column_name=col,
                                    message=f"agent `{sys_}:{mask_text(str(agent))}` maps to no operator"))
    return problems


def _normalize_agent(agent: str, system: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    """`asterisk.agent_normalize` runs before the lookup (DESIGN §2): `Local/7002@from-queue/n` → `PJSIP/7002`."""
    if system != "asterisk":
        return agent
    for pattern, repl in rules:
        agent, n = pattern.subn(repl, agent)
        if n:
            break
    return agent


def _fill_raw(problems: list[Problem], parsed) -> None:
    """Masked raw text for display of quarantined rows that lack it; personal-data columns blanked."""
    need = {p.line for p in problems if p.raw is None and p.line is not None and p.action == "quarantine"}
    if not need or parsed.frame.height == 0:
        return
    cols = [c for c in parsed.header if c in parsed.frame.columns]
    rows = parsed.frame.filter(pl.col("_line").is_in(list(need)))
    texts = {}
    for rec in rows.select("_line", *cols).iter_rows(named=True):
        values = ["***" if c in PII_COLUMNS and rec[c] is not None else ("" if rec[c] is None else str(rec[c]))
                  for c in cols]
        texts[rec["_line"]] = mask_text(",".join(values))[:500]
    for p in problems:
        if p.raw is None and p.line in texts:
            p.raw = texts[p.line]


# --- commit --------------------------------------------------------------------------------------

def _chunks(lines: list[int], size: int) -> list[tuple[int, int, int]]:
    """(chunk_no, first_line, last_line) over every record of the file."""
    return [(i // size, lines[i], lines[min(i + size, len(lines)) - 1]) for i in range(0, len(lines), size)]


def _commit_chunks(ctx: _Context, result: FileResult, path: Path, size: int, prep: _Prepared, *,
                   dialect: str, chunk_rows: int, resume: dict | None) -> FileResult:
    con = ctx.con
    spec = prep.spec
    if resume is not None:
        chunk_rows = int(resume["chunk_rows"] or chunk_rows)
    chunks = _chunks(prep.record_lines, chunk_rows)
    done: dict[int, dict] = {}
    load_id = new_load_id()
    result.load_id = load_id
    if resume is not None:
        for row in _dicts(con, "SELECT * FROM load_chunks WHERE load_id = ?", [resume["load_id"]]):
            done[row["chunk_no"]] = row
        con.execute("UPDATE load_manifest SET status = 'interrupted' WHERE load_id = ?", [resume["load_id"]])
    _manifest_insert(con, load_id, result, path, size, dialect, "in_progress", chunk_rows,
                     chunks_total=len(chunks), resumed_from=resume["load_id"] if resume else None)
    for c in done.values():
        _add_counts(result, c)
    quarantine_by_line: dict[int, list[Problem]] = {}
    notes: list[Problem] = []
    for p in prep.problems:
        if p.action == "quarantine" and p.line is not None:
            quarantine_by_line.setdefault(p.line, []).append(p)
        elif p.action in ("flag", "warn"):
            notes.append(p)
    result.problems = list(prep.problems)
    # Bucketed once: scanning every line, note and quarantined line per chunk was quadratic.
    q_by_chunk = _by_chunk(chunks, quarantine_by_line)
    dups_by_chunk = _by_chunk(chunks, prep.duplicate_lines)
    notes_by_chunk = _notes_by_chunk(chunks, notes)
    fault_after = int(os.environ.get(FAULT_ENV, "0") or 0)
    _stage_stored(con, spec, prep.frame)
    for chunk_no, first, last in chunks:
        if chunk_no in done:
            continue
        in_chunk = pl.col("_line").is_between(first, last)
        rows = prep.frame.filter(in_chunk)
        q_lines = q_by_chunk.get(chunk_no, [])
        dups = len(dups_by_chunk.get(chunk_no, []))
        chunk_notes = notes_by_chunk.get(chunk_no, [])
        flagged = len({p.line for p in chunk_notes if p.action == "flag"})
        n_read = bisect.bisect_right(prep.record_lines, last) - bisect.bisect_left(prep.record_lines, first)
        con.execute("BEGIN TRANSACTION")
        try:
            ins, upd, dup = _upsert(con, spec, rows, result, load_id)
            dup += dups
            _insert_problems(con, load_id, result, spec, [p for ln in q_lines for p in quarantine_by_line[ln]],
                             chunk_notes)
            counts = {"rows_read": n_read, "inserted": ins, "updated": upd, "duplicate": dup,
                      "quarantined": len(q_lines), "flagged": flagged}
            con.execute("INSERT INTO load_chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                        [load_id, result.sha256, chunk_no, first, last, n_read, ins, upd, dup, len(q_lines), flagged])
            _add_counts(result, counts)
            result.warnings += sum(1 for p in chunk_notes if p.action == "warn")
            _manifest_progress(con, load_id, result, chunks_done=chunk_no + 1)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if fault_after and chunk_no + 1 == fault_after:
            # Test-only hook (DESIGN §5): die right after a commit so resume is tested deterministically.
            os.kill(os.getpid(), signal.SIGKILL)
    con.execute("DROP TABLE IF EXISTS stored_keys")
    result.status = "partial" if result.quarantined else "loaded"
    result.deferred = prep.deferred
    result.read += prep.deferred
    con.execute("""UPDATE load_manifest SET status = ?, finished_at = now(), deferred = ?, rows_read = ?
        WHERE load_id = ?""", [result.status, result.deferred, result.read, load_id])
    return result


def _chunk_of(chunks: list[tuple[int, int, int]], line: int) -> int | None:
    """The chunk whose [first, last] holds `line`: None before, between or after them."""
    i = bisect.bisect_right(chunks, line, key=lambda c: c[1]) - 1
    return chunks[i][0] if i >= 0 and line <= chunks[i][2] else None


def _by_chunk(chunks: list[tuple[int, int, int]], lines: Iterable[int]) -> dict[int, list[int]]:
    """Lines grouped by chunk in their given order (it is the order rows are written in)."""
    out: dict[int, list[int]] = {}
    for ln in lines:
        chunk = _chunk_of(chunks, ln)
        if chunk is not None:
            out.setdefault(chunk, []).append(ln)
    return out


def _notes_by_chunk(chunks: list[tuple[int, int, int]], notes: list[Problem]) -> dict[int, list[Problem]]:
    """Flags and warnings by chunk; those on no line or before the first record go with chunk 0."""
    out: dict[int, list[Problem]] = {}
    if not chunks:
        return out
    for p in notes:
        chunk = 0 if p.line is None or p.line < chunks[0][1] else _chunk_of(chunks, p.line)
        if chunk is not None:
            out.setdefault(chunk, []).append(p)
    return out


def _add_counts(result: FileResult, c: dict) -> None:
    result.read += int(c["rows_read"])
    result.inserted += int(c["inserted"])
    result.updated += int(c["updated"])
    result.duplicate += int(c["duplicate"])
    result.quarantined += int(c["quarantined"])
    result.flagged += int(c["flagged"])


def _key_match(a: str, b: str, spec: KindSpec) -> str:
    return " AND ".join(f'{a}."{k}" = {b}."{k}"' for k in spec.key)


def _typed_columns(spec: KindSpec, frame: pl.DataFrame, names: Iterable[str]) -> str:
    """SELECT list casting `names` to their stored types; a column the frame lacks is NULL."""
    cols = stored_columns(spec)
    return ", ".join(f'CAST("{c}" AS {cols[c]}) AS "{c}"' if c in frame.columns else f'CAST(NULL AS {cols[c]}) AS "{c}"'
                     for c in names)


def _stage_stored(con: duckdb.DuckDBPyConnection, spec: KindSpec, frame: pl.DataFrame) -> None:
    """Temp table `stored_keys`: key, hash and version of the raw rows whose key this file holds.

    One scan of the raw table per file instead of three per chunk. It stays exact while the chunks
    commit: keys are unique in the file (`_dedupe_keys`), so a chunk only ever replaces stored rows
    of its own keys, which no later chunk looks up."""
    keys = list(spec.key)
    extra = [spec.version_column] if spec.version_column else []
    keep = ", ".join(f't."{c}"' for c in [*keys, "_row_hash", *extra])
    if not set(keys) <= set(frame.columns):  # a null key part never matches a stored row
        con.execute(f"CREATE OR REPLACE TEMP TABLE stored_keys AS SELECT {keep} FROM {spec.table} t WHERE FALSE")
        return
    con.register("file_keys_arrow", frame.select(keys).to_arrow())
    try:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE stored_keys AS SELECT {keep} FROM {spec.table} t
            WHERE EXISTS (SELECT 1 FROM (SELECT {_typed_columns(spec, frame, keys)} FROM file_keys_arrow) f
                          WHERE {_key_match("t", "f", spec)})""")
    finally:
        con.unregister("file_keys_arrow")


def _upsert(con: duckdb.DuckDBPyConnection, spec: KindSpec, rows: pl.DataFrame, result: FileResult,
            load_id: str) -> tuple[int, int, int]:
    """Insert new keys; identical rows are duplicates; a changed row replaces the stored one
    (the greater version column wins, else the later load) and the loser goes to `_history`.
    Keys are matched against `stored_keys` (see `_stage_stored`), not the whole raw table."""
    if rows.height == 0:
        return 0, 0, 0
    cols = stored_columns(spec)
    content = ", ".join(f"coalesce(CAST(\"{c}\" AS VARCHAR), chr(0))" for c in cols)
    con.register("inc_arrow", rows.to_arrow())
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE inc AS
            SELECT *, md5(concat_ws(chr(31), {content})) AS _row_hash FROM (
                SELECT {_typed_columns(spec, rows, cols)}, _line FROM inc_arrow)""")
    finally:
        con.unregister("inc_arrow")
    order = ", ".join(f'"{c}"' for c in cols)
    t, h = spec.table, f"{spec.table}_history"
    wins = "TRUE"
    if spec.version_column:
        v = spec.version_column
        wins = f'(i."{v}" IS NULL OR s."{v}" IS NULL OR i."{v}" >= s."{v}")'
    # Every (incoming, stored) pair of one key, classified once: same content or changed.
    con.execute(f"""CREATE OR REPLACE TEMP TABLE matched AS
        SELECT i.*, s._row_hash = i._row_hash AS _same, {wins} AS _wins
        FROM inc i JOIN stored_keys s ON {_key_match("s", "i", spec)}""")
    con.execute("CREATE OR REPLACE TEMP TABLE changed AS SELECT * EXCLUDE (_same) FROM matched WHERE NOT _same")
    dup, upd, wins_n = con.execute("""SELECT count(*) FILTER (_same), count(*) FILTER (NOT _same),
        count(*) FILTER (NOT _same AND _wins) FROM matched""").fetchone()
    meta = "?, ?, i._line, ?, i._row_hash, now()"
    params = [result.sha256, result.file, load_id]
    kc = _key_match("t", "c", spec)
    if wins_n:  # both statements scan the raw table: only when a stored row is really replaced
        con.execute(f"""INSERT INTO {h} SELECT t.*, now(), ? FROM {t} t JOIN changed c ON {kc} WHERE c._wins""",
                    [load_id])
        con.execute(f"DELETE FROM {t} t USING changed c WHERE {kc} AND c._wins")
    if upd > wins_n:
        con.execute(f"""INSERT INTO {h} SELECT {', '.join('i.' + chr(34) + c + chr(34) for c in cols)}, {meta}, now(), ?
            FROM changed i WHERE NOT i._wins""", [*params, load_id])
    # Stored after the deletes above: keys never matched, and keys whose stored row a winner replaced.
    added = con.execute(f"""INSERT INTO {t} ({order}, _sha256, _file, _line, _load_id, _row_hash, _loaded_at)
        SELECT {', '.join('i.' + chr(34) + c + chr(34) for c in cols)}, {meta} FROM inc i
        WHERE NOT EXISTS (SELECT 1 FROM matched m WHERE {_key_match("m", "i", spec)})
           OR EXISTS (SELECT 1 FROM changed c WHERE {_key_match("c", "i", spec)} AND c._wins)""", params).fetchone()[0]
    return added - wins_n, upd, dup


def _insert_problems(con: duckdb.DuckDBPyConnection, load_id: str, result: FileResult, spec: KindSpec,
                     quarantined: list[Problem], notes: list[Problem]) -> None:
    if quarantined:
        con.executemany(
            "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), 'open', NULL)",
            [[load_id, result.sha256, result.file, spec.name, p.line, p.column, p.column_name, p.rule_id,
              p.location, mask_text(p.message), p.raw] for p in quarantined])
    if notes:
        con.executemany(
            "INSERT INTO load_warnings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [[load_id, result.sha256, result.file, spec.name, p.line, p.column, p.column_name, p.rule_id,
              p.action, p.location, mask_text(p.message), None] for p in notes])


# --- manifest ------------------------------------------------------------------------------------

def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _previous_load(con: duckdb.DuckDBPyConnection, sha256: str, *, kind: str | None = None) -> dict | None:
    rows = _dicts(con, """SELECT * FROM load_manifest WHERE sha256 = ? AND (kind = ? OR ? IS NULL)
        AND status IN ('loaded', 'partial', 'in_progress') ORDER BY attempt_at DESC LIMIT 1""",
                  [sha256, kind, kind])
    return rows[0] if rows else None


def _manifest_insert(con: duckdb.DuckDBPyConnection, load_id: str, result: FileResult, path: Path, size: int,
                     dialect: str, status: str, chunk_rows: int, *, chunks_total: int = 0,
                     resumed_from: str | None = None, message: str = "") -> None:
    con.execute(
        """INSERT INTO load_manifest VALUES (?, now(), CASE WHEN ? = 'in_progress' THEN NULL ELSE now() END,
           ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)""",
        [load_id, status, result.file, str(path), result.sha256, size, result.kind, dialect, status,
         result.read, result.inserted, result.updated, result.duplicate, result.quarantined, result.deferred,
         result.flagged, result.warnings, chunk_rows, chunks_total, resumed_from, message])


def _manifest_progress(con: duckdb.DuckDBPyConnection, load_id: str, r: FileResult, *, chunks_done: int) -> None:
    con.execute("""UPDATE load_manifest SET rows_read = ?, inserted = ?, updated = ?, duplicate = ?,
        quarantined = ?, deferred = ?, flagged = ?, warnings = ?, chunks_done = ? WHERE load_id = ?""",
                [r.read, r.inserted, r.updated, r.duplicate, r.quarantined, r.deferred, r.flagged, r.warnings,
                 chunks_done, load_id])
