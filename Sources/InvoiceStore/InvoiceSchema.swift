import PostgresClient

/// The SQL migration files compiled into this module by the `EmbedMigrations` plugin.
enum EmbeddedMigrationFiles {}

/// InvoiceFlow's database schema: the numbered files of `sql/migrations`, carried inside the binary.
public enum InvoiceSchema {
    /// Every migration, in file-name order.
    ///
    /// - Throws: ``MigrationError/badFileName(_:)`` for a file not named `NNNN_name.sql`; the schema tests
    ///   make sure no such file ships.
    public static func migrations() throws(MigrationError) -> [Migration] {
        try EmbeddedMigrationFiles.all.map { file throws(MigrationError) in
            try Migration(fileName: file.fileName, sql: file.sql)
        }
    }

    /// The LISTEN channel command functions notify when they queue routing work (payload: ids only).
    public static let workChannel = "invoiceflow_work"
}
