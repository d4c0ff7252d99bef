"""The M365 side: the calendar port and its Microsoft Graph adapter (msgraph-sdk)."""
