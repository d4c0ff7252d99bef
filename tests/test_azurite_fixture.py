"""The local storage stack the other storage tests stand on."""

from azure.data.tables import TableServiceClient


def test_azurite_serves_tables_on_loopback(azurite_connection_string: str) -> None:
    """Azurite answers a create/list of tables through the real SDK."""
    service = TableServiceClient.from_connection_string(azurite_connection_string)
    service.create_table_if_not_exists("smoke")
    assert "smoke" in {t.name for t in service.list_tables()}
