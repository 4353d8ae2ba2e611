"""A welfare platform over a handful of hand-made households, delivered the way departments
deliver them: CSV files (GBK) from civil affairs, an Excel file from real estate, NDJSON pushes
from medical insurance and human resources. Dates are relative to the screening day (today)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from citybrain.core.config import load_settings
from citybrain.core.platform import Platform
from citybrain.core.scenes import discover
from citybrain.scenes.welfare.screening import Welfare, screening_day
from citybrain.sdk import now_ms

RURAL = "360121100202"  # 南昌县莲塘镇斗门村 (rural 低保 standard)
TOWN = "360102002001"  # 东湖区滕王阁街道民巷社区 (urban)


def ago(days: int) -> str:
    return (screening_day(now_ms()) - timedelta(days=days)).isoformat()


def later(days: int) -> str:
    return (screening_day(now_ms()) + timedelta(days=days)).isoformat()


def pid(n: int, region: str = "360121", born: str = "19700101") -> str:
    """A valid resident ID number (GB 11643 check digit)."""
    body = f"{region}{born}{n:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


A1, A2, A3, B1, B2, C1, D1, D2 = (pid(i) for i in range(11, 19))
HOUSEHOLDS = [
    # H1: rural, 3 people, low wages (12,000 a year): an illness above half of that is a risk
    {
        "户编号": "H1",
        "村(社区)代码": RURAL,
        "户主姓名": "张三丰",
        "户主身份证号": A1,
        "联系电话": "13800001111",
        "住址": "莲塘镇斗门村一组8号",
        "家庭人口": 3,
        "帮扶身份": "一般户",
        "社保卡账号": "6217000011112222",
    },
    # H2: urban, lifted out of poverty, wages fell from 60,000 to 24,000 a year (12,000 each)
    {
        "户编号": "H2",
        "村(社区)代码": TOWN,
        "户主姓名": "李四",
        "户主身份证号": B1,
        "联系电话": "13900002222",
        "住址": "民巷12号",
        "家庭人口": 2,
        "帮扶身份": "脱贫户",
        "社保卡账号": "6217000033334444",
    },
    # H3: no 授权书: its data is never compared, whatever its bills
    {
        "户编号": "H3",
        "村(社区)代码": RURAL,
        "户主姓名": "王五",
        "户主身份证号": C1,
        "联系电话": "13700003333",
        "住址": "斗门村二组3号",
        "家庭人口": 1,
        "帮扶身份": "一般户",
        "社保卡账号": "",
    },
    # H4: urban 低保户, no wages, a member with a grade-1 disability
    {
        "户编号": "H4",
        "村(社区)代码": TOWN,
        "户主姓名": "赵六",
        "户主身份证号": D1,
        "联系电话": "13600004444",
        "住址": "民巷30号",
        "家庭人口": 2,
        "帮扶身份": "低保户",
        "社保卡账号": "6217000055556666",
    },
]
MEMBERS = [
    (A1, "H1", "张三丰", "户主", "有劳动能力"),
    (A2, "H1", "李梅", "配偶", "有劳动能力"),
    (A3, "H1", "张小宝", "子女", "无劳动能力"),
    (B1, "H2", "李四", "户主", "有劳动能力"),
    (B2, "H2", "周芳", "配偶", "有劳动能力"),
    (C1, "H3", "王五", "户主", "弱劳动能力"),
    (D1, "H4", "赵六", "户主", "无劳动能力"),
    (D2, "H4", "钱七", "配偶", "有劳动能力"),
]


def _wages() -> list[dict[str, Any]]:
    rows = []
    this = screening_day(now_ms()).replace(day=1)
    for m in range(1, 25):  # whole months back: 1..12 the last year, 13..24 the year before
        months = this.year * 12 + this.month - 1 - m
        month = date(months // 12, months % 12 + 1, 1).isoformat()
        rows.append({"身份证号": A1, "缴费月份": month, "缴费工资": 1000.0})  # H1: 12,000 a year
        rows.append({"身份证号": B1, "缴费月份": month, "缴费工资": 2000.0 if m <= 12 else 5000.0})
    return rows


PUSHES: dict[str, list[dict[str, Any]]] = {
    "civil.authorisations": [
        {"授权书编号": f"SQ-{h}", "户编号": h, "签署日期": ago(100), "有效期至": later(600)}
        for h in ("H1", "H2", "H4")
    ],
    "hrss.wages": _wages(),
    "medical.bills": [
        {
            "结算单号": "Y-C1",
            "身份证号": C1,
            "结算日期": ago(20),
            "医疗总费用": 90000.0,
            "个人负担": 50000.0,
            "诊断": "肺恶性肿瘤",
        }
    ],
}
FILES: dict[str, tuple[list[str], list[Sequence[Any]]]] = {
    "civil.members": (["身份证号", "户编号", "姓名", "与户主关系", "劳动能力"], [list(m) for m in MEMBERS]),
    "disability.records": (["身份证号", "残疾等级", "残疾类别"], [[D1, 1, "肢体"]]),
    "police.vehicles": (["号牌号码", "所有人身份证号", "车辆类型"], [["赣A12345", B2, "小型汽车"]]),
}


def ndjson(rows: Sequence[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def gbk_csv(header: list[str], rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode("gbk")


def welfare_platform(tmp: Path, **env: str) -> Platform:
    settings = load_settings(env={"CITYBRAIN_DATA_DIR": str(tmp), **env})
    return Platform(settings, scenes=discover({"welfare"}))


def deliver(p: Platform, tmp: Path) -> None:
    """The departments' baseline: files read from their folders, pushes posted."""
    agg = p.aggregator
    head = list(HOUSEHOLDS[0])
    register: list[Sequence[Any]] = [[h[c] for c in head] for h in HOUSEHOLDS]
    files = {"civil.households": (head, register), **FILES}
    for name, (header, lines) in files.items():
        path = tmp / f"{name}.csv"
        path.write_bytes(gbk_csv(header, lines))
        report = agg.load_file(name, path)
        assert (report.status, report.rows_bad) == ("done", 0), (name, report)
    for name, rows in PUSHES.items():
        report = agg.push(name, ndjson(rows))
        assert (report.status, report.rows_bad) == ("done", 0), (name, report)


def world(p: Platform) -> Welfare:
    w: Welfare = p.runtime("welfare").world
    return w


def screen_all(p: Platform) -> dict[str, Any]:
    got = world(p).screener(p.runtime("welfare")).full()
    p.pipeline.drain()
    return got


def states(p: Platform) -> dict[str, dict[str, Any]]:
    return {s["key"]: s["data"] for s in p.store.states("welfare")}


def today() -> date:
    return screening_day(now_ms())


def iter_rows(p: Platform, dataset: str) -> Iterator[dict[str, Any]]:
    for r in p.store.current_rows(dataset):
        yield r.data
