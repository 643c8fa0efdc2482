"""Constant SQL on api_apitoken (joined to the user table): the bearer-token look-up every API request starts
with (api.authentication.BearerTokenAuthentication).

What: the token with a given hash, its user and the user's active memberships with the ids of each one's
facility subtree (facilities.access's first two reads of a staff request: its roles, and the facilities they
reach), in one SELECT; the user's columns converted the ORM way (core/rawsql.fetch_rows), the
token's datetimes by the backend's converter; both instances built as from_db builds them (`_fetched`).

Why not the ORM: `select_related("user").filter(key_hash=...).first()` took about a fifth of a declaration's
CPU at the morning peak; as one constant query the look-up went from 0.55 to 0.23 ms of CPU, and the whole
declaration now costs 2.3 ms of worker CPU at 542 req/s, p99 54 ms (100k patients, gthread 2 x 4, wrk -t2
-c16):

    WORKER_CLASSES=gthread RUNS=3 bench/declarations.sh

(docs/benchmarks.md, "3. Declarations through the API".)

The look-up is also the connection's health check (settings: CONN_HEALTH_CHECKS). Django pings a persistent
connection before the first query of each request so that, after a MariaDB restart, the dead connection is
replaced instead of failing the request: one more round trip on every API call (about 40 % of an empty API
call's wall time on the bench machine, and MariaDB's CPU on the same 2 cores). The token look-up is the
first query of a token request and a plain read, so it is sent without the ping and is itself the check: if
the connection turns out dead (`core.db_health.connection_gone`), it is closed and the look-up sent again on a new one —
the request never fails for it, as with the ping. Inside a transaction (tests, a view made atomic) or on a
connection not yet opened, Django's own check runs as before (`core.db_health.checked_by_use`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connections, router
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

from health_f0.api.models import ApiToken
from health_f0.core.db_health import checked_by_use
from health_f0.core.rawsql import fetch_rows
from health_f0.core.rawsql import user_model as rawsql_user_model
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityClosure, Membership

_TOKEN_FIELDS = ("id", "prefix", "created_at", "last_used_at", "expires_at")
_TOKEN_ATTNAMES = tuple(field.attname for field in ApiToken._meta.concrete_fields)
_USER_FIELD = ApiToken._meta.get_field("user")
# The user's active roles at active facilities (what facilities.access reads its memberships for, with
# access._MEMBERSHIPS_SQL's rule), each with the ids of its facility's subtree (what access._subtree_ids reads
# for the facility's path: every facility whose path starts with it), as one text: an item
# "<facility id> <role> <subtree id> <path>" for each facility of each role's subtree, comma-separated, NULL for
# none. Sent with the token, so a staff request asks neither for its memberships nor for the facilities they
# reach (access.remember_memberships).
# The subtree is read from the tree's closure (facilities.tree: the pairs whose descendant's path starts with
# the ancestor's, written with every path), by the role's facility as the unique index's prefix: the index
# entries of the subtree and nothing else. The join it replaces matched every facility's path with a LIKE
# pattern computed from the role's path (`s.path LIKE BINARY CONCAT(f.path, '%')`), reading the whole path
# index for each role. MariaDB's CPU for the whole look-up (bench/statements_cpu.py replay, 6 rounds of 1,000,
# alternated; 100k data set): a station's staff 0.284 -> 0.208 ms, a TTYT manager 0.268 -> 0.220, the booking
# desk 0.285 -> 0.233, the province's manager (77 ids either way) 0.284 -> 0.278. LEFT: a role whose facility
# had no row (never: each facility is in its own subtree) still counts, with no id -- a scope narrower, never wider.
_SUBTREE_JOIN = (
    f"FROM {Membership._meta.db_table} m "  # noqa: S608 - names from _meta
    f"INNER JOIN {Facility._meta.db_table} f ON f.id = m.facility_id "
    f"LEFT JOIN {FacilityClosure._meta.db_table} s ON s.ancestor_id = m.facility_id "
    "WHERE m.user_id = u.id AND m.is_active AND f.is_active"
)
_MEMBERSHIPS = {
    # GROUP_CONCAT's default separator, a comma: no facility id, role, id or path holds one. Then the session's
    # group_concat_max_len: a text that reaches it may have been cut there (a cut path could read as a wider
    # scope, a cut id as another facility), and is not used. Every item is ASCII (ids, role codes, paths of
    # ids), so its length in characters is its length in bytes.
    "mysql": "(SELECT GROUP_CONCAT(CONCAT(m.facility_id, ' ', m.role, ' ', COALESCE(s.descendant_id, ''), ' ', f.path)) "
    f"{_SUBTREE_JOIN}), @@SESSION.group_concat_max_len",
    # SQLite (the zero-setup default): its own concatenation, the same separators, no length limit.
    "sqlite": "(SELECT group_concat(m.facility_id || ' ' || m.role || ' ' || COALESCE(s.descendant_id, '') || ' ' || f.path) "
    f"{_SUBTREE_JOIN}), NULL",
}

T = TypeVar("T")
M = TypeVar("M", bound=Model)


def _statement(user_model: Any, connection: Any) -> str:
    """The look-up's SELECT: the user's columns in field order, then the token's, then the user's memberships and
    the length at which the server cuts their text (NULL: it does not)."""
    vendor = connection.vendor
    statement = _statements.get((user_model, vendor))
    if statement is None:
        user_columns = ", ".join(f"u.{field.column}" for field in user_model._meta.concrete_fields)
        token_columns = ", ".join(f"t.{name} AS token_{name}" for name in _TOKEN_FIELDS)
        memberships = _MEMBERSHIPS.get(vendor, "NULL, NULL")
        statement = _statements[(user_model, vendor)] = (
            f"SELECT {user_columns}, {token_columns}, {memberships} "  # noqa: S608 - names from _meta
            f"FROM {user_model._meta.db_table} u "
            f"INNER JOIN {ApiToken._meta.db_table} t ON t.user_id = u.id WHERE t.key_hash = %s"
        )
    return statement


_statements: dict[tuple[Any, str], str] = {}


def _memberships(
    text: str | None, limit: Any
) -> tuple[list[tuple[int, str, str]], dict[str, frozenset[int]]] | None:
    """(facility id, facility path, role) of each role in the look-up's memberships column, and the ids of the
    subtree of each path; None when the text may not be whole (it reaches `limit`, the server's
    group_concat_max_len, where GROUP_CONCAT cuts)."""
    if not text:
        return [], {}
    if limit is not None and len(text) >= limit:
        return None
    # Each item is four fields, the path last: read column-wise (slices of one split) when every item splits
    # into exactly four (no space in a path) and every role has a subtree id, in C loops whatever the subtree's
    # size: a TTYT manager's 22 items cost about 110 Python calls item by item, the province's 77 about 390.
    fields = text.replace(",", " ").split(" ")
    members = fields[2::4]
    if len(fields) == 4 * (text.count(",") + 1) and "" not in members:
        paths = fields[3::4]
        found = [
            (int(facility_id), path, role)
            for facility_id, role, path in dict.fromkeys(zip(fields[0::4], fields[1::4], paths, strict=True))
        ]
        if len(found) == 1 or len(set(paths)) == 1:
            return found, {paths[0]: frozenset(map(int, members))}
        by_path: dict[str, list[str]] = {}
        for path, member in zip(paths, members, strict=True):
            by_path.setdefault(path, []).append(member)
        return found, {path: frozenset(map(int, ids)) for path, ids in by_path.items()}
    return _memberships_by_item(text)


def _memberships_by_item(text: str) -> tuple[list[tuple[int, str, str]], dict[str, frozenset[int]]]:
    """_memberships' reading one item at a time: any path (spaces included), a role without a subtree id. The
    rule the column-wise reading follows (tests/api/test_token_lookup.py compares both)."""
    roles: dict[tuple[int, str], str] = {}
    subtrees: dict[str, set[int]] = {}
    for item in text.split(","):
        facility_id, role, member, path = item.split(" ", 3)
        roles.setdefault((int(facility_id), role), path)
        ids = subtrees.setdefault(path, set())
        if member:
            ids.add(int(member))
    found = [(facility_id, path, role) for (facility_id, role), path in roles.items()]
    return found, {path: frozenset(ids) for path, ids in subtrees.items()}


def _fetched(model: type[M], alias: str, values: Sequence[Any]) -> M:
    """`model.from_db(alias, attnames, values)` for a row holding every concrete field in order: the same
    instance (fetched state, values set as Model.__init__ sets them), without __init__'s per-field work when
    nothing listens to the model's pre_init/post_init (about 60 Python calls per instance)."""
    # `.receivers` empty: nothing listens to either signal for any model (the product connects none), so the
    # per-model look-ups (has_listeners: about 20 Python calls for the token and its user) are not needed.
    if (pre_init.receivers or post_init.receivers) and (
        pre_init.has_listeners(model) or post_init.has_listeners(model)
    ):
        return model.from_db(alias, _attnames(model), values)
    instance = model.__new__(model)
    state = instance._state = ModelState()
    state.adding = False
    state.db = alias
    instance.__dict__.update(zip(_attnames(model), values, strict=True))
    return instance


