"""The ``jobsched`` commands, one module per group; ``console/cli.py`` gathers them."""
