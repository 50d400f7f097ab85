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

    /// A fingerprint of migration files (FNV-1a, 64 bits, over each file's name, a NUL, its text, a NUL, in
    /// file-name order), in 16 hex digits. `invoiceflow version` prints it for the embedded files and the
    /// scripts compute it over `sql/migrations` (`scripts/lib/env.sh`): SwiftPM runs the build plugin only
    /// when the package or its target changes, so a file added since its last run and then edited is not
    /// embedded again until it runs.
    /// Not a security checksum (the migrator's SHA-256 is).
    public static func fingerprint(of files: [(fileName: String, sql: String)]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func add(_ bytes: some Sequence<UInt8>) {
            for byte in bytes {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
        }
        for file in files.sorted(by: { $0.fileName < $1.fileName }) {
            add(file.fileName.utf8)
            add([0])
            add(file.sql.utf8)
            add([0])
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The fingerprint of the migrations embedded in this binary.
    public static var embeddedFingerprint: String { fingerprint(of: EmbeddedMigrationFiles.all) }

    /// The LISTEN channel command functions notify when they queue routing work (payload: ids only).
    public static let workChannel = "invoiceflow_work"
}
