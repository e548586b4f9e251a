"""ASGI entry point for uvicorn: ``uvicorn retento.asgi:app``."""

from retento.app import create_app

app = create_app()
