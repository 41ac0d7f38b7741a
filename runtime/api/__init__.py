"""The engine API: the HTTP + websocket server over the home's unix socket, its routes, and the client every UI uses."""
