"""The schema's history: one module per version, each the step from the version before it.

FROZEN. A database upgraded by a migration must end up exactly like one built from nothing, and
every database ever created has run these steps as they were when it ran them, so a module here
is never edited once released (a typo in a comment is the only exception): not its tables, not
its SQL, not the names it creates. Each describes the tables it creates or reads as they were at
its version, without importing ``schema`` (which describes only today's shape and will change).

To change the schema: edit ``schema.py``, add ``vN.py`` here with ``NAME`` and ``apply(conn)``
that turns a version N-1 database into version N, append it to ``migrations.MIGRATIONS``, and
add a writer for version N's rows in ``tests/test_migrations.py`` if it changes what they look
like. ``tests/test_migrations.py`` then checks that the steps build what ``schema.py`` describes
and upgrades a database from every earlier version, with rows in it.
"""
