"""Two-way sync between Microsoft 365 calendars and an ERP's activities (the deployed package)."""
