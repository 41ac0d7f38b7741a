"""The engine: one per home, on its own event loop. It owns the store, the backends, the proxy, one terminal
stream per running session, sessions' life cycle, hooks, landing and the disk guard."""
