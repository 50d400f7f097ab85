import Foundation
import PostgresClient
import Testing

@testable import InvoiceStore

/// The folder `sql/migrations` of this checkout.
private let migrationsFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appending(path: "sql").appending(path: "migrations")

@Suite("Embedded migrations")
struct EmbeddedMigrationsTests {
    @Test("every file of sql/migrations is embedded in the binary, byte for byte, in order")
    func everyFileIsEmbedded() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: migrationsFolder.path)
            .filter { $0.hasSuffix(".sql") }
            .sorted()
        let embedded = try InvoiceSchema.migrations()
        #expect(!files.isEmpty)
        #expect(embedded.map(\.fileName) == files)
        for migration in embedded {
            let onDisk = try String(contentsOf: migrationsFolder.appending(path: migration.fileName), encoding: .utf8)
            #expect(migration.sql == onDisk, "embedded text of \(migration.fileName) differs from the file")
        }
    }

    @Test("migration numbers are unique and every file is named NNNN_name.sql")
    func numbersAreUnique() throws {
        let embedded = try InvoiceSchema.migrations()
        #expect(Set(embedded.map(\.version)).count == embedded.count)
        for migration in embedded {
            #expect(migration.fileName.wholeMatch(of: /[0-9]{4}_[a-z0-9_]+\.sql/) != nil, "\(migration.fileName)")
        }
    }

    @Test("no migration manages its own transaction: the migrator runs each file in one")
    func noTransactionControl() throws {
        for migration in try InvoiceSchema.migrations() {
            let lines = migration.sql.split(separator: "\n").map {
                $0.trimmingCharacters(in: .whitespaces).uppercased()
            }
            #expect(!lines.contains { $0 == "BEGIN;" || $0 == "COMMIT;" }, "\(migration.fileName)")
            #expect(!migration.sql.uppercased().contains("INDEX CONCURRENTLY"), "\(migration.fileName)")
        }
    }
}
