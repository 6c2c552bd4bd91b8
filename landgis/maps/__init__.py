"""Maps: layer definitions, vector and raster tiles, the tile cache, parcel search and dossier."""
