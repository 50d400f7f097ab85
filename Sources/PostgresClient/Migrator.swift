import Logging

/// One numbered SQL file of the schema, as embedded in the binary.
public struct Migration: Sendable, Hashable {
    /// The number the file name starts with; migrations apply in ascending order.
    public var version: Int
    /// The file name, such as `0003_org_structure.sql`.
    public var fileName: String
    /// The file's text, run as one script in one transaction.
    public var sql: String

    /// A migration from its file name (`NNNN_name.sql`) and text.
    ///
    /// - Throws: ``MigrationError/badFileName(_:)`` when the name does not start with digits and an underscore
    ///   or does not end in `.sql`.
    public init(fileName: String, sql: String) throws(MigrationError) {
        let digits = fileName.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let version = Int(digits), fileName.dropFirst(digits.count).first == "_",
            fileName.hasSuffix(".sql")
        else { throw .badFileName(fileName) }
        self.version = version
        self.fileName = fileName
        self.sql = sql
    }
}

/// Why migrating stopped.
public enum MigrationError: Error, Equatable, CustomStringConvertible {
    /// A file name that is not `NNNN_name.sql`.
    case badFileName(String)
    /// Two files with the same number.
    case duplicateVersion(Int, [String])
    /// An applied migration whose text changed since it was applied.
    case editedAfterApplying(fileName: String, applied: String, now: String)
    /// The database has a migration this binary does not know: it was migrated by a newer version.
    case unknownAppliedMigration(version: Int, fileName: String)
    /// Migrations are pending and the connected role may not apply them (a daemon's own role, say).
    case notPermitted(pending: [String], reason: String)

    /// A sentence for people, naming the file.
    public var description: String {
        switch self {
        case .badFileName(let name):
            return "migration file name \"\(name)\" is not NNNN_name.sql"
        case .duplicateVersion(let version, let names):
            return "migration number \(version) is used by more than one file: \(names.joined(separator: ", "))"
        case .editedAfterApplying(let name, let applied, let now):
            return "migration \(name) was edited after it was applied (checksum \(applied.prefix(12)) in the "
                + "database, \(now.prefix(12)) in this binary); applied migrations are immutable: "
                + "add a new migration instead"
        case .notPermitted(let pending, let reason):
            return "\(pending.count) migrations are pending (first: \(pending.first ?? "?")) and the connected role "
                + "may not apply them (\(reason)); run `invoiceflow migrate` as the database owner first"
        case .unknownAppliedMigration(let version, let name):
            return "the database has migration \(version) (\(name)) that this binary does not know: "
                + "it was migrated by a newer InvoiceFlow; run that version"
        }
    }
}

/// What one run of the migrator did.
public struct MigrationReport: Sendable, Equatable {
    /// File names applied by this run, in order.
    public var applied: [String]
    /// How many migrations had been applied before this run.
    public var alreadyApplied: Int
}

/// Applies pending migrations, each in its own transaction, under an advisory lock so that several
/// daemons starting at once apply each file exactly once. Applied files are recorded with a SHA-256
/// checksum; a run refuses to start when an applied file was edited since.
public struct Migrator: Sendable {
    /// The table recording applied migrations.
    public static let historyTable = "public.invoiceflow_schema_migrations"
    /// The advisory lock key all migrators share (the bytes of "invflow1").
    public static let lockKey: Int64 = 0x696E_7666_6C6F_7731

    private let migrations: [Migration]
    private let logger: Logger

