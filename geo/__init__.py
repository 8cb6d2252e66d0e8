"""Storage layer: settings, models, migrations and every SQL query of SafeGrid."""
