import Foundation
import PostgresClient
import Testing

@testable import InvoiceDaemon

/// `<KEY>_FILE`: secrets read from files (systemd credentials, container secrets) instead of the environment.
@Suite("configuration: secrets from *_FILE keys")
struct ConfigurationSecretFileTests {
    static func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appending(path: "secret-\(UUID().uuidString)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("every secret key, and only those, has a *_FILE twin")
    func twinsOfSecrets() {
        let names = Set(Configuration.keys.map(\.name))
        for key in Configuration.keys where key.secret { #expect(names.contains(key.name + "_FILE")) }
        #expect(names.contains("INVOICEFLOW_DATABASE_URL_FILE"))
        #expect(names.contains("INVOICEFLOW_SMTP_URL_FILE"))
        #expect(!names.contains("INVOICEFLOW_POOL_SIZE_FILE"))
    }

    @Test(
        "the file's content is the value, one trailing newline dropped",
        arguments: ["host=/tmp dbname=x user=y\n", "host=/tmp dbname=x user=y"])
    func readsDatabaseURL(content: String) throws {
        let path = try Self.write(content)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let configuration = try Configuration.load(environment: ["INVOICEFLOW_DATABASE_URL_FILE": path])
        guard case .configured(let database) = configuration.database else {
            Issue.record("the URL from the file was not used")
            return
        }
        #expect(database.value(for: "dbname") == "x")
        #expect(database.value(for: "user") == "y")
    }

    @Test("a *_FILE key in the configuration file works as in the environment")
    func fromConfigurationFile() throws {
        let secret = try Self.write("smtps://u:p@relay.example.ru:465\n")
        let file = try Self.write(
            "INVOICEFLOW_SMTP_URL_FILE=\(secret)\nINVOICEFLOW_MAIL_FROM=InvoiceFlow <a@example.ru>\n")
        defer {
            try? FileManager.default.removeItem(atPath: secret)
            try? FileManager.default.removeItem(atPath: file)
        }
        #expect(throws: Never.self) { try Configuration.load(environment: [:], file: file) }
    }

    @Test("both the key and its *_FILE twin set: refused, naming the twin")
    func bothRefused() throws {
        let path = try Self.write("host=/tmp")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: ConfigurationError.self) {
            try Configuration.load(environment: [
                "INVOICEFLOW_DATABASE_URL_FILE": path, "INVOICEFLOW_DATABASE_URL": "host=/tmp",
            ])
        }
        do {
            _ = try Configuration.load(environment: [
                "INVOICEFLOW_DATABASE_URL_FILE": path, "INVOICEFLOW_DATABASE_URL": "host=/tmp",
            ])
        } catch {
            #expect(error.key == "INVOICEFLOW_DATABASE_URL_FILE")
        }
    }

    @Test("an unreadable file is refused, naming the key and the path")
    func missingFile() {
        let path = "/nonexistent/invoiceflow-secret"
        do {
            _ = try Configuration.load(environment: ["INVOICEFLOW_DATABASE_URL_FILE": path])
            Issue.record("a missing secret file was accepted")
        } catch {
            #expect(error.key == "INVOICEFLOW_DATABASE_URL_FILE")
            #expect(error.problem.contains(path))
        }
    }

    @Test(
        "a multi-host database URL gets target_session_attrs=read-write unless it says otherwise",
        arguments: [
            ("host=a,b port=5432 dbname=x", "read-write"),
            ("host=a,b port=5432 dbname=x target_session_attrs=primary", "primary"),
            ("postgresql://u@a:5432,b:5432/x", "read-write"),
            ("host=a port=5432 dbname=x", nil),
        ])
    func multiHostIsWritable(url: String, expected: String?) throws {
        let configuration = try Configuration.load(environment: ["INVOICEFLOW_DATABASE_URL": url])
        guard case .configured(let database) = configuration.database else {
            Issue.record("not configured")
            return
        }
        #expect(database.value(for: "target_session_attrs") == expected)
    }
}
