"""The PostgreSQL store: several nodes on one database.

``store`` holds ``PostgresStore``; ``connection`` parses the URL and makes connections;
``schema`` recognises, creates and upgrades the tables; ``queries`` holds the store's
SQL; ``threads`` the listener and the start recorder; ``errors`` the translation of
driver errors. ``url`` needs no driver, and this package imports none by itself:
psycopg is an optional dependency, loaded with ``postgres.store``.
"""