    /// A migrator for `migrations` (any order; they are sorted by version).
    ///
    /// - Throws: ``MigrationError/duplicateVersion(_:_:)`` when two files share a number.
    public init(migrations: [Migration], logger: Logger) throws(MigrationError) {
        let byVersion = Dictionary(grouping: migrations, by: \.version)
        if let (version, files) = byVersion.first(where: { $0.value.count > 1 }) {
            throw .duplicateVersion(version, files.map(\.fileName).sorted())
        }
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// Applies every pending migration on `connection` and reports what it did.
    public func migrate(on connection: PostgresConnection) async throws -> MigrationReport {
        try await connection.execute("SELECT pg_catalog.pg_advisory_lock(\(Self.lockKey))")
        do {
            let report = try await applyPending(on: connection)
            try await connection.execute("SELECT pg_catalog.pg_advisory_unlock(\(Self.lockKey))")
            return report
        } catch {
            // The session lock would outlive a failed run on a pooled connection; release it on a best-effort basis.
            _ = try? await connection.execute("SELECT pg_catalog.pg_advisory_unlock(\(Self.lockKey))")
            throw error
        }
    }

    private func applyPending(on connection: PostgresConnection) async throws -> MigrationReport {
        // An up-to-date schema needs no writes: the daemon's own unprivileged role can then run `serve`, which
        // migrates first. Only a database with pending migrations needs the owner's rights.
        let historyExists = try await connection.query(
            "SELECT pg_catalog.to_regclass(\(Self.historyTable)) IS NOT NULL AS present"
        )[0].decode("present", as: Bool.self)
        if !historyExists {
            do {
                try await createHistory(on: connection)
            } catch let error as PostgresError where error.code == .insufficientPrivilege {
                throw MigrationError.notPermitted(pending: migrations.map(\.fileName), reason: error.message)
            }
        }
        let appliedRows = try await connection.query(
            "SELECT version, file_name, checksum FROM \(unescaped: Self.historyTable) ORDER BY version"
        )
        var applied: [Int: (fileName: String, checksum: String)] = [:]
        for row in appliedRows {
            applied[try row.decode("version", as: Int.self)] = (
                try row.decode("file_name", as: String.self), try row.decode("checksum", as: String.self)
            )
        }

        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        for (version, record) in applied.sorted(by: { $0.key < $1.key }) where known[version] == nil {
            throw MigrationError.unknownAppliedMigration(version: version, fileName: record.fileName)
        }

        var report = MigrationReport(applied: [], alreadyApplied: applied.count)
        for migration in migrations {
            let checksum = try await Self.checksum(of: migration.sql, on: connection)
            if let record = applied[migration.version] {
                guard record.checksum == checksum else {
                    throw MigrationError.editedAfterApplying(
                        fileName: migration.fileName, applied: record.checksum, now: checksum)
                }
                continue
            }
            let started = ContinuousClock.now
            logger.info("applying migration", metadata: ["file": "\(migration.fileName)"])
            do {
                try await apply(migration, checksum: checksum, started: started, on: connection)
            } catch let error as PostgresError where error.code == .insufficientPrivilege && report.applied.isEmpty {
                let pending = migrations.filter { applied[$0.version] == nil }.map(\.fileName)
                throw MigrationError.notPermitted(pending: pending, reason: error.message)
            }
            report.applied.append(migration.fileName)
        }
        return report
    }

    private func createHistory(on connection: PostgresConnection) async throws {
        try await connection.execute(
            script: """
                CREATE TABLE \(Self.historyTable) (
                    version integer NOT NULL CONSTRAINT invoiceflow_schema_migrations_pkey PRIMARY KEY,
                    file_name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
                    applied_by name NOT NULL DEFAULT session_user,
                    duration_ms integer NOT NULL
                );
                REVOKE ALL ON \(Self.historyTable) FROM PUBLIC;
                GRANT SELECT ON \(Self.historyTable) TO PUBLIC;
                COMMENT ON TABLE \(Self.historyTable) IS
                    'Schema migrations applied by invoiceflow migrate, with a SHA-256 of each file''s text. '
                    'Readable by every role so that a daemon can check the schema is current.';
                """
        )
    }

    private func apply(
        _ migration: Migration, checksum: String, started: ContinuousClock.Instant, on connection: PostgresConnection
    ) async throws {
        try await connection.transaction { connection in
            try connection.execute(script: migration.sql)
            let elapsed = ContinuousClock.now - started
            let milliseconds = Int(elapsed / .milliseconds(1))
            try connection.execute(
                """
                INSERT INTO \(unescaped: Self.historyTable) (version, file_name, checksum, duration_ms)
                VALUES (\(migration.version), \(migration.fileName), \(checksum), \(milliseconds))
                """
            )
        }
    }

    /// The hex SHA-256 of a file's text, computed by the server so the client needs no crypto library.
    private static func checksum(of sql: String, on connection: PostgresConnection) async throws -> String {
        let rows = try await connection.query(
            "SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(\(sql), 'UTF8')), 'hex') AS checksum")
        return try rows[0].decode("checksum", as: String.self)
    }
}
