"""ETL: ledgers and boundaries → validated rows → PostGIS, and the derived-layer refresh."""
