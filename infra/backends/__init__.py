"""One module per backend server; each exposes a `Backend` subclass."""
