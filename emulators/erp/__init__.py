"""The reference ERP: serves the ERP Sync API (docs/erp-sync-api.yaml) from SQLite, for tests and the demo."""

from emulators.erp.app import create_app
from emulators.erp.seed import DEMO_SEED, seed_file, seed_store
from emulators.erp.store import ErpStore

__all__ = ["DEMO_SEED", "ErpStore", "create_app", "seed_file", "seed_store"]
