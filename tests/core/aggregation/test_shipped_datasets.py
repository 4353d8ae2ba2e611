"""The datasets the platform ships (each scene's departments' tables) are sound declarations whose
owner is a department of the shipped organisation: a dataset names who answers for its data."""

from __future__ import annotations

from pathlib import Path

import pytest

import citybrain
import citybrain.identity.org as org_file
from citybrain.core.aggregation.datasets import load_datasets

SHIPPED = sorted((Path(citybrain.__file__).parent / "data").glob("*/datasets.toml"))


def test_scenes_ship_datasets() -> None:
    assert {p.parent.name for p in SHIPPED} >= {"welfare", "safety"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_every_shipped_dataset_is_owned_by_a_department(path: Path) -> None:
    departments = {d.id for d in org_file.load().departments}
    datasets = load_datasets(path)
    assert datasets
    strangers = {name: ds.owner for name, ds in datasets.items() if ds.owner not in departments}
    assert not strangers, f"owners not in identity/org.toml: {strangers}"
