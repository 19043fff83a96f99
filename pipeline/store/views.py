"""The analysts' DuckDB database: the store as views, and the period tables as SQL macros.

One source of truth: the per-episode fields (participant, kön, age group, outcome flags, the
outcome base) are computed by polars in `pipeline.measures.definitions` and stored next to the
episodes as `episoder_harledda.parquet` (`write_derived`). The SQL here only does what
depends on the period (which episodes overlap, start, end, the days inside it) and the
counting; tests/store/test_views.py proves that every macro gives exactly the table
`pipeline.measures.statistics` gives.

Objects created by `create_views(con, processed_dir, catalog)`:

- views `episoder` (the store file) and `episoder_harledda` (episodes + derived fields),
  and `raknade_deltagare` (counted participants: anonyma, strukturövergripande; never to be
  added to the episodes' counts);
- tables `insatser` (insats_id, insats, ordning) and `mal` (insats_id, matt, mal, typ,
  ordning) from the catalog (without a catalog: the insatser found in the data, no targets);
- scalar macros `wilson_lag(taljare, namnare)` and `wilson_hog(taljare, namnare)`;
- table macros, each taking the period's first and last day (inclusive):
  `deltagare(fran, till)`, `utfall(fran, till)`, `tid_i_insats(fran, till)` and
  `maluppfyllelse(fran, till, k := 5)`.

In a notebook (open the database read-only: a batch run may be writing a new one)::

    import duckdb
    con = duckdb.connect("data/processed/finsam.duckdb", read_only=True)
    con.sql("SELECT * FROM deltagare(DATE '2024-01-01', DATE '2024-08-31')").pl()
    con.sql("SELECT * FROM maluppfyllelse('2024-01-01', '2024-12-31', k := 5)").pl()
    con.sql("SELECT aldersgrupp, count(*) FROM episoder_harledda GROUP BY ALL").pl()
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipeline.core import atomic
from pipeline.core.catalog import Catalog, target_fraction
from pipeline.core.config import COUNTED_FILE, DEFAULT_K, EPISODES_FILE
from pipeline.core.contract import OUTCOME_MEASURES, TOTAL_INSATS_ID, TOTAL_INSATS_NAMN
from pipeline.measures import definitions as d

DERIVED_FILE = "episoder_harledda.parquet"
MACROS = ("deltagare", "utfall", "tid_i_insats", "maluppfyllelse")


def derived_episodes(episodes: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """The episodes with every per-episode derived field (pipeline.measures.definitions)."""
    return d.derived_episode_fields(episodes.lazy()).collect()


def write_derived(episodes: pl.DataFrame, path: Path) -> None:
    """Write `episoder_harledda.parquet` (episodes + derived fields) atomically."""
    atomic.write_with(path, derived_episodes(episodes).write_parquet)


def _text(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _double(value: float) -> str:
    """A DOUBLE literal that is bit-for-bit the Python float (a bare 0.5 is a DECIMAL)."""
    return f"{_text(repr(float(value)))}::DOUBLE"


def _wilson_sql(upper: bool) -> str:
    """The Wilson bound in the same operation order as definitions._wilson (same floats)."""
    z, z2 = _double(d.Z_95), _double(d.Z_95 * d.Z_95)
    t, n = "(taljare)::DOUBLE", "(namnare)::DOUBLE"
    p = f"({t} / {n})"
    denominator = f"(1.0::DOUBLE + {z2} / {n})"
    centre = f"(({p} + {z2} / (2.0::DOUBLE * {n})) / {denominator})"
    half = (
        f"({z} * sqrt({p} * (1.0::DOUBLE - {p}) / {n} + {z2} / (4.0::DOUBLE * {n} * {n}))"
        f" / {denominator})"
    )
    if upper:
        bound = (
            f"CASE WHEN {t} >= {n} THEN 1.0::DOUBLE ELSE least({centre} + {half}, 1.0::DOUBLE) END"
        )
    else:
        bound = (
            f"CASE WHEN {t} <= 0 THEN 0.0::DOUBLE ELSE greatest({centre} - {half}, 0.0::DOUBLE) END"
        )
    return f"CASE WHEN {n} > 0 THEN {bound} END"


def _common_ctes() -> str:
    """p: the period; rader: insatser + TOTALT in order; e: participant episodes of the
    catalog insatser; s: e once per insats and once as TOTALT."""
    return f"""
    p AS (
        SELECT fran::DATE AS p_fran, till::DATE AS p_till,
               (till::DATE - fran::DATE + 1)::BIGINT AS p_dagar
    ),
    rader AS (
        SELECT insats_id, insats, ordning FROM insatser
        UNION ALL
        SELECT {_text(TOTAL_INSATS_ID)}, {_text(TOTAL_INSATS_NAMN)},
               (SELECT coalesce(max(ordning), -1) + 1 FROM insatser)
    ),
    e AS (
        SELECT h.*, p.* FROM episoder_harledda h CROSS JOIN p
        WHERE h.{d.AR_DELTAGARE} AND h.insats_id IN (SELECT insats_id FROM insatser)
    ),
    s AS (
        SELECT * FROM e
        UNION ALL
        SELECT * REPLACE ({_text(TOTAL_INSATS_ID)} AS insats_id) FROM e
    )"""


# Period conditions on the columns of s (see definitions.overlaps, starts_in, ...).
_OVERLAPS = "startdatum <= p_till AND coalesce(slutdatum, p_till) >= p_fran"
_STARTS_IN = "startdatum BETWEEN p_fran AND p_till"
_ENDS_IN = "slutdatum BETWEEN p_fran AND p_till"
_OPEN_AT_END = "startdatum <= p_till AND (slutdatum IS NULL OR slutdatum > p_till)"
_ENROLLED_DAYS = (
    "greatest(least(coalesce(slutdatum, p_till), p_till) - greatest(startdatum, p_fran) + 1, 0)"
)


def _deltagare_sql() -> str:
    return f"""
