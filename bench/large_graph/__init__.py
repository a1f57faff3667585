"""The large-graph benchmark (see __main__)."""
