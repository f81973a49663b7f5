from sladesk_tui.cli import run

run()
