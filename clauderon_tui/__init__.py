"""clauderon's user interfaces: the Textual app, its widgets, the CLI and `serve`."""
