"""Database access: the engine, the local cluster, migrations and the data model."""
