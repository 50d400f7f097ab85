/// The SQL migration files compiled into this module by the `EmbedMigrations` plugin.
enum EmbeddedMigrationFiles {}
