"""The dashboard's words (issue 18 item 4, Chinese throughout): the zh-CN and en catalogues hold the
same keys, and Chinese text uses full-width punctuation, in the catalogue and in every scene
panel's zh-CN labels ("令牌已失效,请重新登录" and "出口 (近15分钟)" were shown)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from citybrain.core.scenes import discover

I18N = Path(__file__).resolve().parents[2] / "src" / "citybrain" / "web" / "static" / "i18n"
CJK = r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]"
HALF_WIDTH = re.compile(rf"(?<={CJK})[,;:?!]|[,;:?!](?={CJK})")
PARENS = re.compile(r"\(([^()]*)\)")


def half_width(text: str) -> list[str]:
    """Half-width punctuation inside Chinese text: , ; : ? ! beside a Chinese character, and
    brackets around Chinese or right after it (format codes, paths and English stay as they are)."""
    found = [m.group(0) for m in HALF_WIDTH.finditer(text)]
    for m in PARENS.finditer(text):
        before = text[max(0, m.start() - 1) : m.start()].strip() or text[max(0, m.start() - 2) : m.start()]
        if re.search(CJK, m.group(1)) or re.search(CJK, before):
            found.append(m.group(0))
    return found


def test_the_check_finds_what_was_shown() -> None:
    assert half_width("令牌已失效,请重新登录") == [","] and half_width("出口 (近15分钟)") == ["(近15分钟)"]
    assert half_width("令牌已失效，请重新登录") == [] and half_width("make deps (npm ci), 00:15") == []


def _catalogue(locale: str) -> dict[str, str]:
    words: dict[str, str] = json.loads((I18N / f"{locale}.json").read_text(encoding="utf-8"))
    return words


def test_both_catalogues_hold_the_same_keys() -> None:
    zh, en = _catalogue("zh-CN"), _catalogue("en")
    assert sorted(set(zh) - set(en)) == [] and sorted(set(en) - set(zh)) == []


def test_the_chinese_catalogue_uses_full_width_punctuation() -> None:
    wrong = {k: v for k, v in _catalogue("zh-CN").items() if half_width(v)}
    assert not wrong, wrong


def _labels(x: Any, path: str, out: list[tuple[str, str]]) -> None:
    if isinstance(x, dict):
        for k, v in x.items():
            if k == "zh-CN" and isinstance(v, str):
                out.append((path, v))
            else:
                _labels(v, f"{path}/{k}", out)
    elif isinstance(x, list):
        for v in x:
            _labels(v, path, out)


@pytest.mark.parametrize("scene", sorted(discover()))
def test_every_panel_label_in_chinese_uses_full_width_punctuation(scene: str) -> None:
    panel = discover()[scene].panel
    if panel is None:
        pytest.skip(f"{scene} has no panel")
    labels: list[tuple[str, str]] = []
    _labels(msgspec.to_builtins(panel), scene, labels)
    assert labels, f"{scene}'s panel has Chinese labels"
    wrong = [(where, text) for where, text in labels if half_width(text)]
    assert not wrong, wrong
