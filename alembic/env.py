"""Alembic environment: the target URL comes from the project's configuration, the schema from loader.core.models."""

from functools import cache
from logging.config import fileConfig

from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Connection, make_url, text

from alembic import context
from loader.core.config import Database, load_settings
from loader.core.db import engine as pipeline_engine
from loader.core.models import Base

config = context.config
# The pipeline upgrades the schema on every run and says what it did in its own summary: it asks for quiet.
if config.config_file_name is not None and not config.attributes.get("quiet"):
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


def _unknown_revisions() -> list[str]:
    """The revisions alembic_version holds that no file in alembic/versions defines."""
    script = ScriptDirectory.from_config(config)
    unknown = []
    for head in context.get_context().get_current_heads():
        try:
            known = script.get_revision(head) is not None
        except (CommandError, RevisionError):
            known = False
        if not known:
            unknown.append(head)
    return unknown


def _run_migrations(connection: Connection) -> None:
    """Run the command; a target stamped with a revision this project does not know says so in one sentence.

    Checked only once Alembic fails to resolve a revision, so `alembic stamp --purge`, which ignores the
    current one, can still repair such a database.
    """
    _configure(connection)
    with context.begin_transaction():
        try:
            context.run_migrations()
        except CommandError as exc:
            unknown = _unknown_revisions()
            if not unknown:
                raise
            where = Database("NEW", connection.engine.url, "url").describe()
            raise CommandError(
                f"the target database {where} is at Alembic revision {', '.join(unknown)}, which this project does "
                "not know: it is managed by another application, or by a newer legacy-migrate; point "
                "NEW_DATABASE_URL (or NEW_DB_*) at legacy-migrate's own target database, or an empty one, or run "
                "this with the legacy-migrate that wrote it"
            ) from exc


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
        _run_migrations(connection)
        return
    # The pipeline's engine: its sessions' settings (ISO dates, no statement timeout) hold for the schema's upgrades
    # too, which rewrite whole tables.
    engine = pipeline_engine(Database("NEW", make_url(_url()), "url"))
    with engine.connect() as connection:
        _run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