def _attnames(model: Any) -> tuple[str, ...]:
    names = _attnames_by_model.get(model)
    if names is None:
        names = _attnames_by_model[model] = tuple(field.attname for field in model._meta.concrete_fields)
    return names


_attnames_by_model: dict[Any, tuple[str, ...]] = {}


def token_with_user(key_hash: str) -> ApiToken | None:
    """The token with this hash and its user (`token.user`), in one constant query; None when unknown.
    fetch_rows (its conversion plan cached) converts the user's columns the ORM way; the token's three
    datetimes are converted by the backend's own converter, so this works on MariaDB and SQLite alike."""
    connection = connections[router.db_for_read(ApiToken)]
    user_model = rawsql_user_model()
    sql = _statement(user_model, connection)
    rows = checked_by_use(connection, lambda: fetch_rows(user_model, sql, [key_hash], using=connection.alias))
    if not rows:
        return None
    row = rows[0]
    count = len(_attnames(user_model))
    user = _fetched(user_model, connection.alias, row[:count])
    # The user's memberships, to facilities.access now: the staff checks and scopes of the request cost no
    # query of their own for them (a patient account holds none: IsPatientAccount, is_staff_member; issue 11).
    memberships = _memberships(row[-2], row[-1]) if connection.vendor in _MEMBERSHIPS else None
    if memberships is not None:
        access.remember_memberships(user, *memberships)
    values = dict(zip(_TOKEN_FIELDS, row[count:-2], strict=True))
    # MariaDB/MySQL and SQLite hand back naive or text datetimes; backends without the converter return
    # aware datetimes already.
    convert = getattr(connection.ops, "convert_datetimefield_value", None)
    if convert is not None:
        for name in ("created_at", "last_used_at", "expires_at"):
            values[name] = convert(values[name], None, connection)
    values["key_hash"] = key_hash
    values["user_id"] = user.pk
    # As the ORM builds a fetched row, with its user cached.
    token = _fetched(ApiToken, connection.alias, [values[attname] for attname in _TOKEN_ATTNAMES])
    _USER_FIELD.set_cached_value(token, user)
    return token
