"""The 许昌市 demo dataset: real city/county boundaries, synthetic sub-county geometry and ledgers."""
