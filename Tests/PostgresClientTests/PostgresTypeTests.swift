import Foundation
import InvoiceTestSupport
import Testing

@testable import PostgresClient

/// Binds `value`, has the server cast it to `sqlType` and compare it with `literal` (the server's own
/// reading of the expected value), then decodes it back. Proves the encoding and the decoding separately,
/// so a symmetric bug in both cannot pass.
func roundTrip<T: PostgresEncodable & PostgresDecodable & Equatable>(
    _ connection: PostgresConnection, _ value: T, as sqlType: String, literal: String?,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let query: PostgresQuery = """
        SELECT \(value)::\(unescaped: sqlType) AS v,
               \(value)::\(unescaped: sqlType) IS NOT DISTINCT FROM (\(literal))::\(unescaped: sqlType) AS same
        """
    let row = try await connection.query(query)[0]
    #expect(try row.decode("same", as: Bool.self), "server sees a different value", sourceLocation: sourceLocation)
    #expect(try row.decode("v", as: T.self) == value, sourceLocation: sourceLocation)
}

@Suite("Parameter binding and decoding of every supported type")
struct PostgresTypeTests {
    @Test("text: unicode, Cyrillic, emoji, quotes, empty, NULL, and 5 MB")
    func text() async throws {
        let connection = try await serverConnection()
        for value in [
            "", "plain", "Счёт-фактура № 17 «ООО Ромашка»", "👩🏽‍💻🧾💸", "it's \"quoted\" \\ back\\slash",
            "tab\tnew\nline", "'; DROP TABLE x; --",
        ] {
            try await roundTrip(connection, value, as: "text", literal: value)
        }
        try await roundTrip(connection, String?.none, as: "text", literal: nil)
        let large = String(repeating: "Ж0123456789абвгд🧾", count: 210_000)
        let row = try await connection.query("SELECT \(large) AS v, octet_length(\(large)) AS n, md5(\(large)) AS h")[0]
        #expect(try row.decode("v", as: String.self) == large)
        #expect(try row.decode("n", as: Int.self) == large.utf8.count)
        #expect(large.utf8.count > 5_000_000)
        await connection.close()
    }

    @Test(
        "integers at their limits",
        arguments: [Int64.min, -1, 0, 1, Int64.max])
    func bigint(value: Int64) async throws {
        let connection = try await serverConnection()
        try await roundTrip(connection, value, as: "bigint", literal: String(value))
        try await roundTrip(connection, Int(value), as: "bigint", literal: String(value))
        await connection.close()
    }

    @Test("int, smallint, bool, double including NaN and infinities")
    func smallerScalars() async throws {
        let connection = try await serverConnection()
        for value in [Int32.min, 0, Int32.max] {
            try await roundTrip(connection, value, as: "integer", literal: "\(value)")
        }
        for value in [Int16.min, 7, Int16.max] {
            try await roundTrip(connection, value, as: "smallint", literal: "\(value)")
        }
        try await roundTrip(connection, true, as: "boolean", literal: "true")
        try await roundTrip(connection, false, as: "boolean", literal: "false")
        try await roundTrip(connection, Bool?.none, as: "boolean", literal: nil)
        for value in [0.1, -1.5e-300, 1.7976931348623157e308, 123456.789, .infinity, -.infinity] {
            try await roundTrip(connection, value, as: "double precision", literal: value.postgresText)
        }
        let nan = try await connection.query("SELECT \(Double.nan) AS v, \(Double.nan) = 'NaN'::float8 AS same")[0]
        #expect(try nan.decode("v", as: Double.self).isNaN)
        #expect(try nan.decode("same", as: Bool.self))
        // An int4 column does not fit Int16: an error, not a wrap-around.
        let wide = try await connection.query("SELECT 70000::int4 AS v")[0]
        #expect(throws: PostgresDecodingError.self) { try wide.decode("v", as: Int16.self) }
        await connection.close()
    }

    @Test("numeric: 30 digits exactly, Decimal, negative, NaN, and NULL")
    func numeric() async throws {
        let connection = try await serverConnection()
        for text in [
            "123456789012345678901234567890", "-98765432109876543210.1234567890", "0.000000000000000000000000000001",
            "1.50", "NaN",
        ] {
            try await roundTrip(connection, PostgresNumeric(text)!, as: "numeric", literal: text)
        }
        for value in [Decimal(string: "12345678901234567890.123456789")!, Decimal(-42), Decimal(string: "0.01")!] {
            try await roundTrip(connection, value, as: "numeric", literal: value.description)
        }
        try await roundTrip(connection, Decimal?.none, as: "numeric", literal: nil)
        #expect(PostgresNumeric("1e5") != nil)
        #expect(PostgresNumeric("1,5") == nil)
        #expect(PostgresNumeric("1.2.3") == nil)
        #expect(PostgresNumeric("") == nil)
        // More digits than Decimal holds must fail rather than round.
        let long = try await connection.query("SELECT 1234567890123456789012345678901234567890.5::numeric AS v")[0]
        #expect(throws: PostgresDecodingError.self) { try long.decode("v", as: Decimal.self) }
        await connection.close()
    }

