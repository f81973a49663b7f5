"""The ticket screen and its own dialogs (status, priority), one package: the screen
imports its dialogs, no other screen imports either (docs/tui.md)."""

from sladesk_tui.tui.screens.ticket.screen import TicketScreen, TicketView, load_view

__all__ = ["TicketScreen", "TicketView", "load_view"]
