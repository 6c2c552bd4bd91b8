"""Contiguous blocks (集中连片): candidate parcels that touch or lie within ``distance_m`` of each
other (e.g. across a 20 m road) grouped into blocks, each with its area in 亩, member parcels,
area-weighted FAR and 亩均税收, kept when at least ``min_block_mu`` 亩.

Grouping is single linkage (the transitive closure of "within the distance"), computed by
PostGIS ``ST_ClusterDBSCAN`` with one point per cluster allowed, on the parcels projected to the
Gauss-Krüger zone most of them lie in, so the distance is in metres. Block geometries are the
union of their parcels in EPSG:4490.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, text

BLOCKS = "landgis_block"
CLUSTERS = "landgis_cluster"


class BlockSpec(BaseModel):
    """Block parameters: distance in metres (0 = touching only), minimum block area in 亩."""

    model_config = ConfigDict(extra="forbid")

    distance_m: float = Field(default=0.0, ge=0, le=500)
    min_block_mu: float = Field(default=0.0, ge=0)
    only_in_blocks: bool = Field(default=False, description="return only the parcels of kept blocks")


def build_blocks(conn: Connection, candidates: str, spec: BlockSpec) -> int:
    """Group the rows of the temporary table ``candidates`` (parcel_id, geom in EPSG:4490, area_mu,
    far, tax_wan, value_added_wan, gk_srid, block_id) into ``landgis_block``; returns the number
    of blocks kept and sets ``block_id`` on their parcels."""
    conn.execute(text(f"DROP TABLE IF EXISTS {CLUSTERS}; DROP TABLE IF EXISTS {BLOCKS}"))
    srid = conn.execute(text(f"SELECT mode() WITHIN GROUP (ORDER BY gk_srid) FROM {candidates}")).scalar()
    # The cluster table carries each parcel's figures, so that the block sums need no second
    # read of the (wide) candidate rows; only the members of kept blocks are joined back for
    # their geometries, and only they are updated.
    conn.execute(
        text(
            f"CREATE TEMP TABLE {CLUSTERS} ON COMMIT DROP AS"
            " SELECT c.parcel_id, c.area_mu, c.far, c.tax_wan, c.value_added_wan,"
            " ST_ClusterDBSCAN(ST_Transform(c.geom, CAST(:srid AS integer)), eps := :d, minpoints := 1) OVER () AS cluster"
            f" FROM {candidates} c"
        ),
        {"srid": srid or 4549, "d": spec.distance_m},
    )
    conn.execute(
        text(
            f"CREATE TEMP TABLE {BLOCKS} ON COMMIT DROP AS"
            " WITH s AS ("
            "  SELECT k.cluster, count(*) AS parcel_count, sum(k.area_mu) AS area_mu,"
            "   array_agg(k.parcel_id ORDER BY k.parcel_id) AS parcel_ids,"
            "   sum(k.far * k.area_mu) / nullif(sum(k.area_mu) FILTER (WHERE k.far IS NOT NULL), 0) AS far,"
            "   coalesce(sum(k.tax_wan), 0) AS tax_wan, coalesce(sum(k.value_added_wan), 0) AS value_added_wan,"
            "   min(k.parcel_id) AS first_id"
            f"  FROM {CLUSTERS} k GROUP BY k.cluster HAVING sum(k.area_mu) >= :min_mu),"
            " u AS ("
            "  SELECT k.cluster, ST_Multi(ST_Union(c.geom)) AS geom"
            f"  FROM s JOIN {CLUSTERS} k ON k.cluster = s.cluster JOIN {candidates} c ON c.parcel_id = k.parcel_id"
            "  GROUP BY k.cluster)"
            " SELECT CAST(row_number() OVER (ORDER BY s.area_mu DESC, s.first_id) AS integer) AS block_id,"
            "  s.cluster, s.parcel_count, s.area_mu, s.parcel_ids, s.far, s.tax_wan, s.value_added_wan,"
            "  s.tax_wan / nullif(s.area_mu, 0) AS mu_tax, u.geom"
            " FROM s JOIN u ON u.cluster = s.cluster"
        ),
        {"min_mu": spec.min_block_mu},
    )
    conn.execute(
        text(
            f"UPDATE {candidates} c SET block_id = b.block_id FROM {BLOCKS} b JOIN {CLUSTERS} k ON k.cluster = b.cluster"
            " WHERE c.parcel_id = k.parcel_id"
        )
    )
    return int(conn.execute(text(f"SELECT count(*) FROM {BLOCKS}")).scalar_one())
