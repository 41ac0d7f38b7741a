"""Serving the app to browsers: the `serve` command, its login (password and passkeys) and the pages it renders."""
