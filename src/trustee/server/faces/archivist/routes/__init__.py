"""The DataTrails face's routes, one module per resource family."""
