"""Templates in the store: cluster the messages not yet clustered, or rebuild them all."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from leaktrace.errors import LeaktraceError
from leaktrace.store import Store
from leaktrace.store.messages import plausible_time_sql
from leaktrace.templates.index import DEFAULT_THRESHOLD, TemplateIndex
from leaktrace.text.batch import mask_column
from leaktrace.text.categories import categorize, load_lexicon

# Messages with a time no message can have (kept by stores older than the import
# check) are never clustered, so no analysis meets them.
ANALYSABLE = plausible_time_sql("m.received_at")
# Clustering reads this much of a body: more than any SMS (1,600 characters at most) and
# the opening of any mail, where templates differ. A spammer's 50 MB body is stored whole
# (and its raw record) but costs analysis no more memory than a long mail.
ANALYSED_CHARS = 4_000


@dataclass(frozen=True)
class ClusterResult:
    """What one clustering run did."""

    messages: int
    templates: int
    new_templates: int
    rebuilt: bool


@dataclass(frozen=True)
class Template:
    """One template as listed."""

    id: int
    text: str
    size: int
    first_seen: object
    last_seen: object
    category: str
    category_confidence: float


def _index(con, threshold: float, skeletons: list[str]) -> TemplateIndex:
    """The stored templates as an index, knowing where the given skeletons went before."""
    index = TemplateIndex(threshold=threshold)
    rows = con.execute("SELECT id, text, size FROM templates ORDER BY id").fetchall()
    if [r[0] for r in rows] != list(range(len(rows))):
        raise TemplateEditError(key="err_template_ids")
    index.found_all([r[1] for r in rows], [r[2] for r in rows])
    # Only the skeletons this run meets: a big store holds hundreds of thousands.
    con.register("wanted", pa.table({"skeleton": pa.array(sorted(set(skeletons)), pa.string())}))
    try:
        index.assigned.update(
            con.execute(
                "SELECT skeleton, template_id FROM template_skeletons SEMI JOIN wanted"
                " USING (skeleton)"
            ).fetchall()
        )
    finally:
        con.unregister("wanted")
    index.merged.update(
        con.execute(
            "SELECT id, merged_into FROM templates WHERE merged_into IS NOT NULL"
        ).fetchall()
    )
    return index


# Messages not clustered yet. Every message at or below the ``clustered_upto`` mark is
# clustered (or cannot be), so only the ids above it are looked at: a drain of ten
# messages into a million-message store does not anti-join the whole store. Counts
# check the mark on every run (a message committed late below it, say by another
# thread), and a run that finds them disagreeing looks at every message.
_UNCLUSTERED = f"""m.id > $upto AND {ANALYSABLE} AND NOT EXISTS (
    SELECT 1 FROM message_templates t WHERE t.message_id = m.id AND t.message_id > $upto)"""


def _clustered_upto(con) -> int:
    """The mark below which every message is clustered; -1 in a store that has none yet."""
    row = con.execute(
        "SELECT value::BIGINT FROM clustering_settings WHERE name = 'clustered_upto'"
    ).fetchone()
    return -1 if row is None or row[0] is None else int(row[0])


def _mark(con, read: int | None, upto: int) -> None:
    """Everything up to message ``read`` is clustered now, except messages whose time no
    message can have: the mark stays below the first of those."""
    if read is None or read <= upto:
        return
    con.execute(
        "INSERT OR REPLACE INTO clustering_settings SELECT 'clustered_upto', least($read,"
        f" (SELECT min(m.id) - 1 FROM messages m WHERE m.id > $upto AND NOT {ANALYSABLE}))",
        {"read": read, "upto": upto},
    )


class _Stale(Exception):
    """Another process clustered while this one computed: its result no longer fits."""


# What clustering read, fingerprinted: counts miss a merge by hand (it moves messages
# between templates), so the assignments and merges are summed too.
_STATE = (
    "SELECT (SELECT (count(*), sum(template_id)) FROM message_templates),"
    " (SELECT (count(*), count(merged_into), sum(coalesce(merged_into, -1) * id)) FROM templates),"
    " (SELECT (count(*), sum(template_id)) FROM template_skeletons)"
)


def unclustered(store: Store) -> int:
    """How many messages wait for a template."""
    with store.connect() as con:
        return con.execute(
            f"SELECT (SELECT count(*) FROM messages m WHERE {ANALYSABLE})"
            " - (SELECT count(*) FROM message_templates)"
        ).fetchone()[0]


def cluster_messages(
    store: Store,
    *,
    rebuild: bool = False,
    threshold: float | None = None,
    lexicon: Path | None = None,
) -> ClusterResult:
    """Give every unclustered message a template (all of them with ``rebuild``).

    New templates are categorised from the keyword lexicon; with ``lexicon`` (extra
    keywords) every template is categorised again. Work on an incremental run is
    proportional to the new messages and templates, not to the store.

    The store is not held while the texts are masked and matched (the receiver and the
    dashboard keep working); if another process clustered meanwhile, the work is done
    again on what it left, so two analyses at once never write the same message twice.
    """
    for _ in range(5):
        try:
            return _cluster_once(store, rebuild, threshold, lexicon)
        except _Stale:
            continue
    raise TemplateEditError(key="err_templates_changing")


def _cluster_once(
    store: Store, rebuild: bool, threshold: float | None, lexicon: Path | None
) -> ClusterResult:
    """One clustering pass; ``_Stale`` when the store changed before it could be written."""
    with store.connect() as con:
        state = con.execute(_STATE).fetchall()[0]
        stored = con.execute(
            "SELECT value FROM clustering_settings WHERE name = 'threshold'"
        ).fetchone()
        if threshold is None:
            threshold = float(stored[0]) if stored else DEFAULT_THRESHOLD
        elif stored and float(stored[0]) != threshold:
            rebuild = True  # a new threshold means new templates
        upto = -1 if rebuild else _clustered_upto(con)
        if not rebuild:
            waiting, templates, unclustered = con.execute(
                f"SELECT (SELECT count(*) FROM messages m WHERE {_UNCLUSTERED}),"
                " (SELECT count(*) FROM templates),"
                f" (SELECT count(*) FROM messages m WHERE {ANALYSABLE})"
                " - (SELECT count(*) FROM message_templates)",
                {"upto": upto},
            ).fetchone()
            if waiting != unclustered:  # some below the mark too: look at every message
                upto = -1
            elif waiting == 0 and lexicon is None:  # nothing new: no index to load
                _mark(con, con.execute("SELECT max(id) FROM messages").fetchone()[0], upto)
                return ClusterResult(0, templates, 0, False)
        names: dict[int, set[str]] = defaultdict(set)
        for canary_id, name in con.execute(
            "SELECT id, name FROM canaries UNION ALL "
            "SELECT canary_id, name_used FROM plants WHERE name_used IS NOT NULL"
        ).fetchall():
            names[canary_id].add(name)
        platforms = tuple(r[0] for r in con.execute("SELECT name FROM sources").fetchall())
        where = f"WHERE {ANALYSABLE}" if rebuild else f"WHERE {_UNCLUSTERED}"
        # Read before the rows: every message at or below it is among them or clustered.
        top = con.execute("SELECT max(id) FROM messages").fetchall()[0][0]
        rows = con.sql(
            f"SELECT m.id, coalesce(m.canary_id, -1) AS canary_id,"
            f" left(m.body, {ANALYSED_CHARS}) AS body FROM messages m {where} ORDER BY m.id",
            params={} if rebuild else {"upto": upto},
        ).to_arrow_table()
    # Each row's names as a code into name_sets (0: none), found per distinct canary.
    name_sets = [(), *(tuple(sorted(n)) for n in names.values())]
    code_of = {cid: k for k, cid in enumerate(names, start=1)}
    canaries, which = np.unique(rows["canary_id"].to_numpy(), return_inverse=True)
    name_codes = np.array([code_of.get(c, 0) for c in canaries.tolist()], np.int64)[which]
    masked = mask_column(rows["body"], name_codes, name_sets, platforms)
    message_ids = rows["id"]
    last_read = message_ids[-1].as_py() if len(rows) else -1
    if rebuild:
        index = TemplateIndex(threshold=threshold)
    else:
        with store.connect() as con:
            index = _index(con, threshold, masked.skeletons)
    before, known = len(index.representatives), len(index.assigned)
    ids = index.assign_all(masked.skeletons)
    table = pa.table(
        {
            "message_id": message_ids.cast(pa.int64()),
            "template_id": pa.array(ids, pa.int64()),
            "skeleton": masked.skeletons,
            "signature": masked.signatures,
            "slots": masked.slots,
        }
    )
    words = load_lexicon(lexicon)
    first = 0 if lexicon is not None else before  # a rebuild starts from an empty index
    categories = [categorize(text, words) for text in index.representatives[first:]]
    representatives = pa.table(
        {
            "id": pa.array(range(first, len(index.representatives)), pa.int64()),
            "text": index.representatives[first:],
            "category": [c.name for c in categories],
            "confidence": pa.array([c.confidence for c in categories], pa.float64()),
        }
    )
    added = list(index.assigned.items())[known:]  # dicts keep insertion order
    skeletons = pa.table(
        {
            "skeleton": [k for k, _ in added],
            "template_id": pa.array([v for _, v in added], pa.int64()),
        }
    )
    with store.transaction() as con:
        if con.execute(_STATE).fetchall()[0] != state:
            raise _Stale
        if rebuild:
            for table_name in ("templates", "template_skeletons", "message_templates"):
                con.execute(f"DELETE FROM {table_name}")
        con.register("fresh", table)
        con.register("reps", representatives)
        con.register("skels", skeletons)
        con.execute("INSERT INTO message_templates SELECT * FROM fresh")
        con.execute(
            "INSERT INTO templates (id, text) SELECT id, text FROM reps"
            " WHERE id NOT IN (SELECT id FROM templates)"
        )
        con.execute(
            "UPDATE templates SET category = reps.category, category_confidence = reps.confidence"
            " FROM reps WHERE templates.id = reps.id"
        )
        con.execute("INSERT INTO template_skeletons SELECT * FROM skels")
        # Sizes and times grow by the new messages (a rebuild starts them from nothing).
        con.execute(
            """
            UPDATE templates SET size = coalesce(templates.size, 0) + a.size,
                first_seen = least(templates.first_seen, a.first_seen),
                last_seen = greatest(templates.last_seen, a.last_seen)
            FROM (
                SELECT f.template_id, count(*) AS size, min(m.received_at) AS first_seen,
                       max(m.received_at) AS last_seen
                FROM fresh f JOIN messages m ON m.id = f.message_id
                GROUP BY f.template_id
            ) a WHERE templates.id = a.template_id
            """
        )
        con.execute(
            "INSERT OR REPLACE INTO clustering_settings VALUES ('threshold', ?)", [str(threshold)]
        )
        _mark(con, max(top or -1, last_read), upto)
        for name in ("fresh", "reps", "skels"):
            con.unregister(name)
    total = len(index.representatives)
    return ClusterResult(rows.num_rows, total, total - (0 if rebuild else before), rebuild)


def list_templates(store: Store, limit: int = 50) -> list[Template]:
    """The biggest templates first."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT id, text, size, first_seen, last_seen, category, category_confidence"
            " FROM templates WHERE merged_into IS NULL"
            " ORDER BY size DESC, id LIMIT ?",
            [limit],
        ).fetchall()
    return [Template(*row) for row in rows]


