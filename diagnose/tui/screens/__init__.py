"""Screens over the main view: target entry, export, help."""
