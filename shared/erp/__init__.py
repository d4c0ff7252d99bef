"""The ERP side: the ERP Sync API contract (docs/erp-sync-api.yaml), its port and its HTTP adapter."""
