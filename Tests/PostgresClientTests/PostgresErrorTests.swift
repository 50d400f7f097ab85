import InvoiceTestSupport
import Testing

@testable import PostgresClient

@Suite("Errors carry SQLSTATE and the server's diagnostics")
struct PostgresErrorTests {
    static let schema = """
        CREATE TABLE supplier (id int PRIMARY KEY, inn text NOT NULL CONSTRAINT supplier_inn_key UNIQUE);
        CREATE TABLE invoice (
            id int PRIMARY KEY,
            supplier_id int NOT NULL CONSTRAINT invoice_supplier_fkey REFERENCES supplier (id),
            amount bigint NOT NULL CONSTRAINT invoice_amount_positive CHECK (amount > 0));
        INSERT INTO supplier VALUES (1, '7707083893');
        CREATE FUNCTION refuse() RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'invoice % cannot be approved', 42 USING DETAIL = 'stage is draft', HINT = 'submit it first';
        END $$;
        """

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var sql: String
        var code: SQLState
        var constraint: String?
        var table: String?
        var column: String?
        var testDescription: String { name }
    }

    @Test(
        "each violation maps to its SQLSTATE with constraint, table and column",
        arguments: [
            Case(
                name: "unique violation", sql: "INSERT INTO supplier VALUES (2, '7707083893')", code: .uniqueViolation,
                constraint: "supplier_inn_key", table: "supplier"),
            Case(
                name: "check violation", sql: "INSERT INTO invoice VALUES (1, 1, -5)", code: .checkViolation,
                constraint: "invoice_amount_positive", table: "invoice"),
            Case(
                name: "foreign key violation", sql: "INSERT INTO invoice VALUES (1, 99, 5)", code: .foreignKeyViolation,
                constraint: "invoice_supplier_fkey", table: "invoice"),
            Case(
                name: "not-null violation", sql: "INSERT INTO invoice (id, amount) VALUES (1, 5)",
                code: .notNullViolation, table: "invoice", column: "supplier_id"),
            Case(name: "undefined table", sql: "SELECT * FROM nowhere", code: .undefinedTable),
            Case(name: "division by zero", sql: "SELECT 1 / 0", code: .divisionByZero),
            Case(name: "bad input syntax", sql: "SELECT 'abc'::int", code: .invalidTextRepresentation),
        ])
    func constraintViolations(_ testCase: Case) async throws {
        try await withFreshDatabase { _, connection in
            try await connection.execute(script: Self.schema)
            let error = try await #require(throws: PostgresError.self) {
                try await connection.execute(PostgresQuery(unsafeSQL: testCase.sql))
            }
            #expect(error.code == testCase.code)
            #expect(error.constraint == testCase.constraint)
            #expect(error.table == testCase.table)
            #expect(error.column == testCase.column)
            #expect(error.query == testCase.sql)
            #expect(error.severity == "ERROR")
            #expect(!error.message.isEmpty)
            // The connection stays usable after a statement error.
            #expect(try await connection.query("SELECT 1 AS one")[0].decode("one", as: Int.self) == 1)
        }
    }

    @Test("the unique violation's detail names the key but the description leaves values out")
    func detailNotInDescription() async throws {
        try await withFreshDatabase { _, connection in
            try await connection.execute(script: Self.schema)
            let error = try await #require(throws: PostgresError.self) {
                try await connection.execute("INSERT INTO supplier VALUES (2, \("7707083893"))")
            }
            #expect(error.detail?.contains("7707083893") == true)
            #expect(!"\(error)".contains("7707083893"))
            #expect("\(error)".contains("23505"))
            #expect("\(error)".contains("supplier_inn_key"))
        }
    }

    @Test(
        "a syntax error carries 42601 and the 1-based position of the offending token",
        arguments: [
            ("SELECT 1 FORM invoice", 15),
            ("SELECT * FROM t WHERE", 22),
            ("SELEKT 1", 1),
        ])
    func syntaxError(sql: String, position: Int) async throws {
        let connection = try await serverConnection()
        let error = try await #require(throws: PostgresError.self) {
            try await connection.query(PostgresQuery(unsafeSQL: sql))
        }
        #expect(error.code == .syntaxError)
        #expect(error.position == position)
        await connection.close()
    }

    @Test("RAISE EXCEPTION in PL/pgSQL gives P0001 with message, detail, hint and context")
    func raiseException() async throws {
        try await withFreshDatabase { _, connection in
            try await connection.execute(script: Self.schema)
            let error = try await #require(throws: PostgresError.self) {
                try await connection.query("SELECT refuse()")
            }
            #expect(error.code == .raiseException)
            #expect(error.message == "invoice 42 cannot be approved")
            #expect(error.detail == "stage is draft")
            #expect(error.hint == "submit it first")
            #expect(error.context?.contains("refuse") == true)
        }
    }

    @Test("a script stops at its first error and reports it")
    func scriptError() async throws {
        try await withFreshDatabase { _, connection in
            let error = try await #require(throws: PostgresError.self) {
                try await connection.execute(
                    script: "CREATE TABLE a (id int); INSERT INTO a VALUES ('x'); CREATE TABLE b (id int)")
            }
            #expect(error.code == .invalidTextRepresentation)
            let tables = try await connection.query(
                "SELECT count(*) AS n FROM pg_tables WHERE tablename IN ('a', 'b')")
            // A multi-statement simple query is one implicit transaction: nothing was created.
            #expect(try tables[0].decode("n", as: Int.self) == 0)
        }
    }

    @Test("a terminated backend shows up as connection loss, not as a statement error")
    func terminatedBackend() async throws {
        let victim = try await serverConnection()
        let pid = try #require(await victim.backendProcessID)
        let admin = try await serverConnection()
        try await admin.query("SELECT pg_terminate_backend(\(pid))")
        let error = try await #require(throws: PostgresError.self) {
            try await victim.query("SELECT 1")
        }
        #expect(error.code.isConnectionLoss)
        #expect(await !victim.isHealthy)
        await admin.close()
    }

    @Test(
        "SQLState classes and connection-loss classification",
        arguments: [
            (SQLState.connectionFailure, "08", true), (.adminShutdown, "57", true), (.cannotConnectNow, "57", true),
            (.uniqueViolation, "23", false), (.queryCanceled, "57", false), (.serializationFailure, "40", false),
        ])
    func classification(code: SQLState, errorClass: String, isLoss: Bool) {
        #expect(code.errorClass == errorClass)
        #expect(code.isConnectionLoss == isLoss)
    }
}
