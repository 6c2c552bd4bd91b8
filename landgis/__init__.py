"""landgis: industrial-land renewal on PostGIS (亩均论英雄, 腾笼换鸟, 低效工业用地有机更新).

The core library. It never imports the web framework: it takes a SQLAlchemy connection or
session and returns data; ``api/`` translates HTTP to these calls.
"""

__version__ = "0.1.0"
