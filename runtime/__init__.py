"""clauderon's engine side: settings, sessions, store, git, backends, terminals, the engine and its API."""
