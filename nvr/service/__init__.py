"""The running service: wiring of config, database, cameras and the web server."""
