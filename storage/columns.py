"""The SQL the schema's models and the stores' raw queries share: the task columns in
record order, the predicate of a live task, and the task counters' full count and (on
PostgreSQL) their statement triggers."""

from __future__ import annotations

from jobsched.core.task import QUEUED, RUNNING, SCHEDULED

#: States in which a dedup key is taken (the partial unique index covers exactly these).
LIVE_STATES = (SCHEDULED, QUEUED, RUNNING)


def quoted(values: tuple[str, ...]) -> str:
    """``'a', 'b'``: a SQL list of fixed names (never user input)."""
    return ", ".join(f"'{v}'" for v in values)


#: A task whose dedup key is taken. Queries must read exactly like the partial index's
#: WHERE, so that the planner (and PostgreSQL's ON CONFLICT) recognise the index.
LIVE = f"state IN ({quoted(LIVE_STATES)})"

#: The task columns in :class:`core.task.TaskRecord`'s field order: a row read with these
#: becomes ``TaskRecord(*row)``.
TASK_FIELDS = (
    "id", "handler", "category", "state", "payload", "run_at", "created_at", "max_attempts",
    "attempts", "timeout", "dedup_key", "result", "error", "reason", "started_at",
    "finished_at", "owner", "cancel_requested", "priority",
)  # fmt: skip
TASK_COLUMNS = ", ".join(TASK_FIELDS)

#: PostgreSQL: statement-level triggers with transition tables: one INSERT of the net
#: change per (category, state) per statement, whatever its number of rows.
#: A session that sets ``jobsched.counts_unchanged`` to ``on`` promises that its writes move
#: no task between (category, state) pairs: its statements skip the counting (the start
#: recorder's connection, whose only statement marks runs begun).
POSTGRES_COUNT_BODY = (
    "jobsched_count_tasks() RETURNS trigger LANGUAGE plpgsql AS $fn$"
    " BEGIN"
    " IF current_setting('jobsched.counts_unchanged', true) = 'on' THEN RETURN NULL; END IF;"
    " IF TG_OP = 'INSERT' THEN"
    " INSERT INTO task_count_deltas (category, state, n)"
    " SELECT category, state, count(*) FROM new_rows GROUP BY category, state;"
    " ELSIF TG_OP = 'DELETE' THEN"
    " INSERT INTO task_count_deltas (category, state, n)"
    " SELECT category, state, -count(*) FROM old_rows GROUP BY category, state;"
    " ELSE"
    " INSERT INTO task_count_deltas (category, state, n)"
    " SELECT category, state, sum(d) FROM (SELECT category, state, 1 AS d FROM new_rows"
    " UNION ALL SELECT category, state, -1 FROM old_rows) AS c"
    " GROUP BY category, state HAVING sum(d) <> 0;"
    " END IF;"
    " RETURN NULL;"
    " END $fn$"
)
POSTGRES_COUNT_FUNCTION = "CREATE FUNCTION " + POSTGRES_COUNT_BODY
POSTGRES_COUNT_TRIGGERS = (
    POSTGRES_COUNT_FUNCTION,
    "CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS"
    " new_rows FOR EACH STATEMENT EXECUTE FUNCTION jobsched_count_tasks()",
    "CREATE TRIGGER tasks_count_update AFTER UPDATE ON tasks REFERENCING OLD TABLE AS"
    " old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION"
    " jobsched_count_tasks()",
    "CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS"
    " old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobsched_count_tasks()",
)

#: Fills ``task_counts`` from a full count (a new schema's upgrade, ``check --repair``).
FILL_COUNTS = (
    "INSERT INTO task_counts (category, state, n)"
    " SELECT category, state, count(*) FROM tasks GROUP BY category, state"
)
#: A full count of the task table, for ``check_counts``.
SCAN_COUNTS = "SELECT category, state, count(*) FROM tasks GROUP BY category, state"
