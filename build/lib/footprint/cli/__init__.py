"""The command line (``footprint``): a thin typer layer over the packages; ``main.run`` is the entry point."""