CREATE OR REPLACE MACRO deltagare(fran, till) AS TABLE
WITH {_common_ctes()},
a AS (
    SELECT insats_id,
        count(DISTINCT deltagare_id) AS n_deltagare,
        count(DISTINCT deltagare_id) FILTER (WHERE {d.KON_PERSON} = 'K') AS n_kvinnor,
        count(DISTINCT deltagare_id) FILTER (WHERE {d.KON_PERSON} = 'M') AS n_man,
        count(*) FILTER (WHERE {_STARTS_IN}) AS n_nya,
        count(*) FILTER (WHERE {_ENDS_IN}) AS n_avslutade,
        count(*) FILTER (WHERE {_OPEN_AT_END}) AS n_pagaende,
        sum({_ENROLLED_DAYS}) AS n_dagar
    FROM s WHERE {_OVERLAPS}
    GROUP BY insats_id
)
SELECT r.insats_id, r.insats,
    coalesce(a.n_deltagare, 0)::BIGINT AS deltagare,
    coalesce(a.n_kvinnor, 0)::BIGINT AS kvinnor,
    coalesce(a.n_man, 0)::BIGINT AS man,
    coalesce(a.n_nya, 0)::BIGINT AS nya,
    coalesce(a.n_avslutade, 0)::BIGINT AS avslutade,
    coalesce(a.n_pagaende, 0)::BIGINT AS pagaende,
    coalesce(a.n_dagar, 0)::DOUBLE * (1.0::DOUBLE / (SELECT p_dagar FROM p)::DOUBLE)
        AS arsplatser
FROM rader r LEFT JOIN a USING (insats_id)
ORDER BY r.ordning
"""


def _values(name: str, values: tuple[str, ...]) -> str:
    rows = ", ".join(f"({_text(v)}, {i})" for i, v in enumerate(values))
    return f"(VALUES {rows}) {name}(v_{name}, o_{name})"


def _utfall_sql() -> str:
    counts = ",\n        ".join(
        f"count(*) FILTER (WHERE {d.UPPNATT[m]}) AS t_{m}, "
        f"count(*) FILTER (WHERE {d.OKAND[m]}) AS o_{m}"
        for m in OUTCOME_MEASURES
    )
    long = "\n    UNION ALL\n    ".join(
        f"SELECT insats_id, u_kon, {_text(m)} AS u_matt, n_namnare, t_{m} AS n_taljare, "
        f"o_{m} AS n_okand FROM a"
        for m in OUTCOME_MEASURES
    )
    return f"""
