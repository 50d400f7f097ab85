import Foundation
import Testing

@testable import PostgresClient

/// The text-format parsers on their own, without a server: tables of inputs PostgreSQL can produce and
/// inputs it never produces.
@Suite("Text format parsers")
struct PostgresTextFormatTests {
    @Test(
        "array literals",
        arguments: [
            ("{}", [] as [String?]),
            ("{a,b}", ["a", "b"]),
            (#"{"a,b","c\"d","e\\f"}"#, ["a,b", "c\"d", "e\\f"]),
            ("{NULL,\"NULL\",null}", [nil, "NULL", "null"]),
            (#"{"",x}"#, ["", "x"]),
            ("[0:1]={7,8}", ["7", "8"]),
            (#"{a\,b}"#, ["a,b"]),
        ])
    func arrays(text: String, elements: [String?]) throws {
        #expect(try PostgresArrayText.parse(text) == elements)
    }

    @Test(
        "malformed array literals are rejected", arguments: ["", "{", "a,b", "{\"open}", "{{1,2},{3,4}}", "{a\"b\"c}x"])
    func badArrays(text: String) {
        #expect(throws: PostgresDecodingError.self) { try PostgresArrayText.parse(text) }
    }

    @Test(
        "timestamps in every shape PostgreSQL prints",
        arguments: [
            ("1970-01-01 00:00:00+00", 0.0),
            ("1970-01-01 00:00:00.5+00", 0.5),
            ("1970-01-01 03:00:00+03", 0.0),
            ("1970-01-01 00:00:00-05:30", 19_800.0),
            ("1970-01-01 00:00:00+00:00:30", -30.0),
            ("1969-12-31 23:59:59.999999+00", -0.000001),
            ("2000-02-29 12:00:00", 951_825_600.0),
            ("2026-11-29", 1_795_910_400.0),
            ("0001-01-01 00:00:00+00 BC", -62_167_219_200.0),
        ])
    func timestamps(text: String, seconds: Double) throws {
        let date = try Date(postgresText: text, type: .timestamptz)
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_000_5)
    }

    @Test(
        "malformed timestamps are rejected",
        arguments: [
            "", "2026-13-01", "2026-02-30 00:00:00", "26-11-29", "2026-11-29T10:00:00", "2026-11-29 10:00", "now",
        ])
    func badTimestamps(text: String) {
        #expect(throws: PostgresDecodingError.self) { try Date(postgresText: text, type: .timestamptz) }
    }

    @Test(
        "timestamp encoding is UTC with microseconds",
        arguments: [
            (0.0, "1970-01-01 00:00:00.000000+00"),
            (-0.000001, "1969-12-31 23:59:59.999999+00"),
            (1_795_933_800.123456, "2026-11-29 06:30:00.123456+00"),
            (-62_135_596_800.0, "0001-01-01 00:00:00.000000+00"),
            (-62_135_596_801.0, "0001-12-31 23:59:59.000000+00 BC"),
        ])
    func timestampEncoding(seconds: Double, text: String) {
        #expect(Date(timeIntervalSince1970: seconds).postgresText == text)
    }

    @Test(
        "bytea in hex and escape output",
        arguments: [
            (#"\x"#, [] as [UInt8]),
            (#"\x00ff7F"#, [0, 255, 127]),
            (#"abc"#, [97, 98, 99]),
            (#"a\\b\000\377"#, [97, 92, 98, 0, 255]),
        ])
    func bytea(text: String, bytes: [UInt8]) throws {
        #expect(try PostgresBytea.decode(text) == bytes)
    }

    @Test("malformed bytea is rejected", arguments: [#"\x0"#, #"\xzz"#, #"a\9"#, #"\"#])
    func badBytea(text: String) {
        #expect(throws: PostgresDecodingError.self) { try PostgresBytea.decode(text) }
    }

    @Test(
        "numeric notation",
        arguments: [
            ("0", true), ("-1.50", true), ("+.5", true), ("5.", true), ("1e10", true), ("1.2E-3", true), ("NaN", true),
            ("Infinity", true), ("-Infinity", true), ("", false), ("-", false), (".", false), ("1e", false),
            ("1,5", false), ("0x10", false), ("1 000", false), ("nan", false),
        ])
    func numericNotation(text: String, valid: Bool) {
        #expect((PostgresNumeric(text) != nil) == valid)
    }

    @Test(
        "booleans and integers decode strictly",
        arguments: [("t", true), ("f", false), ("true", true), ("false", false)])
    func booleans(text: String, value: Bool) throws {
        #expect(try Bool(postgresText: text, type: .bool) == value)
    }

    @Test("bad booleans and out-of-range integers are errors")
    func strictness() {
        #expect(throws: PostgresDecodingError.self) { try Bool(postgresText: "yes", type: .bool) }
        #expect(throws: PostgresDecodingError.self) { try Int32(postgresText: "2147483648", type: .int8) }
        #expect(throws: PostgresDecodingError.self) { try Int(postgresText: "1.0", type: .numeric) }
        #expect(throws: PostgresDecodingError.self) { try UUID(postgresText: "not-a-uuid", type: .uuid) }
    }

    @Test(
        "calendar arithmetic agrees with known day numbers",
        arguments: [
            (1970, 1, 1, 0), (1969, 12, 31, -1), (2000, 3, 1, 11_017), (2026, 11, 29, 20_786), (1, 1, 1, -719_162),
            (0, 12, 31, -719_163),
        ])
    func days(year: Int, month: Int, day: Int, number: Int) throws {
        let date = try #require(PostgresDate(year: year, month: month, day: day))
        #expect(date.daysSince1970 == number)
        #expect(PostgresDate(daysSince1970: number) == date)
    }

    @Test("calendar dates encode through JSON as YYYY-MM-DD")
    func dateCodable() throws {
        let date = try #require(PostgresDate(year: 2026, month: 3, day: 9))
        let json = String(decoding: try JSONEncoder().encode([date]), as: UTF8.self)
        #expect(json == #"["2026-03-09"]"#)
        #expect(try JSONDecoder().decode([PostgresDate].self, from: Data(json.utf8)) == [date])
    }
}
