"""SafeGrid command line: the composition root that wires geo, etl and dashboard together."""