CREATE OR REPLACE MACRO utfall(fran, till) AS TABLE
WITH {_common_ctes()},
b AS (SELECT * FROM s WHERE {d.UTFALLSBAS} AND {_ENDS_IN}),
bk AS (
    SELECT *, {d.KON_PERSON}::VARCHAR AS u_kon FROM b
    UNION ALL
    SELECT *, 'alla' AS u_kon FROM b
),
a AS (
    SELECT insats_id, u_kon, count(*) AS n_namnare,
        {counts}
    FROM bk GROUP BY insats_id, u_kon
),
l AS (
    {long}
),
j AS (
    SELECT r.insats_id, r.insats, r.ordning, kon.v_kon, kon.o_kon, matt.v_matt, matt.o_matt,
        coalesce(l.n_namnare, 0)::BIGINT AS namnare,
        coalesce(l.n_taljare, 0)::BIGINT AS taljare,
        coalesce(l.n_okand, 0)::BIGINT AS antal_okand
    FROM rader r
    CROSS JOIN {_values("kon", ("K", "M", "alla"))}
    CROSS JOIN {_values("matt", OUTCOME_MEASURES)}
    LEFT JOIN l ON l.insats_id = r.insats_id AND l.u_kon = kon.v_kon AND l.u_matt = matt.v_matt
)
SELECT insats_id, insats, v_kon AS kon, v_matt AS matt, namnare, taljare,
    CASE WHEN namnare > 0 THEN taljare::DOUBLE / namnare::DOUBLE END AS andel,
    wilson_lag(taljare, namnare) AS ki_lag,
    wilson_hog(taljare, namnare) AS ki_hog,
    antal_okand,
    CASE WHEN namnare > 0 THEN antal_okand::DOUBLE / namnare::DOUBLE END AS andel_okand
FROM j
ORDER BY ordning, o_kon, o_matt
"""


def _tid_i_insats_sql() -> str:
    return f"""
CREATE OR REPLACE MACRO tid_i_insats(fran, till) AS TABLE
WITH {_common_ctes()},
a AS (
    SELECT insats_id, count(*) AS n_avslutade, median({d.DAGAR_I_INSATS})::DOUBLE AS n_median
    FROM s WHERE {_ENDS_IN}
    GROUP BY insats_id
)
SELECT r.insats_id, r.insats,
    coalesce(a.n_avslutade, 0)::BIGINT AS avslutade,
    a.n_median AS median_dagar
FROM rader r LEFT JOIN a USING (insats_id)
ORDER BY r.ordning
"""


def _maluppfyllelse_sql() -> str:
    is_share = "t.typ = 'andel'"
    utfall = f"CASE WHEN {is_share} THEN u.andel ELSE v.volym END"
    share_columns = ",\n    ".join(
        f"CASE WHEN {is_share} THEN u.{c} END AS {c}"
        for c in ("namnare", "taljare", "ki_lag", "ki_hog", "andel_okand")
    )
    bedomning = d.bedomning_sql(
        is_share, "u.namnare", "u.taljare", "t.matt", "v.volym", "(till - fran + 1)", "k"
    )
    return f"""
CREATE OR REPLACE MACRO maluppfyllelse(fran, till, k := {int(DEFAULT_K)}) AS TABLE
WITH u AS (SELECT * FROM utfall(fran, till) WHERE kon = 'alla'),
dt AS (SELECT * FROM deltagare(fran, till)),
v AS (
    SELECT insats_id, 'arsplatser' AS v_matt, arsplatser AS volym FROM dt
    UNION ALL
    SELECT insats_id, 'deltagare' AS v_matt, deltagare::DOUBLE AS volym FROM dt
),
t AS (SELECT mal.*, i.insats FROM mal JOIN insatser i USING (insats_id))
SELECT t.insats_id, t.insats, t.matt, t.mal::DOUBLE AS mal,
    {utfall} AS utfall,
    {share_columns},
    {bedomning} AS bedomning
