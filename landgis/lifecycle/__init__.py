"""The renewal life cycle (腾笼换鸟 over the years) and 一码管地.

- ``workflow``: the renewal states and transitions, as configuration (``workflow.yaml``);
- ``events``: taking a parcel through a transition, its history, undo;
- ``landcode``: the stable land code, the dossier of one code, QR images and sheets;
- ``colours``: the configurable red/yellow/green rules and the colours computed in SQL;
- ``idle``: 闲置土地 (国土资源部令第53号), 五未 and the deadline list;
- ``standard``: 标准地 agreements, commitments and 达产复核;
- ``matching``: ranking freed, vacant and idle land for a project;
- ``report``: the progress report of a region or zone for a year (HTML and Excel).
"""
