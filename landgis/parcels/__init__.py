"""Parcels (宗地): search, one parcel's data, and edits that are validated and audited."""
