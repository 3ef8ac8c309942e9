"""The REST API (FastAPI) over the service layer; ``app.create_app(workspace_dir)`` builds it.

Nothing is imported here: the web pages import the API's routes, and the app mounts the web pages,
so a package that imported the app would put the two in a cycle."""
