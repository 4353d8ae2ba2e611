"""The three primitives a backend gives the SQL shared by both (``sql.SqlStore`` and its table
mixins): rows of a query, a transaction, and a bulk upsert of rows given column by column."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from citybrain.core.store.schema import Columns


class SqlPrimitives(ABC):
    @abstractmethod
    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def _transaction(self, what: str) -> AbstractContextManager[Any]: ...

    @abstractmethod
    def _upsert(
        self, tx: Any, sql: str, columns: Columns, values: list[list[Any]], params: Sequence[Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run ``sql`` (an upsert whose ``{src}`` is filled in) over rows given column by column;
        returns what it returns (``RETURNING``). ``params`` fill the ``?`` placed before ``{src}``."""
