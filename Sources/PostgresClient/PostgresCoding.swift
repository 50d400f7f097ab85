import Foundation

/// A PostgreSQL type OID. Bindings carry one so the server knows what a parameter is; rows report one
/// per column.
public struct PostgresDataType: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    /// The OID.
    public var rawValue: UInt32
    /// Wraps an OID.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// The OID as a number.
    public var description: String { String(rawValue) }

    /// 0: let the server infer the parameter type from the context.
    public static let unknown = PostgresDataType(rawValue: 0)
    /// bool
    public static let bool = PostgresDataType(rawValue: 16)
    /// bytea
    public static let bytea = PostgresDataType(rawValue: 17)
    /// "char"
    public static let char = PostgresDataType(rawValue: 18)
    /// name
    public static let name = PostgresDataType(rawValue: 19)
    /// int8 (bigint)
    public static let int8 = PostgresDataType(rawValue: 20)
    /// int2 (smallint)
    public static let int2 = PostgresDataType(rawValue: 21)
    /// int4 (integer)
    public static let int4 = PostgresDataType(rawValue: 23)
    /// text
    public static let text = PostgresDataType(rawValue: 25)
    /// oid
    public static let oid = PostgresDataType(rawValue: 26)
    /// json
    public static let json = PostgresDataType(rawValue: 114)
    /// float4 (real)
    public static let float4 = PostgresDataType(rawValue: 700)
    /// float8 (double precision)
    public static let float8 = PostgresDataType(rawValue: 701)
    /// bpchar (character(n))
    public static let bpchar = PostgresDataType(rawValue: 1042)
    /// varchar
    public static let varchar = PostgresDataType(rawValue: 1043)
    /// date
    public static let date = PostgresDataType(rawValue: 1082)
    /// timestamp (without time zone)
    public static let timestamp = PostgresDataType(rawValue: 1114)
    /// timestamptz
    public static let timestamptz = PostgresDataType(rawValue: 1184)
    /// interval
    public static let interval = PostgresDataType(rawValue: 1186)
    /// numeric
    public static let numeric = PostgresDataType(rawValue: 1700)
    /// uuid
    public static let uuid = PostgresDataType(rawValue: 2950)
    /// jsonb
    public static let jsonb = PostgresDataType(rawValue: 3802)
    /// bool[]
    public static let boolArray = PostgresDataType(rawValue: 1000)
    /// bytea[]
    public static let byteaArray = PostgresDataType(rawValue: 1001)
    /// int2[]
    public static let int2Array = PostgresDataType(rawValue: 1005)
    /// int4[]
    public static let int4Array = PostgresDataType(rawValue: 1007)
    /// text[]
    public static let textArray = PostgresDataType(rawValue: 1009)
    /// varchar[]
    public static let varcharArray = PostgresDataType(rawValue: 1015)
    /// int8[]
    public static let int8Array = PostgresDataType(rawValue: 1016)
    /// float4[]
    public static let float4Array = PostgresDataType(rawValue: 1021)
    /// float8[]
    public static let float8Array = PostgresDataType(rawValue: 1022)
    /// timestamp[]
    public static let timestampArray = PostgresDataType(rawValue: 1115)
    /// date[]
    public static let dateArray = PostgresDataType(rawValue: 1182)
    /// timestamptz[]
    public static let timestamptzArray = PostgresDataType(rawValue: 1185)
    /// numeric[]
    public static let numericArray = PostgresDataType(rawValue: 1231)
    /// uuid[]
    public static let uuidArray = PostgresDataType(rawValue: 2951)
    /// jsonb[]
    public static let jsonbArray = PostgresDataType(rawValue: 3807)
    /// json[]
    public static let jsonArray = PostgresDataType(rawValue: 199)

    /// The element type of a known array type, `.unknown` otherwise.
    var arrayElementType: PostgresDataType {
        Self.elementTypes[self] ?? .unknown
    }

    private static let elementTypes: [PostgresDataType: PostgresDataType] = [
        .boolArray: .bool, .byteaArray: .bytea, .int2Array: .int2, .int4Array: .int4, .textArray: .text,
        .varcharArray: .varchar, .int8Array: .int8, .float4Array: .float4, .float8Array: .float8,
        .timestampArray: .timestamp, .dateArray: .date, .timestamptzArray: .timestamptz,
        .numericArray: .numeric, .uuidArray: .uuid, .jsonbArray: .jsonb, .jsonArray: .json,
    ]
}

/// A Swift value that can be bound as a query parameter, in PostgreSQL's text format.
public protocol PostgresEncodable: Sendable {
    /// The type the parameter is sent as; ``PostgresDataType/unknown`` lets the server infer it.
    static var postgresType: PostgresDataType { get }
    /// The value in PostgreSQL's text input format, or nil for SQL NULL.
    var postgresText: String? { get }
}

