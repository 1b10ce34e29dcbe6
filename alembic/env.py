"""Alembic environment: the target URL comes from the project's configuration, the schema from loader.models."""

from functools import cache
from logging.config import fileConfig

from sqlalchemy import Connection, create_engine, pool, text

from alembic import context
from loader.config import load_settings
from loader.models import Base

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
# Tables the pipeline owns but Alembic does not: the loader's staging schema and dbt's schemas, and the
# partitions publish attaches to the ledger (the model is their partitioned parent).
MANAGED_SCHEMAS = {None, "public"}


@cache
def _partitions() -> frozenset[str]:
    # Asked only while comparing (alembic check, autogenerate), inside Alembic's own transaction.
    query = text("select relname from pg_class where relispartition")
    return frozenset(str(name) for name in context.get_bind().execute(query).scalars())


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    if type_ == "table":
        return obj.schema in MANAGED_SCHEMAS and not (reflected and name in _partitions())
    return True


def _configure(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, include_object=include_object)


def _url() -> str:
    explicit = config.attributes.get("url")
    if explicit is not None:
        return str(explicit)
    return load_settings().new.url.render_as_string(hide_password=False)


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
