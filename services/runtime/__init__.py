"""Runtime shared by every service: settings, server bootstrap, auth, errors, telemetry,
backend clients, events and schema migrations. Written once, imported everywhere."""
