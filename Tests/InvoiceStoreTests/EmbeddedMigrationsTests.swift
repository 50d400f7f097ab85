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

    @Test("the fingerprint is FNV-1a over names and texts in name order, as scripts/lib/env.sh computes it")
    func fingerprint() {
        // Values computed by the scripts' Python: the two sides must agree, or every build would rebuild.
        #expect(InvoiceSchema.fingerprint(of: []) == "cbf29ce484222325")
        #expect(InvoiceSchema.fingerprint(of: [("0001_a.sql", "SELECT 1;\n")]) == "57da2831e9a21efa")
        #expect(
            InvoiceSchema.fingerprint(of: [("0002_b.sql", "SELECT 'ё';\n"), ("0001_a.sql", "SELECT 1;\n")])
                == "d59104168251ee7a")
        #expect(
            InvoiceSchema.fingerprint(of: [("0001_a.sql", "SELECT 2;\n")])
                != InvoiceSchema.fingerprint(of: [("0001_a.sql", "SELECT 1;\n")]))
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
