"""Rule clauses as small expressions, evaluated two ways that must agree: as SQL over a whole
population at once (vectorised, in DuckDB) and in Python over one subject (to explain a decision).

A clause is text such as ``income_pc_month < standard_month and vehicles == 0`` over **features**
(a subject's values: ``income_pc_month``) and **parameters** (the rule set's dated numbers:
``standard_month``). The grammar is a safe subset of Python's expression syntax, parsed with
``ast`` and refused, naming what and where, when it holds anything else:

* numbers, text in quotes, ``True``/``False``/``None``;
* ``+ - * /``, unary ``-``; comparisons ``< <= > >= == !=`` (chains too), ``x in (1, 2)``;
* ``and``, ``or``, ``not``; ``coalesce(a, b, ...)``, ``abs(x)``, ``min(a, b)``, ``max(a, b)``.

A missing value (``None``; SQL NULL) makes what depends on it unknown, as SQL's three-valued logic
says: ``None < 5`` is unknown, ``False and unknown`` is False, ``True or unknown`` is True. A clause
that comes out unknown is a decision for a person to review, never a silent pass or fail.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from citybrain.core.errors import ConfigError

Value = bool | int | float | str | None
_CMP_SQL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "=", ast.NotEq: "<>"}
_ARITH_SQL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
FUNCTIONS = ("coalesce", "abs", "min", "max")


@dataclass(frozen=True)
class Expr:
    """A parsed clause: its text, the names it reads, and the two evaluators."""

    text: str
    tree: ast.expr
    names: frozenset[str]

    def sql(self, params: Mapping[str, Value]) -> str:
        """The clause as SQL over columns named like the features; parameters inlined as literals
        (numbers formatted exactly, text quoted), so the statement needs no bound values."""
        return _sql(self.tree, params, self.text)

    def eval(self, values: Mapping[str, Value], params: Mapping[str, Value]) -> Value:
        """The clause over one subject's features (missing ones are None) and the parameters."""
        return _eval(self.tree, values, params)


def parse(text: str, where: str = "") -> Expr:
    """``text`` checked against the grammar; a ConfigError names the clause (``where``) and why."""
    label = f"{where}: " if where else ""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as err:
        raise ConfigError(f"{label}{text!r} is not an expression ({err.msg})") from None
    names: set[str] = set()
    called = set()  # a function's own name (coalesce) is not a value the clause reads
    for node in ast.walk(tree):
        _check(node, text, label)
        if isinstance(node, ast.Call):
            called.add(id(node.func))
        if isinstance(node, ast.Name) and id(node) not in called:
            names.add(node.id)
    return Expr(text.strip(), tree, frozenset(names))


_ALLOWED = (ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.Compare, ast.BinOp,
            ast.Name, ast.Load, ast.Constant, ast.Call, ast.Tuple, ast.List, ast.In, ast.NotIn,
            *_CMP_SQL, *_ARITH_SQL)  # fmt: skip


def _check(node: ast.AST, text: str, label: str) -> None:
    if not isinstance(node, _ALLOWED):
        raise ConfigError(f"{label}{text!r}: {type(node).__name__} is not allowed in a rule")
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool | int | float | str | type(None)):
        raise ConfigError(f"{label}{text!r}: the constant {node.value!r} is not allowed in a rule")
    if isinstance(node, ast.Constant) and isinstance(node.value, float) and not math.isfinite(node.value):
        raise ConfigError(f"{label}{text!r}: numbers must be finite")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            raise ConfigError(f"{label}{text!r}: only {', '.join(FUNCTIONS)} may be called")
        want = {"abs": (1, 1), "min": (2, 2), "max": (2, 2), "coalesce": (1, 20)}[node.func.id]
        if not want[0] <= len(node.args) <= want[1]:
            raise ConfigError(f"{label}{text!r}: {node.func.id} takes {want[0]}..{want[1]} values")
    if isinstance(node, ast.Name) and (not node.id.isidentifier() or node.id.startswith("_")):
        raise ConfigError(f"{label}{text!r}: the name {node.id!r} is not allowed")
    if isinstance(node, ast.Compare):
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn) and not isinstance(right, ast.Tuple | ast.List):
                raise ConfigError(f"{label}{text!r}: 'in' takes a list of values in parentheses")
            if (
                isinstance(op, ast.In | ast.NotIn)
                and isinstance(right, ast.Tuple | ast.List)
                and not right.elts
            ):
                raise ConfigError(f"{label}{text!r}: 'in' takes at least one value")


# -- SQL ----------------------------------------------------------------------------------------


def _constant(node: ast.Constant) -> Value:
    v = node.value
    if v is None or isinstance(v, bool | int | float | str):
        return v
    raise ConfigError(f"the constant {v!r} is not allowed in a rule")  # pragma: no cover - checked at parse


