"""The domain home: SafeGrid's rules as pure Python, no SQL, no Dash, no Flask.

Vocabularies and their Chinese labels, codes, the four-colour rule, the business clock, coordinate
systems (and, from round 2, the state machines and the permission matrix). Importable by ``geo``,
``etl``, ``layers`` and ``dashboard`` alike, tested as tables of cases (``docs/architecture.md``).
"""
