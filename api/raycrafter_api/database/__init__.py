"""The database: the handle bound once from the configuration, the tables, their
migrations, and pages of a query."""
