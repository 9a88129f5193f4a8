"""The catalog: a local copy of Productlane's companies, projects, issues, tags and members, for
the modal's searchable selects (triage). Read from memory on Slack's request path, refreshed in
the background within a read budget shared by every replica; see `service` and `refresh`."""

from bot.catalog.entries import Entry, domain_of
from bot.catalog.kinds import READ_SCOPES, Kind
from bot.catalog.search import KindIndex, fold
from bot.catalog.service import Catalog, build_catalog

__all__ = ["READ_SCOPES", "Catalog", "Entry", "Kind", "KindIndex", "build_catalog", "domain_of", "fold"]
