"""Loading county data: cadastral parcels, enterprise registers, occupancy and yearly figures.

Every load is one recorded batch: read and validate everything, stage it, then merge into the
live tables in a single transaction, so a failed or killed load leaves the database as it was.
"""
