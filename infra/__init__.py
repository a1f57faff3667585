"""Local infrastructure: installs, starts and stops the real backends and the services."""