/// A Swift value that can be decoded from a column in PostgreSQL's text format.
public protocol PostgresDecodable: Sendable {
    /// Decodes a non-NULL value from its text form; `type` is the column's type OID.
    /// - Throws: ``PostgresDecodingError`` (its column is filled in by ``PostgresRow``).
    init(postgresText text: String, type: PostgresDataType) throws
    /// The value SQL NULL decodes to, or nil if this type cannot represent NULL (the default).
    static var postgresNull: Self? { get }
}

extension PostgresDecodable {
    /// Non-optional types cannot hold NULL.
    public static var postgresNull: Self? { nil }
}

/// A type that can also be the element of a PostgreSQL array (`[Element]` then binds and decodes as
/// `element[]`).
public protocol PostgresArrayElement: PostgresEncodable, PostgresDecodable {
    /// The OID of the array type whose elements are this type (e.g. `_int8` for `Int`).
    static var postgresArrayType: PostgresDataType { get }
}

/// A column value that could not be decoded into the requested Swift type. Says which column and why;
/// never includes the value itself (it may be invoice data).
public struct PostgresDecodingError: Error, Sendable, CustomStringConvertible {
    /// The column name (or `#index`), filled in by ``PostgresRow``.
    public var column: String?
    /// The Swift type that was requested.
    public var targetType: String?
    /// The column's PostgreSQL type OID.
    public var columnType: PostgresDataType?
    /// What was wrong.
    public var reason: String

    /// An error with a reason; ``PostgresRow`` adds the column.
    public init(reason: String) { self.reason = reason }

    /// "cannot decode column "amount" (type 1700) as Int: not an integer".
    public var description: String {
        var text = "cannot decode column"
        if let column { text += " \"\(column)\"" }
        if let columnType { text += " (type \(columnType))" }
        if let targetType { text += " as \(targetType)" }
        return text + ": \(reason)"
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    /// The wrapped type's OID, so a NULL is still typed.
    public static var postgresType: PostgresDataType { Wrapped.postgresType }
    /// nil binds SQL NULL.
    public var postgresText: String? { self.flatMap(\.postgresText) }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    /// Decodes the wrapped value.
    public init(postgresText text: String, type: PostgresDataType) throws {
        self = .some(try Wrapped(postgresText: text, type: type))
    }
    /// NULL decodes as nil.
    public static var postgresNull: Self? { .some(.none) }
}

extension Optional: PostgresArrayElement where Wrapped: PostgresArrayElement {
    /// Arrays of optionals are arrays of the wrapped type with NULL elements.
    public static var postgresArrayType: PostgresDataType { Wrapped.postgresArrayType }
}

extension String: PostgresArrayElement {
    /// text
    public static var postgresType: PostgresDataType { .text }
    /// text[]
    public static var postgresArrayType: PostgresDataType { .textArray }
    /// The string itself.
    public var postgresText: String? { self }
    /// Any column decodes as its text form.
    public init(postgresText text: String, type: PostgresDataType) throws { self = text }
}

extension Bool: PostgresArrayElement {
    /// bool
    public static var postgresType: PostgresDataType { .bool }
    /// bool[]
    public static var postgresArrayType: PostgresDataType { .boolArray }
    /// `t` or `f`.
    public var postgresText: String? { self ? "t" : "f" }
    /// Accepts PostgreSQL's output `t`/`f` (and `true`/`false`).
    public init(postgresText text: String, type: PostgresDataType) throws {
        switch text {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw PostgresDecodingError(reason: "not a boolean")
        }
    }
}

/// Integers share one text form; each picks the matching PostgreSQL type.
public protocol PostgresInteger: FixedWidthInteger, PostgresArrayElement {}

extension PostgresInteger {
    /// Decimal digits.
    public var postgresText: String? { String(self) }
    /// Parses decimal digits; out-of-range values are an error, not a wrap-around.
    public init(postgresText text: String, type: PostgresDataType) throws {
        guard let value = Self(text) else {
            throw PostgresDecodingError(reason: "not an integer in the range of \(Self.self)")
        }
        self = value
    }
}

extension Int: PostgresInteger {
    /// bigint
    public static var postgresType: PostgresDataType { .int8 }
    /// bigint[]
    public static var postgresArrayType: PostgresDataType { .int8Array }
}

extension Int64: PostgresInteger {
    /// bigint
    public static var postgresType: PostgresDataType { .int8 }
    /// bigint[]
    public static var postgresArrayType: PostgresDataType { .int8Array }
}

extension Int32: PostgresInteger {
    /// integer
    public static var postgresType: PostgresDataType { .int4 }
    /// integer[]
    public static var postgresArrayType: PostgresDataType { .int4Array }
}

extension Int16: PostgresInteger {
    /// smallint
    public static var postgresType: PostgresDataType { .int2 }
    /// smallint[]
    public static var postgresArrayType: PostgresDataType { .int2Array }
}

extension Double: PostgresArrayElement {
    /// double precision
    public static var postgresType: PostgresDataType { .float8 }
    /// double precision[]
    public static var postgresArrayType: PostgresDataType { .float8Array }
    /// Shortest round-trip form; NaN and infinities spelled as PostgreSQL spells them.
    public var postgresText: String? {
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return description
    }
    /// Parses PostgreSQL's float output, including `NaN` and `±Infinity`.
    public init(postgresText text: String, type: PostgresDataType) throws {
        guard let value = Double(text) else { throw PostgresDecodingError(reason: "not a floating-point number") }
        self = value
    }
}

extension UUID: PostgresArrayElement {
    /// uuid
    public static var postgresType: PostgresDataType { .uuid }
    /// uuid[]
    public static var postgresArrayType: PostgresDataType { .uuidArray }
    /// Lower-case hyphenated form, as PostgreSQL prints it.
    public var postgresText: String? { uuidString.lowercased() }
    /// Parses the hyphenated form.
    public init(postgresText text: String, type: PostgresDataType) throws {
        guard let value = UUID(uuidString: text) else { throw PostgresDecodingError(reason: "not a UUID") }
        self = value
    }
}

extension Data: PostgresArrayElement {
    /// bytea
    public static var postgresType: PostgresDataType { .bytea }
    /// bytea[]
    public static var postgresArrayType: PostgresDataType { .byteaArray }
    /// Hex format: `\x0aff...`.
    public var postgresText: String? { PostgresBytea.hexText(self) }
    /// Decodes bytea output in hex or escape format.
    public init(postgresText text: String, type: PostgresDataType) throws {
        self = Data(try PostgresBytea.decode(text))
    }
}

/// Raw bytes bound as `bytea`, for callers holding `[UInt8]` rather than `Data`.
public struct PostgresBytea: PostgresArrayElement, Hashable {
    /// The bytes.
    public var bytes: [UInt8]

