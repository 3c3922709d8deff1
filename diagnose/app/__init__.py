"""Front doors: the command line, the plan, batch, settings, the Python API."""
