"""The Dash app: pages, callbacks, Flask data routes and auth."""
