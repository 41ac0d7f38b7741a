"""clauderon's widgets: the session sidebar, the terminal view and the health bar."""
