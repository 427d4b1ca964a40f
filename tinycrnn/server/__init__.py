"""The ``tinycrnn serve`` web service (Flask app factory, micro-batcher, upload page).

Nothing here is imported by ``import tinycrnn``; Flask and waitress come with the ``serve`` extra.
"""
