"""ASGI entry point for uvicorn: ``uvicorn retento.asgi:app``."""

from retento.app import create_app, freeze_startup_heap

app = create_app()
freeze_startup_heap()  # after the imports and the app are built (see its docstring)
