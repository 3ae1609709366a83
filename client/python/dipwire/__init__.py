"""dipwire's Python client and ingest script.

- :mod:`dipwire.client`: :class:`~dipwire.client.Client` (publish,
  subscribe with resume, history, acknowledgements) and
  :class:`~dipwire.client.DipwireError`.
- :mod:`dipwire.ingest`: ``python3 -m dipwire.ingest FILE`` publishes a
  file of events (``--help``).
- :mod:`dipwire.v1`: the generated stubs of the API (build time).
"""
