"""OGC API - Features, the framework-free part: the collection registry, CRS handling, CQL2
filters translated to SQLAlchemy expressions, and the items queries with keyset paging.

``api/routers/ogc.py`` turns HTTP requests into calls here and the results into GeoJSON/HTML.
"""
