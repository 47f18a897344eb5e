"""Every SQL statement of the PostgreSQL store, named, in one place (psycopg
placeholders). Batches travel as arrays unpacked with ``unnest``, so a batch of any size
is one statement: one round trip, one plan. The tables are described once, in
``storage/models.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from jobsched.core.task import ATTEMPTS_KEPT

from ..columns import FILL_COUNTS, LIVE, SCAN_COUNTS, TASK_COLUMNS, TASK_FIELDS
from ..query_sql import ATTEMPT_COLUMNS, ATTEMPT_REPLACES, INSERT_ATTEMPTS, delete_leftovers_sql

# A column's membership in a list of ids given as one array parameter (``ids_param``).
IDS_IN = "= ANY(%s)"


def ids_param(ids: Sequence[int]) -> list[int]:
    """The one parameter of ``IDS_IN``."""
    return list(ids)


CHANNEL = "jobsched_work"
#: Sent (delivered at commit) when work or settings change; a hint, never the only signal.
NOTIFY = f"SELECT pg_notify('{CHANNEL}', '')"
LISTEN = f"LISTEN {CHANNEL}"
#: Sent (delivered at commit, once per transaction) when outcomes or cancellations end
#: tasks: what wakes a client waiting for a result in a process with no node.
DONE_CHANNEL = "jobsched_done"
NOTIFY_DONE = f"SELECT pg_notify('{DONE_CHANNEL}', '')"
LISTEN_DONE = f"LISTEN {DONE_CHANNEL}"
_DONE = f"pg_notify('{DONE_CHANNEL}', '')"

_T_COLUMNS = ", ".join(f"t.{name}" for name in TASK_FIELDS)

# --- insert -------------------------------------------------------------------------------
LIVE_IDS_FOR_KEYS = f"SELECT dedup_key, id FROM tasks WHERE dedup_key = ANY(%s) AND {LIVE}"
# Ids come from the sequence before the INSERT, in batch order, so the ids a batch gets
# increase in the order of its items whatever order the server writes the rows in.
NEXT_IDS = "SELECT nextval('tasks_id_seq') FROM generate_series(1, %s)"
INSERT_TASKS = (
    "INSERT INTO tasks (id, handler, category, state, payload, run_at, created_at,"
    " max_attempts, timeout, dedup_key, priority)"
    " SELECT u.id, u.handler, u.category, u.state, u.payload, u.run_at, %s, u.max_attempts,"
    " u.timeout, u.dedup_key, u.priority FROM unnest(%s::bigint[], %s::text[], %s::text[],"
    " %s::text[], %s::text[], %s::float8[], %s::integer[], %s::float8[], %s::text[],"
    " %s::integer[]) AS u(id, handler, category, state, payload, run_at, max_attempts,"
    " timeout, dedup_key, priority)"
    # A live task with the same key committed by another process meanwhile: skip the row;
    # the caller then looks the winner up.
    f" ON CONFLICT (dedup_key) WHERE {LIVE} DO NOTHING RETURNING id"
)
# Due tasks inserted already claimed by a node (the direct hand-off), ids from NEXT_IDS.
INSERT_CLAIMED = (
    "INSERT INTO tasks (id, handler, category, state, payload, run_at, created_at,"
    " max_attempts, attempts, timeout, owner, started_at, run_began, priority)"
    " SELECT u.id, u.handler, u.category, 'running', u.payload, u.run_at, %s, u.max_attempts,"
    " 1, u.timeout, %s, %s, false, u.priority FROM unnest(%s::bigint[], %s::text[],"
    " %s::text[], %s::text[], %s::float8[], %s::integer[], %s::float8[], %s::integer[])"
    " AS u(id, handler, category, payload, run_at, max_attempts, timeout, priority)"
)

# --- the timer ----------------------------------------------------------------------------
PROMOTE_DUE = "UPDATE tasks SET state = 'queued' WHERE state = 'scheduled' AND run_at <= %s"
NEXT_RUN_AT = "SELECT min(run_at) FROM tasks WHERE state = 'scheduled'"

# --- claim and finish ---------------------------------------------------------------------
# SKIP LOCKED: nodes claiming at the same moment take different rows instead of queueing
# behind each other; a row another transaction holds is simply left for the next claim.
# The picked ids reach the UPDATE as an array (id = ANY(ARRAY(...))): a primary-key lookup
# of each. Joined to a CTE instead, the prepared statement's generic plan (the limit
# unknown) hashed the whole table, once per claim. The store plans it on each execution
# (not prepared): a generic plan made while the table was small (a node that starts on
# an empty queue) reads the whole table on every claim once it has grown, until the
# next ANALYZE.
CLAIM = (
    "UPDATE tasks AS t SET state = 'running', owner = %s, attempts = t.attempts + 1,"
    " started_at = %s, run_began = false WHERE t.id = ANY(ARRAY(SELECT id FROM tasks"
    " WHERE category = %s AND state = 'queued' ORDER BY priority DESC, id LIMIT %s"
    f" FOR UPDATE SKIP LOCKED)) RETURNING {_T_COLUMNS}"
)
# A token bucket (core/limits.py), locked, read and written in the claim's transaction.
# Time is the server's clock, so nodes whose clocks differ still share one rate.
ENSURE_LIMITER = (
    "INSERT INTO rate_limiters (name, tokens, updated_at)"
    " VALUES (%s, %s, extract(epoch FROM clock_timestamp())) ON CONFLICT (name) DO NOTHING"
)
LOCK_LIMITER = (
    "SELECT tokens, updated_at, extract(epoch FROM clock_timestamp())::float8"
    " FROM rate_limiters WHERE name = %s FOR UPDATE"
)
SAVE_LIMITER = "UPDATE rate_limiters SET tokens = %s, updated_at = %s WHERE name = %s"
ANY_QUEUED = "SELECT 1 FROM tasks WHERE category = %s AND state = 'queued' LIMIT 1"
# A claim through token buckets (core/claim_plan.py): the next queued (id, handler) in claim
# order, leaving out handlers whose bucket is empty, then exactly those ids.
CLAIM_CANDIDATES = (
    "SELECT id, handler FROM tasks WHERE category = %s AND state = 'queued'"
    " AND handler <> ALL(%s::text[]) ORDER BY priority DESC, id LIMIT %s FOR UPDATE SKIP LOCKED"
)
CLAIM_IDS = (
    "UPDATE tasks AS t SET state = 'running', owner = %s, attempts = t.attempts + 1,"
    " started_at = %s, run_began = false WHERE t.id = ANY(%s::bigint[]) AND t.state = 'queued'"
    f" RETURNING {_T_COLUMNS}"
)
# A start is fenced by the claim: owner, attempt and claim time (a claim given back before
# its run began returns its attempt, so a later claim, by this node too, can have the same
# number; its claim time differs). Rows given back meanwhile are not returned: not run.
# The ids come twice, the last time as ``id = ANY(...)``, and the state test is written so
# that no index applies to it (``IS TRUE``; state is never NULL): the rows are found by
# primary key, whatever the planner guesses. Otherwise it joined the unnest to every
# running row of the table (through an index on state or owner), each time.
_RUNNING = "(t.state = 'running') IS TRUE"
RECORD_STARTS = (
    "UPDATE tasks AS t SET run_began = true FROM unnest(%s::bigint[], %s::text[],"
    " %s::integer[], %s::float8[]) AS v(id, owner, attempt, claimed_at)"
    " WHERE t.id = v.id AND t.owner = v.owner AND t.attempts = v.attempt"
    f" AND t.started_at IS NOT DISTINCT FROM v.claimed_at AND {_RUNNING}"
    " AND t.id = ANY(%s::bigint[]) RETURNING t.id, t.owner, t.attempts, t.started_at"
)
# The fence: an outcome applies only to the attempt that produced it. The ids again as a
# last parameter, by primary key (see RECORD_STARTS). Planned on each execution, like the
# claim (see CLAIM): a generic plan of this made on a small table scanned all of it.
_FENCE = (
    f"t.id = v.id AND t.owner = v.owner AND t.attempts = v.attempt AND {_RUNNING}"
    " AND t.id = ANY(%s::bigint[])"
)
FINISH_TERMINAL = (
    "UPDATE tasks AS t SET state = v.state, finished_at = v.finished_at, result = v.result,"
    " error = v.error, reason = v.reason, owner = NULL"
    " FROM unnest(%s::bigint[], %s::text[], %s::integer[], %s::text[], %s::float8[],"
    " %s::text[], %s::text[], %s::text[])"
    " AS v(id, owner, attempt, state, finished_at, result, error, reason)"
    # Identical notifications of one transaction are delivered once: one per batch.
    f" WHERE {_FENCE} RETURNING t.id, {_DONE}"
)
# A retry also keeps how the attempt ended (task_attempts), and drops that task's attempts
# beyond the newest ATTEMPTS_KEPT, in the same statement.
FINISH_RETRY = (
    "WITH done AS (UPDATE tasks AS t SET state = v.state, run_at = v.run_at, error = v.error,"
    " reason = v.reason, owner = NULL, cancel_requested = false"
    " FROM unnest(%s::bigint[], %s::text[], %s::integer[], %s::text[], %s::float8[],"
    " %s::text[], %s::text[], %s::float8[])"
    " AS v(id, owner, attempt, state, run_at, error, reason, ended_at)"
    f" WHERE {_FENCE} RETURNING t.id, v.attempt, v.error, v.reason, v.ended_at),"
    f" kept AS ({INSERT_ATTEMPTS} SELECT id, {ATTEMPT_COLUMNS} FROM done{ATTEMPT_REPLACES}),"
    " dropped AS (DELETE FROM task_attempts AS a USING done WHERE a.task_id = done.id"
    f" AND a.attempt <= done.attempt - {ATTEMPTS_KEPT})"
    " SELECT id FROM done"
)
# One outcome at a time: for a batch that names a task twice (its order then matters).
FINISH_TERMINAL_ONE = (
    "UPDATE tasks SET state = %s, finished_at = %s, result = %s, error = %s, reason = %s,"
    " owner = NULL WHERE id = %s AND owner = %s AND attempts = %s AND state = 'running'"
)
FINISH_RETRY_ONE = (
    "UPDATE tasks SET state = %s, run_at = %s, error = %s, reason = %s, owner = NULL,"
    " cancel_requested = false"
    " WHERE id = %s AND owner = %s AND attempts = %s AND state = 'running'"
)
RELEASE = (
    "UPDATE tasks SET state = 'queued', owner = NULL, attempts = GREATEST(attempts - 1, 0),"
    " run_began = false WHERE id = ANY(%s) AND owner = %s AND state = 'running'"
)

# --- cancel and retry ---------------------------------------------------------------------
# FOR UPDATE: a row cannot be claimed between reading its state and changing it.
LOCK_STATES = "SELECT id, state, dedup_key FROM tasks WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
LOCK_FAILED = "SELECT id, state, dedup_key FROM tasks WHERE state = 'failed' ORDER BY id FOR UPDATE"
CANCEL_WAITING = (
    "UPDATE tasks SET state = 'cancelled', finished_at = %s, result = NULL, error = NULL,"
    " reason = 'cancelled', owner = NULL WHERE id = ANY(%s)"
)
REQUEST_CANCEL = "UPDATE tasks SET cancel_requested = true WHERE id = ANY(%s)"
CANCEL_REQUESTS = "SELECT id FROM tasks WHERE state = 'running' AND owner = %s AND cancel_requested"
KEY_IS_LIVE = f"SELECT 1 FROM tasks WHERE dedup_key = %s AND {LIVE}"
#: An operator's retry starts afresh: the earlier attempts go.
CLEAR_ATTEMPTS = delete_leftovers_sql("task_attempts", IDS_IN)
RETRY_TASKS = (
    "UPDATE tasks SET state = 'queued', attempts = 0, run_at = %s, finished_at = NULL,"
    " result = NULL, error = NULL, reason = NULL, cancel_requested = false, run_began = false"
    " WHERE id = ANY(%s)"
)

# --- recovery -----------------------------------------------------------------------------
_STALE = "n.seen_at < now() - make_interval(secs => %s)"
# A running row is an orphan when its owner is not the caller and no node of that name has
# a fresh heartbeat (stale, stopped, or never seen). Judged on the server's clock alone.
_ORPHAN = (
    "t.state = 'running' AND t.owner IS DISTINCT FROM %s AND NOT EXISTS (SELECT 1 FROM nodes n"
    " WHERE n.node_id = t.owner AND NOT n.stopped AND NOT " + _STALE + ")"
)
# A claimed row whose run has not begun is given back sooner: once its owner's heartbeat
# is older than the claim lease the owner published (never longer than stale_after; a node
# that published none has stale_after). The owner's fenced start then refuses it, so it
# never runs there, should the owner come back.
_LAPSED = (
    "t.state = 'running' AND NOT t.run_began AND t.owner IS DISTINCT FROM %s"
    " AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.node_id = t.owner AND NOT n.stopped"
    " AND n.seen_at >= now() - make_interval(secs => least(coalesce(n.claim_lease, %s), %s)))"
)
#: Stopped nodes are listed for a day, then forgotten.
_FORGOTTEN = "n.stopped AND n.seen_at < now() - interval '1 day'"
ANY_DEAD = (
    f"SELECT EXISTS (SELECT 1 FROM tasks t WHERE {_ORPHAN})"
    f" OR EXISTS (SELECT 1 FROM nodes n WHERE NOT n.stopped AND n.node_id <> %s AND {_STALE})"
    f" OR EXISTS (SELECT 1 FROM nodes n WHERE {_FORGOTTEN})"
    f" OR EXISTS (SELECT 1 FROM tasks t WHERE {_LAPSED})"
)
TRY_RECOVERY_LOCK = "SELECT pg_try_advisory_xact_lock(%s)"
# One schedule's clock-tick claims and prunes, one at a time (until the transaction ends).
LOCK_SCHEDULE_TICKS = "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))"
LOCK_ORPHANS = f"SELECT t.id, t.owner FROM tasks t WHERE {_ORPHAN} ORDER BY t.id FOR UPDATE OF t"
UNDO_UNSTARTED = (
    "UPDATE tasks SET attempts = attempts - 1 WHERE id = ANY(%s) AND NOT run_began AND attempts > 0"
)
FAIL_ORPHANS = (
    "UPDATE tasks SET state = 'failed', reason = 'orphaned', finished_at = %s, result = NULL,"
    " error = 'interrupted ' || attempts || ' times by a crash', owner = NULL,"
    " run_began = false WHERE id = ANY(%s) AND attempts >= max_attempts RETURNING id"
)
# Before REQUEUE_ORPHANS: how each run that began ended (interrupted), for the orphans
# queued again (the exhausted ones have failed meanwhile, with the task's own error).
KEEP_INTERRUPTED = (
    f"{INSERT_ATTEMPTS} SELECT id, attempts, %s, 'orphaned', %s FROM tasks"
    " WHERE id = ANY(%s) AND state = 'running' AND run_began AND attempts > 0"
    f"{ATTEMPT_REPLACES}"
)
TRIM_INTERRUPTED = (
    "DELETE FROM task_attempts AS a USING tasks AS t WHERE t.id = ANY(%s) AND a.task_id = t.id"
    f" AND t.state = 'running' AND t.run_began AND a.attempt <= t.attempts - {ATTEMPTS_KEPT}"
)
REQUEUE_ORPHANS = (
    "UPDATE tasks SET state = 'queued', owner = NULL, run_began = false"
    " WHERE id = ANY(%s) AND state = 'running' RETURNING id"
)
LOCK_LAPSED = f"SELECT t.id, t.owner FROM tasks t WHERE {_LAPSED} ORDER BY t.id FOR UPDATE OF t"
HAND_BACK = (
    "UPDATE tasks SET state = 'queued', owner = NULL, attempts = GREATEST(attempts - 1, 0)"
    " WHERE id = ANY(%s) AND state = 'running' AND NOT run_began RETURNING id"
)
MARK_DEAD = (
    "UPDATE nodes AS n SET stopped = true, recovered_at = now(), recovered_by = %s"
    " WHERE n.node_id <> %s AND (n.node_id = ANY(%s) OR (NOT n.stopped AND " + _STALE + "))"
    " RETURNING n.node_id, extract(epoch FROM now() - n.seen_at)::float8"
)
PRUNE_NODES = f"DELETE FROM nodes AS n WHERE {_FORGOTTEN}"

# --- reading ------------------------------------------------------------------------------
GET_TASK = f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = %s"
#: The planner picks the index of a task list walk itself (it has statistics).
LIST_INDEXES: dict[str, str] = {}
# The totals plus the changes not folded into them yet (see models.TaskCountDeltaRow).
_KEPT_COUNTS = (
    "SELECT category, state, sum(n) AS n FROM (SELECT category, state, n FROM task_counts"
    " UNION ALL SELECT category, state, n FROM task_count_deltas) AS c"
    " GROUP BY category, state HAVING sum(n) <> 0"
)
COUNTS = _KEPT_COUNTS
# Both in one statement: one snapshot.
COUNTS_AND_SCAN = (
    f"SELECT 0, k.* FROM ({_KEPT_COUNTS}) AS k UNION ALL SELECT 1, s.* FROM ({SCAN_COUNTS}) AS s"
)
# Folds the pending changes into the totals. Only one process folds at a time (the
# advisory lock below): folders never wait on each other's rows.
FOLD_COUNTS = (
    "WITH moved AS (DELETE FROM task_count_deltas RETURNING category, state, n)"
    " INSERT INTO task_counts (category, state, n) SELECT category, state, sum(n)"
    " FROM moved GROUP BY category, state ORDER BY category, state"
    " ON CONFLICT (category, state) DO UPDATE SET n = task_counts.n + excluded.n"
)
ANY_DELTAS = "SELECT EXISTS (SELECT 1 FROM task_count_deltas)"
# A repair sees no writer between its count and its new totals.
LOCK_TASKS_FOR_REPAIR = "LOCK TABLE tasks IN SHARE MODE"
CLEAR_COUNTS = "DELETE FROM task_counts"
CLEAR_DELTAS = "DELETE FROM task_count_deltas"
REFILL_COUNTS = FILL_COUNTS
# Retention: ids some waiter still waits on are left out (one array parameter).
SPARE_IDS = f"NOT (id {IDS_IN})"


# --- settings, decisions, nodes -----------------------------------------------------------
LOAD_SETTINGS = (
    "SELECT category, priority, paused, pinned, min_workers, max_workers, rate, burst"
    " FROM category_settings"
)
SAVE_SETTINGS = (
    "INSERT INTO category_settings (category, priority, paused, pinned, min_workers,"
    " max_workers, rate, burst) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (category) DO UPDATE SET"
    " priority = excluded.priority, paused = excluded.paused, pinned = excluded.pinned,"
    " min_workers = excluded.min_workers, max_workers = excluded.max_workers,"
    " rate = excluded.rate, burst = excluded.burst"
)
SETTINGS_VERSION = "SELECT settings_version FROM control WHERE id = 1"
BUMP_SETTINGS_VERSION = "UPDATE control SET settings_version = settings_version + 1 WHERE id = 1"

ADD_DECISION = "INSERT INTO decisions (at, body) VALUES (%s, %s) RETURNING id"
PRUNE_DECISIONS = "DELETE FROM decisions WHERE id <= %s"
RECENT_DECISIONS = "SELECT at, body FROM decisions ORDER BY id DESC LIMIT %s"

# seen_at = now(): the server's clock, whatever the node's clock says (see the store).
# recovered_at is left as it was, so the node learns it was declared dead.
HEARTBEAT = (
    "INSERT INTO nodes (node_id, host, pid, started_at, heartbeat_at, budget, workers,"
    " counters, stopped, claim_lease, seen_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())"
    " ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, pid = excluded.pid,"
    " started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,"
    " budget = excluded.budget, workers = excluded.workers, counters = excluded.counters,"
    " stopped = excluded.stopped, claim_lease = excluded.claim_lease, seen_at = now()"
    " RETURNING recovered_at, recovered_by"
)
# A node that opens the store is alive from that moment (its first full heartbeat follows
# at start): a row that says so, unless the node already has one.
REGISTER_NODE = (
    "INSERT INTO nodes (node_id, host, pid, started_at, heartbeat_at, budget, workers,"
    " counters) VALUES (%s, %s, %s, extract(epoch FROM now()), extract(epoch FROM now()), 0,"
    " '[]', '{}') ON CONFLICT (node_id) DO UPDATE SET seen_at = now(), stopped = false"
)
NODES = (
    "SELECT node_id, host, pid, started_at, heartbeat_at, budget, workers, counters, stopped"
    " FROM nodes ORDER BY started_at, node_id"
)