    @Test("timestamptz keeps microseconds; date and timestamp decode; infinity maps to distant dates")
    func timestamps() async throws {
        let connection = try await serverConnection()
        let instants: [(Date, String)] = [
            (Date(timeIntervalSince1970: 1_796_615_534.123456), "2026-12-07 03:52:14.123456+00"),
            (Date(timeIntervalSince1970: 0), "1970-01-01 00:00:00+00"),
            (Date(timeIntervalSince1970: -1.000001), "1969-12-31 23:59:58.999999+00"),
            (Date(timeIntervalSince1970: 951_782_400.5), "2000-02-29 00:00:00.5+00"),
        ]
        for (date, text) in instants {
            try await roundTrip(connection, date, as: "timestamptz", literal: text)
        }
        let row = try await connection.query(
            "SELECT '2026-11-29 12:00:00.000001+05:30'::timestamptz AS tz, '2026-11-29 08:00:00.25'::timestamp AS ts, '2026-11-29'::date AS d, 'infinity'::timestamptz AS inf, '-infinity'::timestamptz AS ninf, extract(microseconds FROM \(instants[0].0)) AS us"
        )[0]
        #expect(abs(try row.decode("tz", as: Date.self).timeIntervalSince1970 - 1_795_933_800.000001) < 0.000_000_5)
        #expect(try row.decode("ts", as: Date.self) == Date(timeIntervalSince1970: 1_795_939_200.25))
        #expect(try row.decode("d", as: Date.self) == Date(timeIntervalSince1970: 1_795_910_400))
        #expect(try row.decode("inf", as: Date.self) == .distantFuture)
        #expect(try row.decode("ninf", as: Date.self) == .distantPast)
        #expect(try row.decode("us", as: PostgresNumeric.self).description == "14123456")
        await connection.close()
    }

