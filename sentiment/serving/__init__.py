"""Serving the model: the HTTP service, its web page, metrics, API keys and access log."""
