"""The app's widgets, one a module: the session sidebar (and its one-line stand-in on narrow screens), the
health bar, the terminal view with its pane and row painter, and the workbench's tabs (chat, files, diff,
info). They render what the engine reports and post messages up; none holds session state of its own."""
