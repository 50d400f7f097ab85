import Foundation
import InvoiceStore
import InvoiceTestSupport
import Logging
import PostgresClient
import Testing

@Suite("invoiceflow audit verify and anchor")
struct AuditCommandTests {
    /// A migrated database whose audit log holds `rows` administrative entries.
    private func auditedDatabase(rows: Int) async throws -> TestDatabase {
        let database = try await TestPostgres.createDatabase()
        let connection = try await database.connect()
        let migrator = try Migrator(migrations: try InvoiceSchema.migrations(), logger: TestPostgres.silentLogger)
        _ = try await migrator.migrate(on: connection)
        for number in 1...rows {
            try await connection.execute(
                """
                SELECT invoiceflow_private.audit(NULL, 'test', \(number), 'note', NULL,
                    pg_catalog.jsonb_build_object('n', \(number)), \("запись \(number)"))
                """)
        }
        await connection.close()
        return database
    }

    private func run(_ arguments: [String], on database: TestDatabase) async throws -> (Int32, String) {
        let process = try DaemonProcess(
            arguments: arguments, dataDirectory: "/nonexistent",
            extraEnvironment: ["INVOICEFLOW_DATABASE_URL": database.configuration.conninfo])
        let status = try await process.waitForExit(timeout: .seconds(60))
        return (status, process.output)
    }

    @Test("an intact chain verifies, with and without the anchor taken from it")
    func intactChain() async throws {
        let database = try await auditedDatabase(rows: 5)
        let anchorFile = FileManager.default.temporaryDirectory.appending(path: "anchor-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: anchorFile) }

        let (anchorStatus, anchorOutput) = try await run(["audit", "anchor", anchorFile], on: database)
        #expect(anchorStatus == 0, "\(anchorOutput)")
        let anchor =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: anchorFile)))
            as? [String: Any]
        #expect(anchor?["id"] as? Int == 5)
        #expect((anchor?["hash"] as? String)?.count == 64)

        let (status, output) = try await run(["audit", "verify"], on: database)
        #expect(status == 0)
        #expect(output.contains("audit chain intact: 5 rows checked"))
        let (anchoredStatus, _) = try await run(["audit", "verify", "--anchor", anchorFile], on: database)
        #expect(anchoredStatus == 0)
    }

    @Test("a row edited with the triggers disabled is found and named, and the command fails")
    func editedRow() async throws {
        let database = try await auditedDatabase(rows: 5)
        let connection = try await database.connect()
        try await connection.execute(
            script: """
                ALTER TABLE invoiceflow.audit_log DISABLE TRIGGER ALL;
                UPDATE invoiceflow.audit_log SET comment = 'подделка' WHERE id = 3;
                ALTER TABLE invoiceflow.audit_log ENABLE TRIGGER ALL;
                """)
        await connection.close()

        let (status, output) = try await run(["audit", "verify"], on: database)
        #expect(status != 0)
        #expect(output.contains("BROKEN at row 3"))
    }

    @Test("a chain cut back and made consistent again passes alone but not against the anchor")
    func truncatedChainAgainstAnchor() async throws {
        let database = try await auditedDatabase(rows: 4)
        let anchorFile = FileManager.default.temporaryDirectory.appending(path: "anchor-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: anchorFile) }
        #expect(try await run(["audit", "anchor", anchorFile], on: database).0 == 0)

        let connection = try await database.connect()
        try await connection.execute(
            script: """
                ALTER TABLE invoiceflow.audit_log DISABLE TRIGGER ALL;
                ALTER TABLE invoiceflow_private.audit_chain_head DISABLE TRIGGER ALL;
                DELETE FROM invoiceflow.audit_log WHERE id = 4;
                UPDATE invoiceflow_private.audit_chain_head
                   SET last_id = 3, last_hash = (SELECT hash FROM invoiceflow.audit_log WHERE id = 3);
                ALTER TABLE invoiceflow_private.audit_chain_head ENABLE TRIGGER ALL;
                ALTER TABLE invoiceflow.audit_log ENABLE TRIGGER ALL;
                """)
        await connection.close()

        #expect(try await run(["audit", "verify"], on: database).0 == 0)
        let (status, output) = try await run(["audit", "verify", "--anchor", anchorFile], on: database)
        #expect(status != 0)
        #expect(output.contains("BROKEN"))
    }
}
