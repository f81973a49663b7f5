"""Subcommands kept out of cli.py, one module per area, each with `add_parsers(sub)`."""