FROM t
LEFT JOIN u ON u.insats_id = t.insats_id AND u.matt = t.matt
LEFT JOIN v ON v.insats_id = t.insats_id AND v.v_matt = t.matt
ORDER BY t.ordning
"""


def _create_catalog_tables(con: duckdb.DuckDBPyConnection, catalog: Catalog | None) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE mal (insats_id VARCHAR, matt VARCHAR, mal DOUBLE, typ VARCHAR, "
        "ordning BIGINT, mal_num BIGINT, mal_den BIGINT)"
    )
    if catalog is None:
        con.execute(
            "CREATE OR REPLACE VIEW insatser AS "
            "SELECT insats_id, insats_id AS insats, "
            "(row_number() OVER (ORDER BY insats_id) - 1)::BIGINT AS ordning "
            "FROM (SELECT DISTINCT insats_id FROM episoder)"
        )
        return
    con.execute(
        "CREATE OR REPLACE TABLE insatser (insats_id VARCHAR, insats VARCHAR, ordning BIGINT)"
    )
    # Inserted from Arrow in one statement each (executemany takes a millisecond a row).
    tables = {
        "insatser": catalog.with_records.with_row_index("ordning").select(
            "insats_id", "insats", pl.col("ordning").cast(pl.Int64)
        ),
        "mal": catalog.mal.with_row_index("ordning").select(
            "insats_id",
            "matt",
            "mal",
            "typ",
            pl.col("ordning").cast(pl.Int64),
            # The target as an exact fraction: counts are compared with it in integers.
            pl.col("mal")
            .map_elements(lambda v: target_fraction(v)[0], return_dtype=pl.Int64)
            .alias("mal_num"),
            pl.col("mal")
            .map_elements(lambda v: target_fraction(v)[1], return_dtype=pl.Int64)
            .alias("mal_den"),
        ),
    }
    for name, frame in tables.items():
        if frame.height:
            con.register("_ny_tabell", frame.to_arrow())
            con.execute(f"INSERT INTO {name} SELECT * FROM _ny_tabell")
            con.unregister("_ny_tabell")


def create_views(
    con: duckdb.DuckDBPyConnection, processed_dir: Path, catalog: Catalog | None = None
) -> None:
    """Create the views, catalog tables and macros (module docstring) in `con`.

    The views read the parquet files of `processed_dir` by absolute path. Pass the catalog so
    that the macros show every insats (with zeros) and the targets; without it the insatser
    are those found in the data, named by their id, and `maluppfyllelse` is empty.
    """
    processed_dir = Path(processed_dir).resolve()
    episodes = processed_dir / EPISODES_FILE
    derived = processed_dir / DERIVED_FILE
    for path in (episodes, derived):
        if not path.exists():
            raise FileNotFoundError(
                f"{path} saknas: bygg lagret (views.write_derived skriver {DERIVED_FILE})"
            )
    con.execute(
        f"CREATE OR REPLACE VIEW episoder AS SELECT * FROM read_parquet({_text(str(episodes))})"
    )
    con.execute(
        "CREATE OR REPLACE VIEW episoder_harledda AS "
        f"SELECT * FROM read_parquet({_text(str(derived))})"
    )
    counted = processed_dir / COUNTED_FILE
    if counted.exists():  # counted participants: beside the episodes, never joined to them
        con.execute(
            "CREATE OR REPLACE VIEW raknade_deltagare AS "
            f"SELECT * FROM read_parquet({_text(str(counted))})"
        )
    _create_catalog_tables(con, catalog)
    con.execute(
        f"CREATE OR REPLACE MACRO wilson_lag(taljare, namnare) AS ({_wilson_sql(upper=False)})"
    )
    con.execute(
        f"CREATE OR REPLACE MACRO wilson_hog(taljare, namnare) AS ({_wilson_sql(upper=True)})"
    )
    for sql in (_deltagare_sql(), _utfall_sql(), _tid_i_insats_sql(), _maluppfyllelse_sql()):
        con.execute(sql)
