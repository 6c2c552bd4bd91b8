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
    conn.execute(
        text(
            f"CREATE TEMP TABLE {CLUSTERS} ON COMMIT DROP AS"
            " SELECT c.parcel_id,"
            " ST_ClusterDBSCAN(ST_Transform(c.geom, CAST(:srid AS integer)), eps := :d, minpoints := 1) OVER () AS cluster"
            f" FROM {candidates} c"
        ),
        {"srid": srid or 4549, "d": spec.distance_m},
    )
    conn.execute(
        text(
            f"CREATE TEMP TABLE {BLOCKS} ON COMMIT DROP AS"
            " WITH s AS ("
            "  SELECT k.cluster, count(*) AS parcel_count, sum(c.area_mu) AS area_mu,"
            "   array_agg(c.parcel_id ORDER BY c.parcel_id) AS parcel_ids,"
            "   sum(c.far * c.area_mu) / nullif(sum(c.area_mu) FILTER (WHERE c.far IS NOT NULL), 0) AS far,"
            "   coalesce(sum(c.tax_wan), 0) AS tax_wan, coalesce(sum(c.value_added_wan), 0) AS value_added_wan,"
            "   min(c.parcel_id) AS first_id"
            f"  FROM {CLUSTERS} k JOIN {candidates} c ON c.parcel_id = k.parcel_id"
            "  GROUP BY k.cluster HAVING sum(c.area_mu) >= :min_mu)"
            " SELECT CAST(row_number() OVER (ORDER BY s.area_mu DESC, s.first_id) AS integer) AS block_id,"
            "  s.cluster, s.parcel_count, s.area_mu, s.parcel_ids, s.far, s.tax_wan, s.value_added_wan,"
            "  s.tax_wan / nullif(s.area_mu, 0) AS mu_tax,"
            "  u.geom FROM s JOIN ("
            f"  SELECT k.cluster, ST_Multi(ST_Union(c.geom)) AS geom FROM {CLUSTERS} k"
            f"  JOIN {candidates} c ON c.parcel_id = k.parcel_id WHERE k.cluster IN (SELECT cluster FROM s)"
            "  GROUP BY k.cluster) u ON u.cluster = s.cluster"
        ),
        {"min_mu": spec.min_block_mu},
    )
    conn.execute(
        text(
            f"UPDATE {candidates} c SET block_id = b.block_id FROM {CLUSTERS} k, {BLOCKS} b"
            " WHERE k.parcel_id = c.parcel_id AND b.cluster = k.cluster"
        )
    )
    return int(conn.execute(text(f"SELECT count(*) FROM {BLOCKS}")).scalar_one())
