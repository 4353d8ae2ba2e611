"""Departmental data for scenes (``from citybrain.sdk import data``): datasets and their facts
(docs/aggregation.md), the city's divisions, features built from the current rows and the rule
sets that decide on them (docs/rules.md). The core modules stay behind this one."""

from citybrain.core.aggregation.datasets import Column, Dataset, load_datasets
from citybrain.core.aggregation.facts import CurrentRow, Fact, RunReport
from citybrain.core.aggregation.rows import check_row, id_check_digit, key_of
from citybrain.core.aggregation.runner import Aggregator
from citybrain.core.divisions import Division, Divisions, nanchang
from citybrain.core.rules.evaluate import (
    ClauseResult,
    Decision,
    Outcome,
    explain,
    screen,
    screen_many,
    what_if,
)
from citybrain.core.rules.expr import Value
from citybrain.core.rules.features import FeatureSpec, Population, SubjectSpec, build, load_features
from citybrain.core.rules.features import check as check_features
from citybrain.core.rules.rulesets import RuleBook, RuleSet, RuleSetSpec, load_rules

__all__ = [
    "Aggregator",
    "ClauseResult",
    "Column",
    "CurrentRow",
    "Dataset",
    "Decision",
    "Division",
    "Divisions",
    "Fact",
    "FeatureSpec",
    "Outcome",
    "Population",
    "RuleBook",
    "RuleSet",
    "RuleSetSpec",
    "RunReport",
    "SubjectSpec",
    "Value",
    "build",
    "check_features",
    "check_row",
    "explain",
    "id_check_digit",
    "key_of",
    "load_datasets",
    "load_features",
    "load_rules",
    "nanchang",
    "screen",
    "screen_many",
    "what_if",
]
