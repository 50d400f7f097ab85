import InvoiceTestSupport
import Testing

@testable import PostgresClient

@Suite("Queries bind values and never splice them")
struct PostgresQueryTests {
    @Test("interpolated values become numbered parameters; the SQL text never contains them")
    func numbering() {
        let name = "'; DROP TABLE x; --"
        let amount = 1250
        let note: String? = nil
        let query: PostgresQuery = "INSERT INTO t (name, amount, note) VALUES (\(name), \(amount), \(note))"
        #expect(query.sql == "INSERT INTO t (name, amount, note) VALUES ($1, $2, $3)")
        #expect(
            query.bindings == [
                PostgresBinding(type: .text, text: name), PostgresBinding(type: .int8, text: "1250"),
                PostgresBinding(type: .text, text: nil),
            ])
        #expect(!query.sql.contains("DROP"))
        #expect("\(query)" == query.sql)
    }

    @Test("a hostile value round-trips as data and the table survives")
    func injection() async throws {
        try await withFreshDatabase { _, connection in
            try await connection.execute(script: "CREATE TABLE x (v text)")
            for hostile in [
                "'; DROP TABLE x; --", "\\'; DROP TABLE x; --", "$1", "$$; DROP TABLE x; $$", "\") OR 1=1 --",
            ] {
                try await connection.execute("INSERT INTO x (v) VALUES (\(hostile))")
                let rows = try await connection.query("SELECT v FROM x WHERE v = \(hostile)")
                #expect(try rows.map { try $0.decode("v", as: String.self) } == [hostile])
            }
            #expect(try await connection.query("SELECT count(*) AS n FROM x")[0].decode("n", as: Int.self) == 5)
        }
    }

    @Test("raw SQL goes in only through the explicitly named escape hatch; identifiers are quoted")
    func escapeHatchAndIdentifiers() async throws {
        let direction = "DESC"
        let ordered: PostgresQuery = "SELECT v FROM generate_series(1, 3) AS g (v) ORDER BY v \(unescaped: direction)"
        #expect(ordered.sql.hasSuffix("ORDER BY v DESC"))
        #expect(ordered.bindings.isEmpty)
        let weird = "Invoice \"2026\"; DROP"
        let table: PostgresQuery = "CREATE TABLE \(identifier: weird) (id int)"
        #expect(table.sql == #"CREATE TABLE "Invoice ""2026""; DROP" (id int)"#)
        // Without the label, the same string is a bound value, not SQL.
        let bound: PostgresQuery = "SELECT \(direction)"
        #expect(bound.sql == "SELECT $1")

        try await withFreshDatabase { _, connection in
            let values = try await connection.query(ordered).map { try $0.decode("v", as: Int.self) }
            #expect(values == [3, 2, 1])
            try await connection.execute(table)
            try await connection.execute("INSERT INTO \(identifier: weird) VALUES (\(7))")
            let row = try await connection.query("SELECT id FROM \(identifier: weird)")[0]
            #expect(try row.decode("id", as: Int.self) == 7)
        }
    }

    @Test("a NUL character is refused with 22021 instead of being silently truncated")
    func nulCharacter() async throws {
        let connection = try await serverConnection()
        let error = try await #require(throws: PostgresError.self) {
            try await connection.query("SELECT \("before\u{0}after") AS v")
        }
        #expect(error.code == .characterNotInRepertoire)
        #expect(error.message.contains("$1"))
        await connection.close()
    }
}
