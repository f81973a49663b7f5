"""Subcommands of `sladesk`, one module per area, each with an `add_parsers(sub)`."""