    @Test("calendar dates, including leap days and years before 1 (BC)")
    func dates() async throws {
        let connection = try await serverConnection()
        for (year, month, day, text) in [
            (2026, 11, 29, "2026-11-29"), (2024, 2, 29, "2024-02-29"), (1, 1, 1, "0001-01-01"),
            (0, 12, 31, "0001-12-31 BC"), (9999, 12, 31, "9999-12-31"),
        ] {
            try await roundTrip(
                connection, PostgresDate(year: year, month: month, day: day)!, as: "date", literal: text)
        }
        #expect(PostgresDate(year: 2026, month: 2, day: 29) == nil)
        #expect(PostgresDate("2026-11-29")?.adding(days: 3) == PostgresDate(year: 2026, month: 12, day: 2))
        #expect(
            PostgresDate(Date(timeIntervalSince1970: 1_795_910_399)) == PostgresDate(year: 2026, month: 11, day: 28))
        await connection.close()
    }

    @Test("uuid, jsonb, bytea (including all 256 byte values and 5 MB)")
    func otherScalars() async throws {
        let connection = try await serverConnection()
        let id = UUID()
        try await roundTrip(connection, id, as: "uuid", literal: id.uuidString)
        let json = PostgresJSON(rawJSON: #"{"amount": 12.5, "name": "Счёт 🧾", "tags": ["a", "b"]}"#)
        let jsonRow = try await connection.query("SELECT \(json) AS v, \(json)->>'name' AS name")[0]
        #expect(try jsonRow.decode("name", as: String.self) == "Счёт 🧾")
        struct Payload: Codable, Equatable { var amount: Double; var name: String; var tags: [String] }
        #expect(
            try jsonRow.decode("v", as: PostgresJSON.self).decode(Payload.self)
                == Payload(amount: 12.5, name: "Счёт 🧾", tags: ["a", "b"]))
        let encoded = try PostgresJSON(encoding: Payload(amount: 1, name: "x", tags: []))
        #expect(try await connection.query("SELECT (\(encoded))->>'name' AS n")[0].decode("n", as: String.self) == "x")

        let allBytes = Data((0...255).map { UInt8($0) })
        try await roundTrip(connection, allBytes, as: "bytea", literal: PostgresBytea.hexText(allBytes))
        try await roundTrip(connection, Data(), as: "bytea", literal: "\\x")
        let large = Data((0..<(5 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) })
        let row = try await connection.query("SELECT \(large) AS v, length(\(large)) AS n, md5(\(large)) AS h")[0]
        #expect(try row.decode("v", as: Data.self) == large)
        #expect(try row.decode("n", as: Int.self) == large.count)
        let bytes: [UInt8] = [0, 1, 0xfe, 0xff]
        #expect(
            try await connection.query("SELECT \(bytes) AS v")[0].decode("v", as: PostgresBytea.self).bytes == bytes)
        // The escape output format decodes too.
        try await connection.execute(script: "SET bytea_output = 'escape'")
        #expect(try await connection.query("SELECT \(allBytes) AS v")[0].decode("v", as: Data.self) == allBytes)
        await connection.close()
    }

    @Test("arrays with NULLs, quotes, commas, braces, backslashes, and the word NULL")
    func arrays() async throws {
        let connection = try await serverConnection()
        let tricky: [String?] = [
            "a,b", "\"quoted\"", "back\\slash", "{braces}", "NULL", nil, "", " spaced ", "Ж🧾", "'; DROP TABLE x; --",
        ]
        let row = try await connection.query(
            "SELECT \(tricky) AS v, cardinality(\(tricky)) AS n, (\(tricky))[6] IS NULL AS sixth_null, (\(tricky))[5] AS fifth"
        )[0]
        #expect(try row.decode("v", as: [String?].self) == tricky)
        #expect(try row.decode("n", as: Int.self) == tricky.count)
        #expect(try row.decode("sixth_null", as: Bool.self))
        #expect(try row.decode("fifth", as: String.self) == "NULL")
        try await roundTrip(
            connection, [Int64.min, 0, Int64.max], as: "bigint[]", literal: "{\(Int64.min),0,\(Int64.max)}")
        try await roundTrip(connection, [Int?](arrayLiteral: 1, nil, 3), as: "bigint[]", literal: "{1,NULL,3}")
        try await roundTrip(connection, [Int](), as: "bigint[]", literal: "{}")
        try await roundTrip(connection, [true, false], as: "boolean[]", literal: "{t,f}")
        let ids = [UUID(), UUID()]
        try await roundTrip(connection, ids, as: "uuid[]", literal: "{\(ids[0].uuidString),\(ids[1].uuidString)}")
        try await roundTrip(connection, [Decimal(string: "1.5")!, Decimal(-2)], as: "numeric[]", literal: "{1.5,-2}")
        try await roundTrip(
            connection, [Date(timeIntervalSince1970: 0.000001), Date(timeIntervalSince1970: 1e9)], as: "timestamptz[]",
            literal: "{\"1970-01-01 00:00:00.000001+00\",\"2001-09-09 01:46:40+00\"}")
        try await roundTrip(
            connection, [PostgresDate(year: 2026, month: 1, day: 31)!], as: "date[]", literal: "{2026-01-31}")
        try await roundTrip(connection, [Data([0, 255]), Data()], as: "bytea[]", literal: #"{"\\x00ff","\\x"}"#)
        try await roundTrip(
            connection, [PostgresJSON(rawJSON: #"{"a": [1, "x,y"]}"#)], as: "jsonb[]",
            literal: #"{"{\"a\": [1, \"x,y\"]}"}"#)
        try await roundTrip(connection, [Double.infinity, 0.5], as: "float8[]", literal: "{Infinity,0.5}")
        // Non-default lower bounds are accepted; NULL elements need an optional element type.
        #expect(
            try await connection.query("SELECT '[0:1]={7,8}'::int[] AS v")[0].decode("v", as: [Int32].self) == [7, 8])
        let withNull = try await connection.query("SELECT ARRAY[1, NULL]::int8[] AS v")[0]
        #expect(throws: PostgresDecodingError.self) { try withNull.decode("v", as: [Int].self) }
        await connection.close()
    }

    @Test("several leading columns decode at once, in order")
    func tupleDecoding() async throws {
        let connection = try await serverConnection()
        let id = UUID()
        let row = try await connection.query(
            "SELECT \(id) AS id, 1250::bigint AS amount, NULL::timestamptz AS paid_at")[0]
        let (decodedID, amount, paidAt) = try row.decode(UUID.self, Int.self, Date?.self)
        #expect(decodedID == id)
        #expect(amount == 1250)
        #expect(paidAt == nil)
        let error = try #require(throws: PostgresDecodingError.self) { try row.decode(UUID.self, Int.self, Date.self) }
        #expect(error.column == "paid_at")
        await connection.close()
    }

    @Test("decoding errors name the column and say why, without the value")
    func decodingErrors() async throws {
        let connection = try await serverConnection()
        let row = try await connection.query("SELECT NULL::int AS missing_amount, 'secret-text' AS label")[0]
        let null = try #require(throws: PostgresDecodingError.self) { try row.decode("missing_amount", as: Int.self) }
        #expect(null.column == "missing_amount")
        #expect("\(null)".contains("NULL"))
        #expect(try row.decode("missing_amount", as: Int?.self) == nil)
        let bad = try #require(throws: PostgresDecodingError.self) { try row.decode("label", as: Int.self) }
        #expect(bad.column == "label")
        #expect(!"\(bad)".contains("secret-text"))
        let absent = try #require(throws: PostgresDecodingError.self) { try row.decode("nope", as: Int.self) }
        #expect("\(absent)".contains("\"label\""))
        #expect(throws: PostgresDecodingError.self) { try row.decode(5, as: String.self) }
        #expect(try row.decode(1, as: String.self) == "secret-text")
        await connection.close()
    }
}
