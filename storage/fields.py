"""The kinds of column the schema's models use beyond Peewee's own, and their base model:
SQL-side defaults (so rows other programs write get them too), a boolean flag that is
false unless set, a task id SQLite never hands out twice, and PostgreSQL's
``timestamptz``."""

from __future__ import annotations

from typing import Any

import peewee as pw


def sql_default(value: str) -> pw.SQL:
    """A SQL-side default, so rows written by other programs get it too."""
    return pw.SQL(f"DEFAULT {value}")


class FlagField(pw.BooleanField):
    """A boolean that is false unless set, by a SQL default: ``BOOLEAN ... DEFAULT false``
    on PostgreSQL, ``INTEGER ... DEFAULT 0`` on SQLite (which has no boolean type)."""

    def ddl(self, ctx: Any) -> pw.NodeList:
        has_booleans = ctx.state.field_types.get("BOOL", "").upper() == "BOOLEAN"
        return pw.NodeList((super().ddl(ctx), sql_default("false" if has_booleans else "0")))


class TaskIdField(pw.BigAutoField):
    """A task id: ``INTEGER ... AUTOINCREMENT`` on SQLite, so an id is never reused after
    the newest rows are pruned (PostgreSQL's ``bigserial`` never reuses one anyway)."""

    def ddl(self, ctx: Any) -> pw.NodeList:
        return pw.NodeList((super().ddl(ctx), pw.SQL("AUTOINCREMENT")))


class TimestampTzField(pw.Field):
    """``timestamptz``: a moment on the PostgreSQL server's clock."""

    field_type = "TIMESTAMPTZ"


class Base(pw.Model):
    """Every model's base: not bound to a database (the DDL is generated, never run
    through Peewee), table names as written."""

    class Meta:
        database = None
        legacy_table_names = False
