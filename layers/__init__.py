"""Map layers as data: validated specs in a registry and one generic builder."""
