import InvoiceTestSupport
import Logging
import Testing

@testable import PostgresClient

@Suite("Migrator")
struct MigratorTests {
    let logger = Logger(label: "test.migrator")

    private func migrations(_ files: [(String, String)]) throws -> [Migration] {
        try files.map { try Migration(fileName: $0.0, sql: $0.1) }
    }

    private let schema = [
        ("0001_people.sql", "CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL);"),
        ("0002_rows.sql", "INSERT INTO people VALUES (1, 'Анна'); INSERT INTO people VALUES (2, 'Борис');"),
    ]

    @Test("a second run applies nothing; the history records each file with its checksum")
    func idempotent() async throws {
        let database = try await TestPostgres.createDatabase()
        let connection = try await PostgresConnection.connect(database.configuration, logger: logger)
        let migrator = try Migrator(migrations: try migrations(schema), logger: logger)

        let first = try await migrator.migrate(on: connection)
        #expect(first.applied == ["0001_people.sql", "0002_rows.sql"])
        #expect(first.alreadyApplied == 0)

        let second = try await migrator.migrate(on: connection)
        #expect(second.applied.isEmpty)
        #expect(second.alreadyApplied == 2)

        let rows = try await connection.query(
            "SELECT count(*)::int AS n, bool_and(length(checksum) = 64) AS hex FROM public.invoiceflow_schema_migrations"
        )
        #expect(try rows[0].decode("n", as: Int.self) == 2)
        #expect(try rows[0].decode("hex", as: Bool.self))
        let people = try await connection.query("SELECT count(*)::int AS n FROM people")
        #expect(try people[0].decode("n", as: Int.self) == 2)
        await connection.close()
    }

