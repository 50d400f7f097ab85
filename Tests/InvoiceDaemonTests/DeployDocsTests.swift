import Foundation
import InvoiceStore
import InvoiceTestSupport
import PostgresClient
import Testing

/// The SQL an administrator copies from docs/operations.md into a monitoring system must run on the current
/// schema: a renamed column would otherwise break their alerts silently.
@Suite("docs/operations.md: the monitoring SQL")
struct DeployDocsTests {
    static let operations = DeployTests.repositoryRoot.appending(path: "docs/operations.md")

    /// The ```sql blocks of the section that starts with `heading`, up to the next `## ` heading.
    static func sqlBlocks(underHeading heading: String) throws -> [String] {
        let text = try String(contentsOf: operations, encoding: .utf8)
        guard let start = text.range(of: heading) else { return [] }
        let rest = text[start.upperBound...]
        let section = rest.range(of: "\n## ").map { rest[..<$0.lowerBound] } ?? rest
        return section.components(separatedBy: "```sql").dropFirst().compactMap { block in
            block.components(separatedBy: "```").first?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    @Test("the section's queries are found (so the test below checks something)")
    func blocksFound() throws {
        let blocks = try Self.sqlBlocks(underHeading: "### Alerts worth setting")
        #expect(!blocks.isEmpty)
        let all = blocks.joined(separator: "\n")
        for needle in ["parked_at", "mail_queue_status", "pg_notification_queue_usage", "work_item"] {
            #expect(all.contains(needle), "the alert queries no longer mention \(needle)")
        }
    }

    @Test("every alert query runs, as a superuser, on a freshly migrated database")
    func alertQueriesRun() async throws {
        let blocks = try Self.sqlBlocks(underHeading: "### Alerts worth setting")
        try #require(!blocks.isEmpty)
        try await TestPostgres.withDatabase { database in
            let connection = try await database.connect()
            do {
                let migrator = try Migrator(
                    migrations: try InvoiceSchema.migrations(), logger: TestPostgres.silentLogger)
                _ = try await migrator.migrate(on: connection)
                for block in blocks {
                    try await connection.execute(script: block)
                }
                await connection.close()
            } catch {
                await connection.close()
                throw error
            }
        }
    }
}
