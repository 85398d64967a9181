"""readers.read_file: formats, framing rules, exact locations, rejections and masking."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest

from pipeline.core.errors import FileRejected
from pipeline.ingest.problems import Problem
from pipeline.ingest.readers import ParsedFile, read_file, unclosed_quote_field

PHONE = "+7 912 345-67-89"
NAME = "Ґалина Їжакевич"


def read(name: str, data: bytes | str, **kw: object) -> ParsedFile:
    raw = data.encode() if isinstance(data, str) else data
    return read_file(Path("/in") / name, raw, **kw)  # type: ignore[arg-type]


def rejected(name: str, data: bytes | str, **kw: object) -> FileRejected:
    with pytest.raises(FileRejected) as info:
        read(name, data, **kw)
    assert str(info.value).startswith("Attempted to ")
    return info.value


def where(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.location, p.rule_id) for p in problems]


# --- CSV ----------------------------------------------------------------------------------------

def test_csv_header_is_normalised_and_values_keep_their_spaces() -> None:
    parsed = read("calls.csv", "\ufeff Call_ID ,LEG,Note\nc1,1, a b \nc2,,   \n")
    assert parsed.fmt == "csv" and parsed.encoding == "utf-8-sig"
    assert parsed.header == ["call_id", "leg", "note"]
    assert parsed.frame.columns == ["call_id", "leg", "note", "_line"]
    assert parsed.frame.schema["_line"] == pl.Int64
    assert parsed.frame.rows() == [("c1", "1", " a b ", 2), ("c2", None, None, 3)]
    assert parsed.problems == []


def test_csv_quoted_newline_counts_from_the_record_start_and_blank_lines_are_skipped() -> None:
    data = 'id,text,n\r\n\r\na,"two\r\nlines",1\r\nb,"say ""hi""",2\n\nc,,3'  # no final newline
    parsed = read("t.csv", data)
    assert parsed.frame.rows() == [("a", "two\r\nlines", "1", 3), ("b", 'say "hi"', "2", 5), ("c", None, "3", 7)]


def test_header_only_file_gives_zero_rows_with_the_columns() -> None:
    parsed = read("calls.csv", "call_id,leg\n")
    assert parsed.frame.height == 0
    assert parsed.frame.columns == ["call_id", "leg", "_line"]
    assert parsed.problems == []


def test_field_count_problems_are_located_and_masked() -> None:
    data = f"call_id,leg,phone\nc1,1,x\nc2,1,y\nc3,{PHONE}\nc4,1,z,extra\nc5,2,w\n"
    parsed = read("calls.csv", data)
    assert where(parsed.problems) == [("calls.csv:4:3", "field_count"), ("calls.csv:5:4", "field_count")]
    assert parsed.frame["_line"].to_list() == [2, 3, 6]
    short = parsed.problems[0]
    assert "2 fields where the header has 3" in short.message
    assert short.raw is not None and short.raw.startswith("c3,") and "345" not in short.raw
    assert all(p.action == "quarantine" for p in parsed.problems)


def test_field_too_large_names_the_size_never_the_content() -> None:
    parsed = read("calls.csv", "id,body,n\na,small,1\nb," + "Z" * 40 + ",2\n", max_field_bytes=32)
    assert where(parsed.problems) == [("calls.csv:3:2", "field_too_large")]
    problem = parsed.problems[0]
    assert problem.column_name == "body"
    assert "40 bytes" in problem.message and "ZZZ" not in problem.message
    assert parsed.frame["id"].to_list() == ["a"]


def test_a_ten_megabyte_field_is_read_and_then_quarantined() -> None:
    big = "x" * (10 << 20)
    parsed = read("calls.csv", f"id,body\na,{big}\nb,ok\n")
    assert where(parsed.problems) == [("calls.csv:2:2", "field_too_large")]
    assert len(parsed.problems[0].raw or "") <= 500
    assert parsed.frame["id"].to_list() == ["b"]


def test_utf8_size_counts_bytes_not_characters() -> None:
    parsed = read("t.csv", f"id,name\n1,{NAME}\n", max_field_bytes=len(NAME) + 1)
    assert where(parsed.problems) == [("t.csv:2:2", "field_too_large")]


def test_unterminated_quote_quarantines_the_record_to_the_end_of_file() -> None:
    parsed = read("calls.csv", 'id,a,b\n1,x,y\n2,x,"open\n3,x,y\n')
    assert where(parsed.problems) == [("calls.csv:3:3", "unterminated_quote")]
    assert parsed.frame["id"].to_list() == ["1"]


def test_unclosed_quote_scanner() -> None:
    assert unclosed_quote_field('a,"b""c",d\n') is None
    assert unclosed_quote_field('a,"b""c,d\n') == 2
    assert unclosed_quote_field('"a\nb",c') is None
    assert unclosed_quote_field('a,b"c,"d') == 3  # a quote inside an unquoted field is literal


def test_a_whitespace_only_line_is_blank() -> None:
    parsed = read("t.csv", "a,b\n   \n1,2\n")
    assert parsed.frame.rows() == [("1", "2", 3)]
    assert parsed.problems == []