    @Test("an applied file that was edited stops the run with a message naming the file")
    func editedFileRefused() async throws {
        let database = try await TestPostgres.createDatabase()
        let connection = try await PostgresConnection.connect(database.configuration, logger: logger)
        _ = try await Migrator(migrations: try migrations(schema), logger: logger).migrate(on: connection)

        var edited = schema
        edited[0].1 += "\n-- a harmless-looking edit"
        edited.append(("0003_more.sql", "CREATE TABLE more (id int);"))
        let migrator = try Migrator(migrations: try migrations(edited), logger: logger)
        await #expect {
            _ = try await migrator.migrate(on: connection)
        } throws: { error in
            guard case .editedAfterApplying(let name, _, _) = error as? MigrationError else { return false }
            return name == "0001_people.sql" && "\(error)".contains("0001_people.sql")
        }
        // Nothing after the refusal ran.
        let more = try await connection.query("SELECT to_regclass('more') IS NULL AS absent")
        #expect(try more[0].decode("absent", as: Bool.self))
        await connection.close()
    }

    @Test("a failing migration leaves nothing behind and is not recorded")
    func failingMigrationRollsBack() async throws {
        let database = try await TestPostgres.createDatabase()
        let connection = try await PostgresConnection.connect(database.configuration, logger: logger)
        let broken = schema + [("0003_broken.sql", "CREATE TABLE half (id int); SELECT 1/0;")]
        let migrator = try Migrator(migrations: try migrations(broken), logger: logger)
        await #expect(throws: PostgresError.self) { _ = try await migrator.migrate(on: connection) }

        let state = try await connection.query(
            """
            SELECT to_regclass('half') IS NULL AS absent,
                   (SELECT count(*)::int FROM public.invoiceflow_schema_migrations) AS applied
            """)
        #expect(try state[0].decode("absent", as: Bool.self))
        #expect(try state[0].decode("applied", as: Int.self) == 2)
        await connection.close()
    }

    @Test("a database migrated by a newer binary is refused")
    func unknownAppliedMigration() async throws {
        let database = try await TestPostgres.createDatabase()
        let connection = try await PostgresConnection.connect(database.configuration, logger: logger)
        _ = try await Migrator(migrations: try migrations(schema), logger: logger).migrate(on: connection)
        let older = try Migrator(migrations: try migrations(Array(schema.prefix(1))), logger: logger)
        await #expect {
            _ = try await older.migrate(on: connection)
        } throws: { error in
            (error as? MigrationError) == .unknownAppliedMigration(version: 2, fileName: "0002_rows.sql")
        }
        await connection.close()
    }

    @Test("a role that may create nothing checks an up-to-date schema without writing, and is told to migrate first")
    func unprivilegedRole() async throws {
        let database = try await TestPostgres.createDatabase()
        let owner = try await PostgresConnection.connect(database.configuration, logger: logger)
        let role = "migrator_reader_" + database.name.suffix(12).filter { $0.isLetter || $0.isNumber }
        try await owner.execute("CREATE ROLE \(identifier: role) LOGIN")
        let asReader = database.configuration.setting("user", role)

        // Nothing applied yet: the reader can create no history table.
        let reader = try await PostgresConnection.connect(asReader, logger: logger)
        let all = try migrations(schema)
        await #expect {
            _ = try await Migrator(migrations: all, logger: logger).migrate(on: reader)
        } throws: { error in
            guard case .notPermitted(let pending, _) = error as? MigrationError else { return false }
            return pending == ["0001_people.sql", "0002_rows.sql"] && "\(error)".contains("invoiceflow migrate")
        }

        // Once the owner migrated, the same run succeeds for the reader and applies nothing.
        _ = try await Migrator(migrations: all, logger: logger).migrate(on: owner)
        let report = try await Migrator(migrations: all, logger: logger).migrate(on: reader)
        #expect(report == MigrationReport(applied: [], alreadyApplied: 2))

        // A new file the reader may not apply is refused with the list of what is pending.
        let newer = try migrations(schema + [("0003_more.sql", "CREATE TABLE public.more (id int);")])
        await #expect {
            _ = try await Migrator(migrations: newer, logger: logger).migrate(on: reader)
        } throws: { error in
            guard case .notPermitted(let pending, _) = error as? MigrationError else { return false }
            return pending == ["0003_more.sql"]
        }
        await reader.close()
        try await owner.execute("REASSIGN OWNED BY \(identifier: role) TO CURRENT_USER")
        try await owner.execute("DROP OWNED BY \(identifier: role)")
        await owner.close()
        try await database.drop()
        let server = try await PostgresConnection.connect(database.serverConfiguration, logger: logger)
        try await server.execute("DROP ROLE \(identifier: role)")
        await server.close()
    }

    @Test("five migrators starting at once apply each file exactly once")
    func concurrentStarts() async throws {
        let database = try await TestPostgres.createDatabase()
        let files = (1...6).map { index in
            (String(format: "%04d_step.sql", index), "CREATE TABLE step\(index) (id int); SELECT pg_sleep(0.05);")
        }
        let all = try migrations(files)
        let reports = try await withThrowingTaskGroup(of: MigrationReport.self) { group in
            for _ in 0..<5 {
                group.addTask {
                    let connection = try await PostgresConnection.connect(database.configuration, logger: logger)
                    let report = try await Migrator(migrations: all, logger: logger).migrate(on: connection)
                    await connection.close()
                    return report
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(reports.map(\.applied.count).reduce(0, +) == 6)
        #expect(reports.filter { !$0.applied.isEmpty }.count == 1)
    }

    @Test(
        "file names must be NNNN_name.sql and numbers unique",
        arguments: ["people.sql", "0001people.sql", "0001_people.txt", "_0001.sql"])
    func badNames(name: String) {
        #expect(throws: MigrationError.badFileName(name)) { try Migration(fileName: name, sql: "") }
    }

    @Test("two files with one number are refused")
    func duplicateNumbers() throws {
        let twins = try migrations([("0001_a.sql", ""), ("0001_b.sql", "")])
        #expect(throws: MigrationError.duplicateVersion(1, ["0001_a.sql", "0001_b.sql"])) {
            try Migrator(migrations: twins, logger: logger)
        }
    }
}
