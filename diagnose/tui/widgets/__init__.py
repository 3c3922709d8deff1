"""The main screen's widgets: header line, mail-flow overview, results tree, details pane."""