class TemplateEditError(LeaktraceError, ValueError):
    """A hand edit of templates that cannot be done (unknown or merged template)."""


def _live(con, template_id: int) -> None:
    row = con.execute("SELECT merged_into FROM templates WHERE id = ?", [template_id]).fetchone()
    if row is None:
        raise TemplateEditError(key="err_no_template", template=template_id)
    if row[0] is not None:
        raise TemplateEditError(key="err_template_merged", template=template_id, into=row[0])


def _recount(con, ids: list[int]) -> None:
    con.execute(
        """
        UPDATE templates SET size = coalesce(a.size, 0), first_seen = a.first_seen,
               last_seen = a.last_seen
        FROM (SELECT t.id, count(m.id) AS size, min(m.received_at) AS first_seen,
                     max(m.received_at) AS last_seen
              FROM templates t
              LEFT JOIN message_templates mt ON mt.template_id = t.id
              LEFT JOIN messages m ON m.id = mt.message_id
              WHERE t.id IN (SELECT unnest(CAST(? AS BIGINT[]))) GROUP BY t.id) a
        WHERE templates.id = a.id
        """,
        [ids],
    )


def merge_templates(store: Store, source: int, target: int) -> int:
    """Merge template ``source`` into ``target`` by hand; return the messages moved.

    Kept in the store: later incremental runs send what would have joined ``source``
    to ``target``. ``cluster --rebuild`` starts over without hand edits.
    """
    if source == target:
        raise TemplateEditError(key="err_template_into_itself")
    with store.transaction() as con:
        _live(con, source)
        _live(con, target)
        moved = con.execute(
            "SELECT count(*) FROM message_templates WHERE template_id = ?", [source]
        ).fetchone()[0]
        for table in ("message_templates", "template_skeletons"):
            con.execute(
                f"UPDATE {table} SET template_id = ? WHERE template_id = ?", [target, source]
            )
        con.execute("UPDATE templates SET merged_into = ? WHERE id = ?", [target, source])
        con.execute("UPDATE templates SET merged_into = ? WHERE merged_into = ?", [target, source])
        _recount(con, [source, target])
    return moved


