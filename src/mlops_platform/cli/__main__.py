"""``python -m mlops_platform.cli``: the same as the ``mlops`` command."""

from mlops_platform.cli.app import main

main()
