import Foundation

/// An exact decimal number as PostgreSQL's `numeric` spells it: any number of digits, no rounding. Use it
/// when `Decimal`'s 38 significant digits are not enough or the exact text matters (`1.50` stays `1.50`).
public struct PostgresNumeric: Sendable, Hashable, CustomStringConvertible, Codable {
    /// The number in PostgreSQL's notation, e.g. `-12345.678900`, `NaN`, `Infinity`.
    public let description: String

    /// Validates the notation: optional sign, digits with an optional fraction, an optional exponent;
    /// or `NaN`, `Infinity`, `-Infinity`. Nil for anything else.
    public init?(_ text: String) {
        guard Self.isValid(text) else { return nil }
        self.description = text
    }

    /// The exact value of an integer.
    public init(_ value: Int) { self.description = String(value) }

    /// The exact value of a `Decimal` (which is itself exact in base 10).
    public init(_ value: Decimal) {
        self.description = value.isNaN ? "NaN" : value.description
    }

    /// The value as `Decimal`, or nil if it does not fit (more than 38 significant digits, NaN, infinity).
    public var decimal: Decimal? {
        let significant = description.filter(\.isNumber).drop { $0 == "0" }
        guard significant.count <= 38, let value = Decimal(string: description, locale: nil), !value.isNaN else {
            return nil
        }
        return value
    }

    static func isValid(_ text: String) -> Bool {
        if text == "NaN" || text == "Infinity" || text == "-Infinity" { return true }
        var bytes = Substring(text).utf8[...]
        if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        func digits() -> Int {
            let count = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        var mantissaDigits = digits()
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            mantissaDigits += digits()
        }
        guard mantissaDigits > 0 else { return false }
        if let e = bytes.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                bytes = bytes.dropFirst()
            }
            guard digits() > 0 else { return false }
        }
        return bytes.isEmpty
    }

    /// Decodes the notation from a JSON string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = PostgresNumeric(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a decimal number")
        }
        self = value
    }

    /// Encodes the notation as a JSON string, so no digit is lost to a binary float.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension PostgresNumeric: PostgresArrayElement {
    /// numeric
    public static var postgresType: PostgresDataType { .numeric }
    /// numeric[]
    public static var postgresArrayType: PostgresDataType { .numericArray }
    /// The notation itself.
    public var postgresText: String? { description }
    /// Any numeric (or integer) column text.
    public init(postgresText text: String, type: PostgresDataType) throws {
        guard let value = PostgresNumeric(text) else { throw PostgresDecodingError(reason: "not a decimal number") }
        self = value
    }
}

extension Decimal: PostgresArrayElement {
    /// numeric
    public static var postgresType: PostgresDataType { .numeric }
    /// numeric[]
    public static var postgresArrayType: PostgresDataType { .numericArray }
    /// Plain decimal notation.
    public var postgresText: String? { PostgresNumeric(self).description }
    /// Decodes numeric text; fails rather than round when the value has more than 38 significant digits.
    public init(postgresText text: String, type: PostgresDataType) throws {
        guard let numeric = PostgresNumeric(text), let value = numeric.decimal else {
            throw PostgresDecodingError(reason: "not a decimal number that Decimal holds exactly")
        }
        self = value
    }
}

/// A `json`/`jsonb` value as raw JSON text, with helpers to go through `Codable`.
public struct PostgresJSON: Sendable, Hashable, CustomStringConvertible {
    /// The JSON document as text.
    public var rawJSON: String

    /// Wraps JSON text as is (the server validates it).
    public init(rawJSON: String) { self.rawJSON = rawJSON }

    /// Encodes a value with `JSONEncoder`.
    public init<Value: Encodable>(encoding value: Value, encoder: JSONEncoder = JSONEncoder()) throws {
        self.rawJSON = String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes the document with `JSONDecoder`.
    public func decode<Value: Decodable>(_ type: Value.Type = Value.self, decoder: JSONDecoder = JSONDecoder()) throws
        -> Value
    {
        try decoder.decode(type, from: Data(rawJSON.utf8))
    }

    /// The JSON text.
    public var description: String { rawJSON }
}

extension PostgresJSON: PostgresArrayElement {
    /// jsonb
    public static var postgresType: PostgresDataType { .jsonb }
    /// jsonb[]
    public static var postgresArrayType: PostgresDataType { .jsonbArray }
    /// The JSON text.
    public var postgresText: String? { rawJSON }
    /// Any json or jsonb column.
    public init(postgresText text: String, type: PostgresDataType) throws { self.rawJSON = text }
}
