"""The landgis web service: HTTP in front of the core library."""
