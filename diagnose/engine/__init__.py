"""The engine: finding model, plugin API, registry, runner and report. Imports no front end."""
