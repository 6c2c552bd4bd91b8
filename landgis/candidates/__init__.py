"""Candidate selection (低效工业用地认定 and related categories): composable rules over parcels,
shipped presets, contiguous blocks (连片)."""
