"""clauderon's user interfaces, all pure clients of the engine: the Textual app (its screens, widgets, workbench
tabs and command palette), the `clauderon` command line and `attach`, and `serve` (the app in a browser)."""
