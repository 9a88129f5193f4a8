"""Storage: the one database every feature keeps its tables in.

`Database` owns the engine, transactions and the clock; `metadata` is the one schema every
feature's tables hang on; `bot.db.types` has the column types they use. Opening a `Database`
creates every table registered on `metadata` and runs pending migrations, once, under a lock all
replicas share. This package imports nothing else of the bot.
"""

from bot.db.database import Database, DatabaseFileGoneError
from bot.db.schema import metadata

__all__ = ["Database", "DatabaseFileGoneError", "metadata"]
