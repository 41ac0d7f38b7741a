"""clauderon's engine side: settings, sessions, store, git, backends, terminals, the engine and its API."""

__version__ = "0.1.0"
