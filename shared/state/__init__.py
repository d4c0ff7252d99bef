"""Sync state in Azure Table Storage: links, cursors, subscriptions, leases and recorded issues."""
