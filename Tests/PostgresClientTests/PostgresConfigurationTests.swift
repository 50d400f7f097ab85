import Testing

@testable import PostgresClient

@Suite("Connection strings")
struct PostgresConfigurationTests {
    @Test(
        "URL and key/value forms are parsed into the same settings",
        arguments: [
            (
                "postgresql://alice:pw@db.example:6432/invoices?sslmode=require", "db.example", "6432", "invoices",
                "alice"
            ),
            (
                "host=db.example port=6432 dbname=invoices user=alice password=pw sslmode=require", "db.example",
                "6432",
                "invoices", "alice"
            ),
            ("postgres://alice@%2Ftmp%2Fpg:5433/invoices", "/tmp/pg", "5433", "invoices", "alice"),
        ])
    func parses(conninfo: String, host: String, port: String, dbname: String, user: String) throws {
        let configuration = try PostgresConfiguration(conninfo)
        #expect(configuration.value(for: "host") == host)
        #expect(configuration.value(for: "port") == port)
        #expect(configuration.value(for: "dbname") == dbname)
        #expect(configuration.value(for: "user") == user)
    }

    @Test(
        "a bad key or malformed string is rejected with libpq's reason naming it",
        arguments: [
            ("hots=db.example", "hots"),
            ("host=db port=5432 colour=blue", "colour"),
            ("postgresql://db.example/x?sslmod=require", "sslmod"),
            ("host='unterminated", nil),
            ("just-a-word", nil),
        ] as [(String, String?)])
    func rejects(conninfo: String, key: String?) throws {
        let error = try #require(throws: PostgresConfigurationError.self) { try PostgresConfiguration(conninfo) }
        #expect(error.key == key)
        #expect(!error.reason.isEmpty)
        #expect("\(error)".hasPrefix("invalid database connection string: "))
    }

    @Test("defaults are added only where the user gave no value; client_encoding is always UTF8")
    func defaults() throws {
        let plain = try PostgresConfiguration("host=db")
        #expect(plain.value(for: "connect_timeout") == "10")
        #expect(plain.value(for: "keepalives") == "1")
        #expect(plain.value(for: "keepalives_idle") == "30")
        #expect(plain.value(for: "keepalives_interval") == "10")
        #expect(plain.value(for: "keepalives_count") == "3")
        #expect(plain.value(for: "application_name") == "invoiceflow")
        #expect(plain.value(for: "client_encoding") == "UTF8")

        let custom = try PostgresConfiguration(
            "host=db connect_timeout=3 application_name=reports keepalives_idle=5 client_encoding=LATIN1")
        #expect(custom.value(for: "connect_timeout") == "3")
        #expect(custom.value(for: "application_name") == "reports")
        #expect(custom.value(for: "keepalives_idle") == "5")
        #expect(custom.value(for: "client_encoding") == "UTF8")
        #expect(custom.conninfo.contains("connect_timeout='3'"))
        #expect(!custom.conninfo.contains("connect_timeout='10'"))
    }

    @Test("multi-host failover syntax passes through unchanged")
    func multiHost() throws {
        let configuration = try PostgresConfiguration(
            "host=pg1.example,pg2.example port=5432,5433 target_session_attrs=read-write dbname=invoices")
        #expect(configuration.value(for: "host") == "pg1.example,pg2.example")
        #expect(configuration.value(for: "port") == "5432,5433")
        #expect(configuration.value(for: "target_session_attrs") == "read-write")
        let url = try PostgresConfiguration(
            "postgresql://pg1.example:5432,pg2.example:5433/invoices?target_session_attrs=read-write")
        #expect(url.value(for: "host") == "pg1.example,pg2.example")
        #expect(url.value(for: "port") == "5432,5433")
        // The final string must parse back to the same settings.
        #expect(try PostgresConfiguration(configuration.conninfo) == configuration)
    }

    @Test(
        "redaction hides passwords in both forms, and description is the redacted form",
        arguments: [
            "postgresql://alice:s3cr%27t@db/invoices",
            "host=db user=alice password='s3cr\\'t' dbname=invoices",
        ])
    func redaction(conninfo: String) throws {
        let configuration = try PostgresConfiguration(conninfo)
        #expect(configuration.value(for: "password") == "s3cr't")
        #expect(configuration.conninfo.contains("password='s3cr\\'t'"))
        #expect(!configuration.redacted.contains("s3cr"))
        #expect(configuration.redacted.contains("password=********"))
        #expect(!"\(configuration)".contains("s3cr"))
        #expect(configuration.redacted.contains("user='alice'"))
        #expect(!configuration.setting("password", "other").redacted.contains("other"))
    }

    @Test("setting replaces one key and keeps the rest; quoting survives spaces, quotes and backslashes")
    func setting() throws {
        let base = try PostgresConfiguration("host=db dbname=a application_name=x")
        let changed = base.setting("dbname", "it's a \\ name").setting("application_name", "invoiceflow-listener")
        #expect(changed.value(for: "dbname") == "it's a \\ name")
        #expect(changed.value(for: "host") == "db")
        #expect(changed.value(for: "application_name") == "invoiceflow-listener")
        #expect(try PostgresConfiguration(changed.conninfo) == changed)
        #expect(base.value(for: "dbname") == "a")
    }
}
