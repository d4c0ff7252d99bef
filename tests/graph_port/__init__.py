"""The calendar port contract, run against GraphCalendar and the in-process fake alike."""
