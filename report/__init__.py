"""The board pack (PDF): a view like the app's pages, built from ``present`` and ``metrics``."""
