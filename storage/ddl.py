"""The DDL of a fresh database, generated from the models for one backend's dialect.

Both stores create their tables with :func:`create_statements`: the SQL comes from
``models.py``, spelled by Peewee for the database it is given (types, quoting, partial
indexes), so the schema is written down once.
"""

from __future__ import annotations

from collections.abc import Sequence

import peewee as pw


def create_statements(models: Sequence[type[pw.Model]], database: pw.Database) -> list[str]:
    """``CREATE TABLE`` and ``CREATE INDEX`` statements for ``models`` in ``database``'s
    dialect, each table followed by its indexes. Nothing is executed; ``database`` need
    not be connected."""
    statements: list[str] = []
    for model in models:
        manager = pw.SchemaManager(model, database)
        # SchemaManager builds these for its create_table/create_indexes, which would
        # execute them on Peewee's connection; the stores run DDL in their own transaction.
        statements.append(_text(manager._create_table(safe=False)))
        statements.extend(_text(index) for index in manager._create_indexes(safe=False))
    return statements


def _text(ctx: pw.Context) -> str:
    sql, params = ctx.query()
    if params:  # DDL cannot take parameters (the index predicates are literal SQL)
        raise ValueError(f"generated DDL has parameters: {sql!r} {params!r}")
    text: str = sql
    return text