# --- rejections ---------------------------------------------------------------------------------

def test_empty_file_is_rejected() -> None:
    err = rejected("calls.csv", b"")
    assert (err.rule_id, err.location) == ("empty_file", "calls.csv")


def test_nul_byte_is_binary_with_its_position() -> None:
    err = rejected("calls.csv", b"a,b\n1,\x002\n")
    assert (err.rule_id, err.location) == ("binary_file", "calls.csv:2:3 (byte 6)")


def test_utf16_gets_a_specific_hint() -> None:
    err = rejected("calls.csv", "a,b\n".encode("utf-16"))
    assert err.rule_id == "binary_file" and "UTF-16" in err.hint


def test_cp1251_is_rejected_without_configuration() -> None:
    data = f"operator_id,display_name\nop-1,{NAME}\n".encode("cp1251")
    err = rejected("operators.csv", data)
    assert (err.rule_id, err.location) == ("encoding", "operators.csv:2:6 (byte 30)")
    assert 'ingest.encoding = "cp1251"' in err.hint
    assert NAME not in str(err)


def test_cp1251_loads_when_configured() -> None:
    data = f"operator_id,display_name\nop-1,{NAME}\n".encode("cp1251")
    parsed = read("operators.csv", data, encoding="cp1251")
    assert parsed.encoding == "cp1251"
    assert parsed.frame["display_name"].to_list() == [NAME]


def test_fallback_that_fails_too_is_rejected_at_its_byte() -> None:
    err = rejected("t.csv", b"a,b\n1,\x98\n", encoding="cp1251")  # 0x98 is undefined in cp1251
    assert (err.rule_id, err.location) == ("encoding", "t.csv:2:3 (byte 6)")


def test_invalid_utf8_after_bom_counts_columns_without_the_bom() -> None:
    err = rejected("t.csv", b"\xef\xbb\xbfab\xffc,d\n")
    assert (err.rule_id, err.location) == ("encoding", "t.csv:1:3 (byte 5)")


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_wrong_delimiter(sep: str) -> None:
    err = rejected("calls.csv", f"call_id{sep}leg\nc1{sep}1\n")
    assert (err.rule_id, err.location) == ("wrong_delimiter", "calls.csv:1:1")


def test_duplicate_column_points_at_the_second_occurrence() -> None:
    err = rejected("calls.csv", "call_id,leg,Call_ID\n")
    assert (err.rule_id, err.location) == ("duplicate_column", "calls.csv:1:3")


def test_unreadable_parquet() -> None:
    err = rejected("calls.parquet", b"PAR1 not really")
    assert (err.rule_id, err.location) == ("unreadable_parquet", "calls.parquet")


def test_file_label_overrides_the_path_name() -> None:
    err = rejected("tmp123.csv", b"", file_label="calls.csv")
    assert err.location == "calls.csv"


# --- JSONL --------------------------------------------------------------------------------------

def test_jsonl_values_become_text_and_bad_lines_are_quarantined() -> None:
    data = ('{"ID": "a", "n": 1, "ok": true}\n'
            "\n"
            "[1, 2]\n"
            '{"id": "b", "f": 1.5, "nested": {"k": [1]}, "ok": null, "s": "  "}\n'
            f'{{"id": "c", "phone": "{PHONE}"\n')
    parsed = read("calls.jsonl", data)
    assert parsed.fmt == "jsonl"
    assert parsed.header == ["id", "n", "ok", "f", "nested", "s"]
    assert parsed.frame.rows() == [("a", "1", "true", None, None, None, 1),
                                   ("b", None, None, "1.5", '{"k": [1]}', None, 4)]
    assert where(parsed.problems) == [("calls.jsonl:3", "invalid_json"), ("calls.jsonl:5", "invalid_json")]
    assert "345" not in (parsed.problems[1].raw or "")


# --- Parquet and sniffing -----------------------------------------------------------------------

def _parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def test_parquet_keeps_native_types() -> None:
    data = _parquet(pl.DataFrame({" Leg ": [1, 2], "Name": ["x", ""]}))
    parsed = read("calls.parquet", data)
    assert parsed.header == ["leg", "name"]
    assert parsed.frame.schema["leg"] == pl.Int64
    assert parsed.frame.rows() == [(1, "x", 1), (2, None, 2)]


@pytest.mark.parametrize(("data", "fmt"), [
    (b'  {"a": 1}\n', "jsonl"),
    (b"a,b\n1,2\n", "csv"),
])
def test_unknown_extension_is_sniffed(data: bytes, fmt: str) -> None:
    assert read("export.dat", data).fmt == fmt


def test_unknown_extension_parquet_magic() -> None:
    assert read("export", _parquet(pl.DataFrame({"a": [1]}))).fmt == "parquet"


def test_blank_lines_before_the_header_are_skipped() -> None:
    parsed = read("t.csv", "\n\r\na,b\n1,2\n")
    assert parsed.header == ["a", "b"]
    assert parsed.frame.rows() == [("1", "2", 4)]
