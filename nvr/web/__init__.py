"""The dashboard and API: app factory, routes, TLS."""
