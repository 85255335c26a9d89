"""The persistent workspace: scenarios, plans, bench runs and calibration profiles.

``Store()`` opens SQLite in the user's data directory, or the database named by
``$DEPLOYSCOPE_DATABASE_URL`` (PostgreSQL included). See docs/store.md.
"""

from .store import (
    DATABASE_URL_ENV,
    BenchRunRecord,
    CalibrationRecord,
    NotFound,
    PlanRecord,
    ScenarioRecord,
    Store,
    StoreBusy,
    StoreError,
    default_data_dir,
    default_database_url,
)

__all__ = [
    "DATABASE_URL_ENV",
    "BenchRunRecord",
    "CalibrationRecord",
    "NotFound",
    "PlanRecord",
    "ScenarioRecord",
    "Store",
    "StoreBusy",
    "StoreError",
    "default_data_dir",
    "default_database_url",
]
