"""Modal screens: create, confirm delete, session switcher, help."""
