"""A stateful Microsoft Graph calendar emulator (events, calendar-view delta, subscriptions); see README.md."""

from emulators.graph.app import Emulator, create_app
from emulators.graph.config import EmulatorConfig, ThrottleSettings

__all__ = ["Emulator", "EmulatorConfig", "ThrottleSettings", "create_app"]
