"""nb201-rebench service: API, storage, web page and the ``rebench`` CLI."""
