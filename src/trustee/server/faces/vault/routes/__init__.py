"""One module per API path family, each a thin layer over a service."""
