"""Accounts: users with a role and a region scope, passwords, browser sessions and API tokens.

The core never sees HTTP: it takes a connection and returns a ``Principal`` (who is asking, in
which role, limited to which regions) that the web layer hands to ``set_scope``.
"""

from landgis.accounts.principal import ROLE_LABELS, Principal, Role

__all__ = ["ROLE_LABELS", "Principal", "Role"]
