"""Delivered files and pushed bodies as raw rows (readers.py): CSV in GBK without a BOM (as
government systems export it), UTF-8 with and without a BOM; real .xlsx and Parquet files written
here; NDJSON with bad lines; the errors of files that cannot be read; and fuzzing with random and
damaged files, which only ever give rows or our ValidationError.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import tracemalloc
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citybrain.core.aggregation import readers
from citybrain.core.aggregation.datasets import Column, Dataset, FileFormat
from citybrain.core.aggregation.readers import (
    ERROR,
    UNNAMED,
    RawRow,
    detect_encoding,
    file_digest,
    missing_headers,
    read_file,
    read_ndjson,
)
from citybrain.core.aggregation.rows import check_row
from citybrain.core.errors import ConfigError, ValidationError

HEADER = ["户主姓名", "身份证号", "家庭人口", "月收入"]
FORMATS: list[FileFormat] = ["csv", "xlsx", "parquet", "ndjson"]


def dataset(fmt: FileFormat = "csv", encoding: str = "", sheet: str = "") -> Dataset:
    """低保名册: name and ID required (the ID is the key), size and income optional, plus a phone."""
    ds = Dataset(
        name="civil.dibao_roster",
        title="低保名册",
        owner="civil",
        key=["id_no"],
        columns=[
            Column("head_name", source="户主姓名", required=True),
            Column("id_no", type="id_number", source="身份证号", sensitive=True),
            Column("size", type="int", source="家庭人口", min=1, max=20),
            Column("income", type="float", source="月收入", min=0),
            Column("phone", source="联系电话"),
            Column("since", type="date", source="认定日期"),
        ],
        origin="file",
        folder="/drop/civil",
        format=fmt,
        encoding=encoding,
        sheet=sheet,
    )
    ds.check()
    return ds


def refusal(ds: Dataset, path: Path) -> str:
    """The reason the file is refused (its one problem names the file, on line 0)."""
    with pytest.raises(ValidationError) as caught:
        list(read_file(ds, path))
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (0, path.name)
    return problem.reason


def rows_of(ds: Dataset, path: Path) -> list[tuple[int, dict[str, Any]]]:
    return [(r.no, r.values) for r in read_file(ds, path)]


# --- encodings -----------------------------------------------------------------------------------


def test_detect_encoding() -> None:
    text = "户主姓名,身份证号\n张三,11010519491231002X\n"
    assert detect_encoding(text.encode("utf-8")) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbf" + text.encode("utf-8")) == "utf-8-sig"
    assert detect_encoding(text.encode("gbk")) == "gb18030"
    assert detect_encoding(b"") == "utf-8"
    assert detect_encoding(b"id,name\n1,a\n") == "utf-8"
    # a head cut inside a character (户 is 3 bytes in UTF-8) is still UTF-8
    assert detect_encoding("户".encode()[:1]) == "utf-8"
    assert detect_encoding("a户".encode()[:2]) == "utf-8"
    assert detect_encoding(text.encode("utf-8")[:-1] + "户".encode()[:2]) == "utf-8"
    # ...but a bad byte before the end is not
    assert detect_encoding("户".encode()[:2] + b"a") == "gb18030"
    assert detect_encoding(b"\xff\xfe") == "gb18030"


GBK_CSV = (
    "户主姓名,身份证号,家庭人口,月收入\n张三,11010519491231002X,3,1200.5\n李四娟,110105198001010016,1,0\n"
)


def test_gbk_csv_without_bom(tmp_path: Path) -> None:
    p = tmp_path / "低保名册.csv"
    p.write_bytes(GBK_CSV.encode("gbk"))
    assert detect_encoding(p.read_bytes()) == "gb18030"
    assert rows_of(dataset(), p) == [
        (2, {"户主姓名": "张三", "身份证号": "11010519491231002X", "家庭人口": "3", "月收入": "1200.5"}),
        (3, {"户主姓名": "李四娟", "身份证号": "110105198001010016", "家庭人口": "1", "月收入": "0"}),
    ]
    # the same with the encoding declared
    assert rows_of(dataset(encoding="gbk"), p)[0][1]["户主姓名"] == "张三"


def test_utf8_with_and_without_bom(tmp_path: Path) -> None:
    plain, bom = tmp_path / "plain.csv", tmp_path / "bom.csv"
    plain.write_text(GBK_CSV, encoding="utf-8")
    bom.write_text(GBK_CSV, encoding="utf-8-sig")
    assert bom.read_bytes().startswith(b"\xef\xbb\xbf")
    expected = rows_of(dataset(), plain)
    assert expected[0] == (
        2,
        {"户主姓名": "张三", "身份证号": "11010519491231002X", "家庭人口": "3", "月收入": "1200.5"},
    )
    assert rows_of(dataset(), bom) == expected  # the BOM is not part of the first header
    assert rows_of(dataset(encoding="utf-8"), bom) == expected  # nor when UTF-8 is declared


def test_gbk_after_a_long_ascii_head_is_still_read(tmp_path: Path) -> None:
    """The head that guesses the encoding is plain ASCII; the Chinese comes later: GB18030."""
    lines = ["head_name,id"]  # an ASCII header...
    ds = Dataset(
        name="civil.ascii_head",
        title="t",
        owner="civil",
        key=["id"],
        columns=[Column("head_name", required=True), Column("id")],
        origin="file",
        folder="/x",
    )
    lines += [f"name{i},{i}" for i in range(10_000)]  # ...and ~130 KB of ASCII rows
    lines.append("王五,99999")
    p = tmp_path / "late.csv"
    p.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    assert len(p.read_bytes()) > 64 * 1024
    rows = list(read_file(ds, p))
    assert rows[-1] == RawRow(10_002, {"head_name": "王五", "id": "99999"})
    assert len(rows) == 10_001


def test_csv_that_does_not_decode_in_its_declared_encoding(tmp_path: Path) -> None:
    p = tmp_path / "名册.csv"
    p.write_bytes(GBK_CSV.encode("gbk"))
    reason = refusal(dataset(encoding="utf-8"), p)
    assert "does not decode as utf-8" in reason
    assert "(line 1)" in reason  # the first Chinese header


def test_csv_bad_bytes_even_for_gb18030(tmp_path: Path) -> None:
    p = tmp_path / "broken.csv"
    p.write_bytes(GBK_CSV.encode("gbk") + b"\xff\xff,x\n")
    reason = refusal(dataset(), p)
    assert "does not decode as gb18030" in reason
    assert "(line 4)" in reason


def test_unknown_declared_encoding_is_a_config_error(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text(GBK_CSV, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"civil\.dibao_roster.*'klingon'"):
        list(read_file(dataset(encoding="klingon"), p))


# --- CSV rows ------------------------------------------------------------------------------------


def test_csv_blank_lines_skipped_but_counted_and_short_and_long_rows(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text(
        "\n"  # 1: blank before the header
        " 户主姓名 ,身份证号,家庭人口,月收入,\n"  # 2: header, names stripped; an unnamed 5th column
        "张三,11010519491231002X,3,1200.5,备注\n"  # 3: a cell under no header
        "\n"  # 4
        ",,, ,\n"  # 5: fully empty
        "李四,110105198001010016\n"  # 6: short: None for the rest
        "王五,110105198001010016,2,100,,\n"  # 7: one empty cell more than the header: ignored
        '赵六,"北京市,朝阳区",2,100,x,y\n',  # 8: more cells than the header
        encoding="utf-8",
    )
    rows = rows_of(dataset(), p)
    assert rows[0] == (
        3,
        {
            "户主姓名": "张三",
            "身份证号": "11010519491231002X",
            "家庭人口": "3",
            "月收入": "1200.5",
            UNNAMED: ["备注"],
        },
    )
    assert rows[1] == (
        6,
        {"户主姓名": "李四", "身份证号": "110105198001010016", "家庭人口": None, "月收入": None},
    )
    assert rows[2] == (
        7,
        {"户主姓名": "王五", "身份证号": "110105198001010016", "家庭人口": "2", "月收入": "100"},
    )
    no, values = rows[3]
    assert no == 8
    assert values[UNNAMED] == ["x", "y"]
    assert values["身份证号"] == "北京市,朝阳区"
    assert "6 cells but the header has 5" in values[ERROR]
    assert len(rows) == 4


def test_csv_quoted_cell_over_two_lines_is_one_row(tmp_path: Path) -> None:
    """Numbers are rows as a spreadsheet shows them: a quoted cell holding a line break counts once."""
    p = tmp_path / "a.csv"
    p.write_text('户主姓名,身份证号\n"张\n三",1\n李四,2\n', encoding="utf-8")
    assert rows_of(dataset(), p) == [
        (2, {"户主姓名": "张\n三", "身份证号": "1"}),
        (3, {"户主姓名": "李四", "身份证号": "2"}),
    ]


def test_title_rows_above_the_header_are_skipped(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text("2026年11月低保名册,,\n填报单位：朝阳街道,,\n户主姓名,身份证号\n张三,1\n", encoding="gbk")
    assert rows_of(dataset(), p) == [(4, {"户主姓名": "张三", "身份证号": "1"})]


def test_csv_lacking_a_required_or_key_column(tmp_path: Path) -> None:
    p = tmp_path / "名册.csv"
    p.write_text("户主姓名,身份证,家庭人口\n张三,1,2\n", encoding="gbk")
    reason = refusal(dataset(), p)
    assert "lacks the column(s) 身份证号" in reason
    assert "户主姓名, 身份证, 家庭人口" in reason  # what the header has
    # an optional column missing is fine
    p.write_text("户主姓名,身份证号\n张三,1\n", encoding="gbk")
    assert rows_of(dataset(), p) == [(2, {"户主姓名": "张三", "身份证号": "1"})]


def test_the_header_is_looked_for_only_in_the_first_rows(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    title = "".join(f"说明{i}\n" for i in range(readers.HEADER_SEARCH))
    p.write_text(title + "户主姓名,身份证号\n张三,1\n", encoding="utf-8")
    assert "lacks the column(s) 户主姓名, 身份证号 (its header row has: 说明0)" in refusal(dataset(), p)
    p.write_text(title.split("\n", 1)[1] + "户主姓名,身份证号\n张三,1\n", encoding="utf-8")
    assert rows_of(dataset(), p) == [(readers.HEADER_SEARCH + 1, {"户主姓名": "张三", "身份证号": "1"})]


def test_empty_csv_and_a_needed_column_twice(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_bytes(b"\n\n , \n")
    assert "no header row" in refusal(dataset(), p)
    p.write_text("户主姓名,身份证号,身份证号\n张三,1,2\n", encoding="utf-8")
    assert "'身份证号' twice" in refusal(dataset(), p)
    # a repeated header the dataset does not use is kept, numbered
    p.write_text("户主姓名,身份证号,备注,备注\n张三,1,a,b\n", encoding="utf-8")
    assert rows_of(dataset(), p) == [(2, {"户主姓名": "张三", "身份证号": "1", "备注": "a", "备注#2": "b"})]


@pytest.mark.parametrize("module_limit", [131_072, 1 << 24])  # whatever another part set it to
def test_a_csv_cell_over_the_cell_limit_is_a_validation_error(tmp_path: Path, module_limit: int) -> None:
    p = tmp_path / "huge.csv"
    p.write_text("户主姓名,身份证号\n张三," + "1" * 200_000 + "\n", encoding="utf-8")
    before = csv.field_size_limit(module_limit)
    try:
        assert "is not a readable CSV" in refusal(dataset(), p)
    finally:
        csv.field_size_limit(before)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_missing_file_is_a_validation_error(tmp_path: Path, fmt: FileFormat) -> None:
    assert "cannot be read (FileNotFoundError" in refusal(dataset(fmt), tmp_path / "gone.dat")


def test_csv_is_streamed(tmp_path: Path) -> None:
    """An 8 MB file is read holding a few rows, not the file: memory stays far under its size."""
    p = tmp_path / "big.csv"
    row = ("张三丰,11010519491231002X,3,1200.5," + "家住朝阳区某街道某小区" * 20 + "\n").encode("gbk")
    with p.open("wb") as f:
        f.write((",".join(HEADER) + ",备注\n").encode("gbk"))
        for _ in range(8 * 1024 * 1024 // len(row) // 100):
            f.write(row * 100)
    size = p.stat().st_size
    count = last = 0
    tracemalloc.start()
    try:
        for r in read_file(dataset(), p):
            count += 1
            last = r.no
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == last - 1 > 15_000
    assert peak < size / 4, (peak, size)


# --- xlsx ----------------------------------------------------------------------------------------


def write_xlsx(path: Path, rows: list[list[Any]], title: str = "低保名册", more: str = "") -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    for r in rows:
        ws.append(r)
    if more:
        wb.create_sheet(more).append(["户主姓名", "身份证号"])
        wb[more].append(["另一表", "2"])
    wb.save(path)


def test_xlsx_typed_cells_and_row_numbers(tmp_path: Path) -> None:
    p = tmp_path / "名册.xlsx"
    write_xlsx(
        p,
        [
            ["2026年11月 低保名册"],  # 1: a title row
            ["户主姓名", "身份证号", "家庭人口", "月收入", "联系电话", "认定日期", None],  # 2
            ["张三", "11010519491231002X", 3, 1200.5, 13800001234, datetime(2026, 11, 30), "备注"],  # 3
            [],  # 4: empty
            [None, None, None],  # 5: empty
            ["李四", "110105198001010016", 1, 0.0, 13800001234.0, None, None, None, "右边"],  # 6
            ["王五", "110105198001010016"],  # 7: short
        ],
    )
    rows = rows_of(dataset("xlsx"), p)
    assert rows == [
        (
            3,
            {
                "户主姓名": "张三",
                "身份证号": "11010519491231002X",
                "家庭人口": 3,
                "月收入": 1200.5,
                "联系电话": 13800001234,
                "认定日期": datetime(2026, 11, 30),
                UNNAMED: ["备注"],
            },
        ),
        (
            6,
            {
                "户主姓名": "李四",
                "身份证号": "110105198001010016",
                "家庭人口": 1,
                "月收入": 0.0,
                "联系电话": 13800001234,
                "认定日期": None,
                UNNAMED: ["右边"],  # a cell right of the table: kept, not an error
            },
        ),
        (
            7,
            {"户主姓名": "王五", "身份证号": "110105198001010016"}
            | dict.fromkeys(["家庭人口", "月收入", "联系电话", "认定日期"]),
        ),
    ]
    assert isinstance(rows[0][1]["家庭人口"], int) and isinstance(rows[0][1]["月收入"], float)
    # typed by check_row: the phone as text without ".0", the date as ISO text
    values, problems = check_row(dataset("xlsx"), 6, rows[1][1])
    assert problems == []
    assert values is not None
    assert values["phone"] == "13800001234" and values["size"] == 1 and values["income"] == 0.0
    values, _ = check_row(dataset("xlsx"), 3, rows[0][1])
    assert values is not None and values["since"] == "2026-11-30"


def test_xlsx_sheet_by_name_and_any_file_name(tmp_path: Path) -> None:
    p = tmp_path / "名册.dat"  # a drop folder may hold any name
    write_xlsx(p, [["户主姓名", "身份证号"], ["张三", "1"]], more="第二季度")
    assert rows_of(dataset("xlsx"), p) == [(2, {"户主姓名": "张三", "身份证号": "1"})]  # the first sheet
    assert rows_of(dataset("xlsx", sheet="第二季度"), p) == [(2, {"户主姓名": "另一表", "身份证号": "2"})]
    reason = refusal(dataset("xlsx", sheet="第三季度"), p)
    assert "has no sheet '第三季度' (its sheets: 低保名册, 第二季度)" in reason


def test_xlsx_header_and_file_errors(tmp_path: Path) -> None:
    p = tmp_path / "名册.xlsx"
    write_xlsx(p, [["户主姓名", "家庭人口"], ["张三", 3]])
    assert "lacks the column(s) 身份证号" in refusal(dataset("xlsx"), p)
    write_xlsx(p, [])
    assert "no header row" in refusal(dataset("xlsx"), p)
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    assert "old Excel .xls" in refusal(dataset("xlsx"), p)
    p.write_bytes(b"PK\x03\x04 not really a zip")
    assert "is not a readable Excel .xlsx file" in refusal(dataset("xlsx"), p)
    p.write_text(GBK_CSV, encoding="utf-8")  # a CSV named .xlsx
    assert "is not a readable Excel .xlsx file" in refusal(dataset("xlsx"), p)


def test_xlsx_header_cells_that_are_numbers(tmp_path: Path) -> None:
    p = tmp_path / "a.xlsx"
    write_xlsx(p, [["户主姓名", "身份证号", 2025, 2026.0], ["张三", "1", 10, 20]])
    assert rows_of(dataset("xlsx"), p) == [(2, {"户主姓名": "张三", "身份证号": "1", "2025": 10, "2026": 20})]


# --- Parquet -------------------------------------------------------------------------------------


def test_parquet_values_and_numbers(tmp_path: Path) -> None:
    p = tmp_path / "名册.parquet"
    n = readers._PARQUET_BATCH + 5  # across two batches
    table = pa.table(
        {
            "户主姓名": ["张三", None] + ["x"] * (n - 2),
            "身份证号": ["11010519491231002X", "2"] + [str(i) for i in range(n - 2)],
            "家庭人口": pa.array([3, None] + [1] * (n - 2), pa.int64()),
            "月收入": [1200.5, float("nan")] + [0.0] * (n - 2),
            "认定日期": pa.array([date(2026, 11, 30), None] + [None] * (n - 2), pa.date32()),
            "更新时间": pa.array([datetime(2026, 11, 30, 8, 30)] * n, pa.timestamp("s")),
            "是否残疾": [True, False] + [None] * (n - 2),
        }
    )
    pq.write_table(table, p)
    rows = list(read_file(dataset("parquet"), p))
    assert [r.no for r in rows] == list(range(1, n + 1))
    assert rows[0].values == {
        "户主姓名": "张三",
        "身份证号": "11010519491231002X",
        "家庭人口": 3,
        "月收入": 1200.5,
        "认定日期": date(2026, 11, 30),
        "更新时间": datetime(2026, 11, 30, 8, 30),
        "是否残疾": True,
    }
    assert rows[1].values["户主姓名"] is None and rows[1].values["家庭人口"] is None
    assert rows[-1].values["身份证号"] == str(n - 3)


def test_parquet_errors(tmp_path: Path) -> None:
    p = tmp_path / "名册.parquet"
    pq.write_table(pa.table({"户主姓名": ["张三"], "家庭人口": [3]}), p)
    assert "lacks the column(s) 身份证号 (it has: 户主姓名, 家庭人口)" in refusal(dataset("parquet"), p)
    p.write_text(GBK_CSV, encoding="utf-8")
    assert "is not a readable Parquet file" in refusal(dataset("parquet"), p)


# --- NDJSON --------------------------------------------------------------------------------------

NDJSON = b"".join(
    [
        b'\xef\xbb\xbf{"id": "1", "n": 2, "ok": true, "x": null}\r\n',  # 1: a BOM, CRLF
        b"\n",  # 2: blank
        b'  {"id": "\xe5\xbc\xa0"}  \n',  # 3: 张, spaces around
        b"[1, 2]\n",  # 4: an array
        b'{"id": 1,\n',  # 5: not JSON
        b"null\n",  # 6
        b'"text"\n',  # 7
        b"42\n",  # 8
        b'{"id": "\xff"}\n',  # 9: not UTF-8
        b"[" * 5000 + b"\n",  # 10: too deep
        b'{"id": "last"}',  # 11: no final newline
    ]
)


def test_read_ndjson_rows_and_bad_lines() -> None:
    rows = list(read_ndjson(NDJSON, where="push civil.dibao_roster"))
    good = [(r.no, r.values) for r in rows if ERROR not in r.values]
    assert good == [(1, {"id": "1", "n": 2, "ok": True, "x": None}), (3, {"id": "张"}), (11, {"id": "last"})]
    bad = {r.no: r.values[ERROR] for r in rows if ERROR in r.values}
    assert set(bad) == {4, 5, 6, 7, 8, 9, 10}
    assert all(list(r.values) == [ERROR] for r in rows if ERROR in r.values)  # the reason only
    assert bad[4] == "line 4 of push civil.dibao_roster is an array, not a JSON object"
    assert bad[6].endswith("is null, not a JSON object")
    assert bad[7].endswith("is a string, not a JSON object")
    assert bad[8].endswith("is a number, not a JSON object")
    assert "line 5 of push civil.dibao_roster is not valid JSON" in bad[5]
    assert "not valid JSON" in bad[9] and "not valid JSON" in bad[10]
    assert list(read_ndjson(b"")) == [] and list(read_ndjson(b"\n\n  \n")) == []


def test_ndjson_file_is_read_like_a_body(tmp_path: Path) -> None:
    p = tmp_path / "push-2026-11-30.ndjson"
    p.write_bytes(NDJSON)
    from_file = list(read_file(dataset("ndjson"), p))
    from_body = list(read_ndjson(NDJSON, where=p.name))
    assert from_file == from_body
    assert len(from_file) == 10


# --- digest and headers --------------------------------------------------------------------------


def test_file_digest(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(GBK_CSV.encode("gbk"))
    b.write_bytes(GBK_CSV.encode("gbk"))
    assert file_digest(a) == file_digest(b) == hashlib.sha256(GBK_CSV.encode("gbk")).hexdigest()
    b.write_bytes(GBK_CSV.encode("gbk") + b"\n")
    assert file_digest(a) != file_digest(b)


def test_missing_headers() -> None:
    ds = dataset()
    assert missing_headers(ds, ["联系电话"]) == [
        "户主姓名",
        "身份证号",
    ]  # required, then key; in column order
    assert missing_headers(ds, iter(["身份证号", "户主姓名"])) == []
    assert missing_headers(ds, ["head_name", "id_no"]) == ["户主姓名", "身份证号"]  # the source, not the name


# --- fuzzing -------------------------------------------------------------------------------------


def _xlsx_bytes() -> bytes:
    buf = io.BytesIO()
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    for r in [["户主姓名", "身份证号", "家庭人口"], ["张三", "11010519491231002X", 3], ["李四", "2", 1.5]]:
        ws.append(r)
    wb.save(buf)
    return buf.getvalue()


def _parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pq.write_table(
        pa.table({"户主姓名": ["张三", "李四"], "身份证号": ["1", "2"], "家庭人口": [3, None]}), buf
    )
    return buf.getvalue()


VALID = {"csv": GBK_CSV.encode("gbk"), "xlsx": _xlsx_bytes(), "parquet": _parquet_bytes(), "ndjson": NDJSON}


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


XLSX_PARTS = _parts(VALID["xlsx"])


@st.composite
def damaged(draw: st.DrawFn, fmt: str) -> bytes:
    """Random bytes; or a valid file with bytes overwritten, or cut short; or (xlsx) a valid zip
    holding one damaged part (worksheet XML, shared strings, styles ...), which the zip's CRC
    cannot catch."""
    how = draw(
        st.sampled_from(
            ["random", "overwrite", "cut", "part"] if fmt == "xlsx" else ["random", "overwrite", "cut"]
        )
    )
    if how == "random":
        return draw(st.binary(max_size=3000))
    if how == "cut":
        return VALID[fmt][: draw(st.integers(0, len(VALID[fmt]) - 1))]
    part = draw(st.sampled_from(sorted(XLSX_PARTS))) if how == "part" else ""
    data = bytearray(XLSX_PARTS[part] if part else VALID[fmt])
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if not part:
        return bytes(data)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in XLSX_PARTS.items():
            z.writestr(name, bytes(data) if name == part else content)
    return out.getvalue()


def _read_only_gives_rows_or_our_error(fmt: FileFormat, data: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / name
        p.write_bytes(data)
        try:
            for r in read_file(dataset(fmt), p):
                assert isinstance(r, RawRow) and r.no >= 1
                assert all(isinstance(k, str) for k in r.values)
        except ValidationError as err:
            assert err.problems and err.problems[0].field == name


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("fmt", FORMATS)
def test_fuzz_read_file_only_raises_validation_error(fmt: FileFormat) -> None:
    @FUZZ
    @given(data=damaged(fmt))
    def check(data: bytes) -> None:
        _read_only_gives_rows_or_our_error(fmt, data, f"drop.{fmt}")

    check()


@FUZZ
@given(body=st.binary(max_size=500), header=st.sampled_from([b"", "户主姓名,身份证号\n".encode("gbk")]))
def test_fuzz_csv_after_a_good_header(body: bytes, header: bytes) -> None:
    _read_only_gives_rows_or_our_error("csv", header + body, "drop.csv")


LINE = st.one_of(
    st.binary(max_size=60),
    st.from_regex(rb"\A[\[\]{}\":, 0-9a-z\\\xe5\xbc\xa0]{0,40}\Z"),  # JSON-ish
    st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5)).map(
        lambda d: json.dumps(d).encode()
    ),
)


@FUZZ
@given(lines=st.lists(LINE, max_size=20))
def test_fuzz_read_ndjson_never_raises(lines: list[bytes]) -> None:
    body = b"\n".join(lines)
    last = 0
    for r in read_ndjson(body):
        assert r.no > last
        last = r.no
        assert isinstance(r.values, dict)
        if ERROR in r.values and len(r.values) == 1:
            assert isinstance(r.values[ERROR], str) and f"line {r.no} of body" in r.values[ERROR]
    assert last <= body.count(b"\n") + 1


def test_fuzzers_see_both_outcomes(tmp_path: Path) -> None:
    """The damaged-file strategy is not all refusals: the valid files themselves read."""
    readable: dict[str, int] = {}
    for fmt in FORMATS:
        p = tmp_path / f"ok.{fmt}"
        p.write_bytes(VALID[fmt])
        readable[fmt] = len(list(read_file(dataset(fmt), p)))
    assert readable == {"csv": 2, "xlsx": 2, "parquet": 2, "ndjson": 10}


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=300) | st.binary(max_size=300).map(lambda b: b"[" + b))
def test_a_pushed_body_never_raises(body: bytes) -> None:
    from citybrain.core.aggregation.readers import read_json_body

    for row in read_json_body(body):
        assert row.no >= 1 and isinstance(row.values, dict)