def split_template(store: Store, message_id: int) -> tuple[int, int]:
    """Give the skeleton of one message a template of its own; return (template, messages).

    Every message with that exact skeleton moves with it, now and in later runs.
    """
    with store.transaction() as con:
        row = con.execute(
            "SELECT skeleton, template_id FROM message_templates WHERE message_id = ?",
            [message_id],
        ).fetchone()
        if row is None:
            raise TemplateEditError(key="err_message_not_clustered", message=message_id)
        skeleton, old = row
        others = con.execute(
            "SELECT count(DISTINCT skeleton) FROM template_skeletons WHERE template_id = ?",
            [old],
        ).fetchone()[0]
        if others <= 1:
            raise TemplateEditError(key="err_template_one_skeleton", template=old)
        new = con.execute("SELECT max(id) + 1 FROM templates").fetchone()[0]
        category = con.execute(
            "SELECT category, category_confidence FROM templates WHERE id = ?", [old]
        ).fetchone()
        con.execute(
            "INSERT INTO templates (id, text, category, category_confidence) VALUES (?, ?, ?, ?)",
            [new, skeleton, *category],
        )
        con.execute(
            "UPDATE template_skeletons SET template_id = ? WHERE skeleton = ?", [new, skeleton]
        )
        con.execute(
            "UPDATE message_templates SET template_id = ? WHERE skeleton = ?", [new, skeleton]
        )
        _recount(con, [old, new])
        moved = con.execute("SELECT size FROM templates WHERE id = ?", [new]).fetchone()[0]
    return new, moved