def literal(v: Value) -> str:
    """A value as a SQL literal (DuckDB and PostgreSQL)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ConfigError(f"parameter {v!r} is not a finite number")
        # a binary double, as Python's float: DuckDB reads a bare 0.7 as an exact DECIMAL, and
        # 700 * 0.7 would then differ from Python's 489.99999999999994
        return f"CAST({v!r} AS DOUBLE)"
    return "'" + str(v).replace("'", "''") + "'"


def _sql(node: ast.expr, params: Mapping[str, Value], text: str) -> str:
    def go(n: ast.expr) -> str:
        return _sql(n, params, text)

    if isinstance(node, ast.Constant):
        return literal(_constant(node))
    if isinstance(node, ast.Name):
        if node.id in params:
            return f"({literal(params[node.id])})"
        return '"' + node.id + '"'
    if isinstance(node, ast.BoolOp):
        joiner = " AND " if isinstance(node.op, ast.And) else " OR "
        return "(" + joiner.join(go(v) for v in node.values) + ")"
    if isinstance(node, ast.UnaryOp):
        inner = go(node.operand)
        return (
            f"(NOT {inner})"
            if isinstance(node.op, ast.Not)
            else f"(-{inner})"
            if isinstance(node.op, ast.USub)
            else inner
        )
    if isinstance(node, ast.BinOp):
        left, right = go(node.left), go(node.right)
        if isinstance(
            node.op, ast.Div
        ):  # a real division, NULL for a division by zero (as in Python: unknown)
            return f"(CAST({left} AS DOUBLE PRECISION) / NULLIF({right}, 0))"
        return f"({left} {_ARITH_SQL[type(node.op)]} {right})"
    if isinstance(node, ast.Compare):
        parts: list[str] = []
        first: ast.expr = node.left
        for op, then in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                assert isinstance(then, ast.Tuple | ast.List)
                items = ", ".join(go(e) for e in then.elts) or "NULL"
                parts.append(f"({go(first)} {'NOT IN' if isinstance(op, ast.NotIn) else 'IN'} ({items}))")
            else:
                parts.append(f"({go(first)} {_CMP_SQL[type(op)]} {go(then)})")
            first = then
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [go(a) for a in node.args]
        name = node.func.id
        if name == "coalesce":
            return f"coalesce({', '.join(args)})"
        if name == "abs":
            return f"abs({args[0]})"
        # min/max of two, NULL when either is (Python's min(None, 1) is an error: unknown here)
        pick = "<" if name == "min" else ">"
        a, b = args
        return f"(CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL WHEN {a} {pick} {b} THEN {a} ELSE {b} END)"
    raise ConfigError(
        f"{text!r}: {type(node).__name__} cannot be written as SQL"
    )  # pragma: no cover - checked


# -- Python -------------------------------------------------------------------------------------


def _num(v: Value) -> float | int | None:
    if v is None or isinstance(v, int | float):  # bool is an int
        return v
    raise TypeError(f"{v!r} is not a number")


def _compare(op: ast.cmpop, a: Value, b: Value) -> bool | None:
    if a is None or b is None:
        return None
    fns: dict[type, Callable[[Any, Any], bool]] = {
        ast.Lt: lambda x, y: x < y, ast.LtE: lambda x, y: x <= y, ast.Gt: lambda x, y: x > y,
        ast.GtE: lambda x, y: x >= y, ast.Eq: lambda x, y: x == y, ast.NotEq: lambda x, y: x != y,
    }  # fmt: skip
    return fns[type(op)](a, b)


def _and(values: Sequence[Value]) -> bool | None:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(values: Sequence[Value]) -> bool | None:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def _eval(node: ast.expr, values: Mapping[str, Value], params: Mapping[str, Value]) -> Value:
    def go(n: ast.expr) -> Value:
        return _eval(n, values, params)

    if isinstance(node, ast.Constant):
        return _constant(node)
    if isinstance(node, ast.Name):
        v = params[node.id] if node.id in params else values.get(node.id)
        return None if isinstance(v, float) and math.isnan(v) else v  # NaN is a missing value
    if isinstance(node, ast.BoolOp):
        parts = [_truth(go(v)) for v in node.values]
        return _and(parts) if isinstance(node.op, ast.And) else _or(parts)
    if isinstance(node, ast.UnaryOp):
        v = go(node.operand)
        if isinstance(node.op, ast.Not):
            t = _truth(v)
            return None if t is None else not t
        n = _num(v)
        return None if n is None else (-n if isinstance(node.op, ast.USub) else n)
    if isinstance(node, ast.BinOp):
        a, b = _num(go(node.left)), _num(go(node.right))
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Div):
            return None if b == 0 else a / b
        return a + b if isinstance(node.op, ast.Add) else a - b if isinstance(node.op, ast.Sub) else a * b
    if isinstance(node, ast.Compare):
        results: list[Value] = []
        left = go(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                assert isinstance(right_node, ast.Tuple | ast.List)
                items = [go(e) for e in right_node.elts]
                found = _in(left, items)
                results.append(found if found is None or isinstance(op, ast.In) else not found)
                left = None  # an 'in' ends a chain in practice; nothing compares with a list
            else:
                right = go(right_node)
                results.append(_compare(op, left, right))
                left = right
        return _and(results)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [go(a) for a in node.args]
        if node.func.id == "coalesce":
            return next((a for a in args if a is not None), None)
        nums = [_num(a) for a in args]
        if any(n is None for n in nums):
            return None
        if node.func.id == "abs":
            return abs(nums[0])  # type: ignore[arg-type]
        return (min if node.func.id == "min" else max)(nums)  # type: ignore[type-var]
    raise ConfigError(f"{type(node).__name__} cannot be evaluated")  # pragma: no cover - checked at parse


def _in(v: Value, items: list[Value]) -> bool | None:
    """SQL's IN: true if equal to one; unknown if not and a NULL is on either side; else false."""
    if v is None:
        return None
    if any(i is not None and i == v for i in items):
        return True
    return None if any(i is None for i in items) else False


def _truth(v: Value) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    raise TypeError(f"{v!r} is not true or false")