    /// Wraps bytes.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// bytea
    public static var postgresType: PostgresDataType { .bytea }
    /// bytea[]
    public static var postgresArrayType: PostgresDataType { .byteaArray }
    /// Hex format.
    public var postgresText: String? { Self.hexText(bytes) }
    /// Decodes bytea output in hex or escape format.
    public init(postgresText text: String, type: PostgresDataType) throws {
        self.bytes = try Self.decode(text)
    }

    /// Hex digits, for encoding.
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Digit values by ASCII code, 0xff for anything that is not a hex digit.
    private static let hexValues: [UInt8] = (0...255).map { code in
        switch UInt8(code) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt8(code) - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt8(code) - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt8(code) - UInt8(ascii: "A") + 10
        default: 0xff
        }
    }

    static func hexText<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let contiguous = bytes.withContiguousStorageIfAvailable { hexText(buffer: $0) }
        return contiguous ?? Array(bytes).withUnsafeBufferPointer { hexText(buffer: $0) }
    }

    // Pointer loops: multi-megabyte values go through here, and per-element Array appends are slow.
    private static func hexText(buffer: UnsafeBufferPointer<UInt8>) -> String {
        hexDigits.withUnsafeBufferPointer { digits in
            String(unsafeUninitializedCapacity: 2 + buffer.count * 2) { output in
                output[0] = UInt8(ascii: "\\")
                output[1] = UInt8(ascii: "x")
                var position = 2
                for byte in buffer {
                    output[position] = digits[Int(byte >> 4)]
                    output[position + 1] = digits[Int(byte & 0x0f)]
                    position += 2
                }
                return position
            }
        }
    }

    static func decode(_ text: String) throws -> [UInt8] {
        var text = text
        return try text.withUTF8 { try decode(utf8: $0) }
    }

    private static func decode(utf8: UnsafeBufferPointer<UInt8>) throws -> [UInt8] {
        if utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x") {
            let digitCount = utf8.count - 2
            guard digitCount % 2 == 0 else { throw PostgresDecodingError(reason: "odd number of hex digits") }
            var valid = true
            let bytes = hexValues.withUnsafeBufferPointer { values in
                [UInt8](unsafeUninitializedCapacity: digitCount / 2) { output, count in
                    var index = 2
                    var position = 0
                    while index < utf8.count {
                        let high = values[Int(utf8[index])]
                        let low = values[Int(utf8[index + 1])]
                        if high == 0xff || low == 0xff {
                            valid = false
                            break
                        }
                        output[position] = high << 4 | low
                        position += 1
                        index += 2
                    }
                    count = position
                }
            }
            guard valid else { throw PostgresDecodingError(reason: "invalid hex digit in bytea") }
            return bytes
        }
        // bytea_output = escape: backslash-escaped octets, `\\` for a backslash.
        var bytes = [UInt8]()
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\") {
                if index + 1 < utf8.count, utf8[index + 1] == UInt8(ascii: "\\") {
                    bytes.append(UInt8(ascii: "\\"))
                    index += 2
                } else if index + 3 < utf8.count,
                    let octal = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
                {
                    bytes.append(octal)
                    index += 4
                } else {
                    throw PostgresDecodingError(reason: "invalid escape in bytea")
                }
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return bytes
    }
}
