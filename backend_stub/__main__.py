"""``python -m backend_stub [--reset]``: serve the API with uvicorn (host/port from env)."""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from .config import Settings
from .db import drop_schema, make_engine
from .log import configure_logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m backend_stub", description=__doc__)
    parser.add_argument("--host", help="override BACKEND_HOST (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="override BACKEND_PORT (default 8000)")
    parser.add_argument(
        "--reset", action="store_true", help="drop all tables first, so the demo data is seeded again relative to today"
    )
    args = parser.parse_args(argv)
    if args.host:
        os.environ["BACKEND_HOST"] = args.host
    if args.port:
        os.environ["BACKEND_PORT"] = str(args.port)
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    if args.reset:
        drop_schema(make_engine(settings.database_url))
        logging.getLogger("backend_stub").info("database reset")

    from .app import create_app

    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    main()
