"""The Textual front end. Imported only by `maildoctor tui` / `check --tui`: the engine and the
checks never import textual (tests/tui/test_layering.py proves it)."""
