import Foundation
import Logging
import Testing

@testable import InvoiceDaemon

@Suite("Configuration")
struct ConfigurationTests {
    @Test("no keys at all mean a private cluster under ./var and the documented defaults")
    func defaults() throws {
        let settings = try Configuration.load(environment: [:])
        guard case .privateCluster(let directory) = settings.database else {
            Issue.record("expected a private cluster, got \(settings.database)")
            return
        }
        #expect(directory == "var/postgres")
        #expect(settings.poolSize == 4)
        #expect(settings.routerConnections == 2)
        #expect(settings.logLevel == .info)
        #expect(settings.logFormat == .auto)
    }

    @Test("a database URL is parsed and used as it is, with daemon defaults added")
    func configuredDatabase() throws {
        let settings = try Configuration.load(environment: [
            "INVOICEFLOW_DATABASE_URL": "postgresql://app:s3cret@db.example:6432/invoices"
        ])
        guard case .configured(let database) = settings.database else {
            Issue.record("expected a configured database")
            return
        }
        #expect(database.value(for: "host") == "db.example")
        #expect(database.value(for: "port") == "6432")
        #expect(database.value(for: "keepalives") == "1")
        #expect(!database.redacted.contains("s3cret"))
    }

    @Test(
        "each bad value is refused with an error naming its key",
        arguments: [
            ("INVOICEFLOW_POOL_SIZE", "0"),
            ("INVOICEFLOW_POOL_SIZE", "many"),
            ("INVOICEFLOW_POOL_SIZE", "65"),
            ("INVOICEFLOW_ROUTER_CONNECTIONS", "0"),
            ("INVOICEFLOW_ROUTER_CONNECTIONS", "17"),
            ("INVOICEFLOW_ROUTER_CONNECTIONS", "two"),
            ("INVOICEFLOW_LOG_LEVEL", "loud"),
            ("INVOICEFLOW_LOG_FORMAT", "xml"),
            ("INVOICEFLOW_DATABASE_URL", "host=x nosuchkey=1"),
            ("INVOICEFLOW_DATABSE_URL", "postgresql://typo"),
        ])
    func badValues(key: String, value: String) {
        #expect {
            _ = try Configuration.load(environment: [key: value])
        } throws: { error in
            (error as? ConfigurationError)?.key == key && "\(error)".contains(key)
        }
    }

    @Test("INVOICEFLOW_ROUTER_CONNECTIONS sets how many connections route, 1 to 16", arguments: [1, 3, 16])
    func routerConnections(_ count: Int) throws {
        let settings = try Configuration.load(environment: ["INVOICEFLOW_ROUTER_CONNECTIONS": "\(count)"])
        #expect(settings.routerConnections == count)
    }

    @Test("test-harness variables are not configuration keys and are ignored")
    func testVariablesIgnored() throws {
        let settings = try Configuration.load(environment: ["INVOICEFLOW_TEST_DATABASE_URL": "host=/tmp"])
        guard case .privateCluster = settings.database else {
            Issue.record("a test variable must not configure the database")
            return
        }
    }

    @Test("a file supplies values, the environment overrides them, comments and quotes are understood")
    func fileAndEnvironment() throws {
        let file = try temporaryFile(
            """
            # InvoiceFlow
            INVOICEFLOW_POOL_SIZE=8

            INVOICEFLOW_LOG_LEVEL="debug"
            INVOICEFLOW_LOG_FORMAT='json'
            """)
        let fromFile = try Configuration.load(environment: [:], file: file)
        #expect(fromFile.poolSize == 8)
        #expect(fromFile.logLevel == .debug)
        #expect(fromFile.logFormat == .json)

        let overridden = try Configuration.load(environment: ["INVOICEFLOW_POOL_SIZE": "2"], file: file)
        #expect(overridden.poolSize == 2)

        let viaVariable = try Configuration.load(environment: ["INVOICEFLOW_CONFIG": file])
        #expect(viaVariable.poolSize == 8)
    }

    @Test("a file with an unknown key, a line without '=' or a bad value names the key and the line")
    func badFile() throws {
        let unknown = try temporaryFile("INVOICEFLOW_POOL_SIZE=2\nINVOICEFLOW_COLOUR=blue\n")
        #expect(throws: ConfigurationError.self) { try Configuration.load(environment: [:], file: unknown) }
        do {
            _ = try Configuration.load(environment: [:], file: unknown)
        } catch {
            #expect(error.key == "INVOICEFLOW_COLOUR")
            #expect(error.problem.contains(":2:"))
        }

        let malformed = try temporaryFile("INVOICEFLOW_POOL_SIZE 2\n")
        #expect { try Configuration.load(environment: [:], file: malformed) } throws: { error in
            (error as? ConfigurationError)?.key == "INVOICEFLOW_CONFIG"
        }

        let badValue = try temporaryFile("INVOICEFLOW_POOL_SIZE=-3\n")
        #expect { try Configuration.load(environment: [:], file: badValue) } throws: { error in
            (error as? ConfigurationError)?.key == "INVOICEFLOW_POOL_SIZE"
        }

        #expect { try Configuration.load(environment: [:], file: "/nonexistent/invoiceflow.env") } throws: { error in
            (error as? ConfigurationError)?.key == "INVOICEFLOW_CONFIG"
        }
    }

    @Test("the example configuration shipped in deploy/ is accepted")
    func exampleFileIsValid() throws {
        let example = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appending(path: "deploy/invoiceflow.env.example")
        let settings = try Configuration.load(environment: [:], file: example.path)
        guard case .configured = settings.database else {
            Issue.record("the example sets a database")
            return
        }
    }

    @Test("JSON log lines escape quotes, backslashes and control characters")
    func jsonEscaping() {
        #expect(JSONLinesLogHandler.quoted("a\"b\\c\nd\u{1}е") == #""a\"b\\c\nd\u0001е""#)
    }

    private func temporaryFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appending(path: "invoiceflow-config-\(UUID().uuidString).env").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
