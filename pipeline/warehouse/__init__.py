"""The warehouse and its published snapshots (DESIGN §1).

Writers hold `warehouse/.lock`; readers (reports, status, dashboard) never open the warehouse:
they resolve `published/CURRENT` and open that snapshot read-only per call.
"""

from pipeline.warehouse.rebuild import needs_rebuild, rebuild_from_archive
from pipeline.warehouse.snapshots import (
    SnapshotMissing,
    current_run_id,
    current_snapshot,
    new_run_id,
    open_snapshot,
    publish,
)

__all__ = ["SnapshotMissing", "current_run_id", "current_snapshot", "needs_rebuild", "new_run_id",
           "open_snapshot", "publish", "rebuild_from_archive"]
