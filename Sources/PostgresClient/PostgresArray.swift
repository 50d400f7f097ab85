/// One-dimensional arrays bind and decode as PostgreSQL arrays (`text[]`, `bigint[]`, ...); an array of
/// optionals holds NULL elements.
extension Array: PostgresEncodable where Element: PostgresArrayElement {
    /// The element type's array OID.
    public static var postgresType: PostgresDataType { Element.postgresArrayType }
    /// Array literal with every element double-quoted and `"`/`\` escaped, so commas, braces, quotes,
    /// backslashes, whitespace and the word NULL all survive as data.
    public var postgresText: String? {
        var text = "{"
        for (index, element) in enumerated() {
            if index > 0 { text += "," }
            guard let elementText = element.postgresText else {
                text += "NULL"
                continue
            }
            text += "\""
            for character in elementText {
                if character == "\"" || character == "\\" { text += "\\" }
                text.append(character)
            }
            text += "\""
        }
        return text + "}"
    }
}

extension Array: PostgresDecodable where Element: PostgresArrayElement {
    /// Parses PostgreSQL's array output (one dimension; optional `[lower:upper]=` prefix).
    public init(postgresText text: String, type: PostgresDataType) throws {
        let elementType = type.arrayElementType
        self = try PostgresArrayText.parse(text).map { element in
            guard let element else {
                guard let null = Element.postgresNull else {
                    throw PostgresDecodingError(
                        reason: "the array has a NULL element; decode as [\(Element.self)?] to accept NULL")
                }
                return null
            }
            return try Element(postgresText: element, type: elementType)
        }
    }
}

/// Parser for the text form of a one-dimensional array.
enum PostgresArrayText {
    static func parse(_ text: String) throws -> [String?] {
        var bytes = Array(text.utf8)[...]
        if bytes.first == UInt8(ascii: "[") {
            // Non-default bounds: "[0:2]={...}". The bounds do not matter to a Swift array.
            guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")) else { throw malformed }
            bytes = bytes[(equals + 1)...]
        }
        guard bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}") else { throw malformed }
        bytes = bytes.dropFirst().dropLast()
        var elements: [String?] = []
        guard !bytes.isEmpty else { return elements }
        var index = bytes.startIndex
        while true {
            var element: [UInt8] = []
            var quoted = false
            if bytes[index] == UInt8(ascii: "{") {
                throw PostgresDecodingError(reason: "multi-dimensional arrays are not supported")
            }
            if bytes[index] == UInt8(ascii: "\"") {
                quoted = true
                index += 1
                while true {
                    guard index < bytes.endIndex else { throw malformed }
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\"") {
                        index += 1
                        break
                    }
                    if byte == UInt8(ascii: "\\") {
                        index += 1
                        guard index < bytes.endIndex else { throw malformed }
                    }
                    element.append(bytes[index])
                    index += 1
                }
            } else {
                while index < bytes.endIndex, bytes[index] != UInt8(ascii: ",") {
                    if bytes[index] == UInt8(ascii: "\\") {
                        index += 1
                        guard index < bytes.endIndex else { throw malformed }
                    }
                    element.append(bytes[index])
                    index += 1
                }
            }
            let value = String(decoding: element, as: UTF8.self)
            elements.append(!quoted && value == "NULL" ? nil : value)
            if index == bytes.endIndex { break }
            guard bytes[index] == UInt8(ascii: ",") else { throw malformed }
            index += 1
        }
        return elements
    }

    private static var malformed: PostgresDecodingError {
        PostgresDecodingError(reason: "not a one-dimensional array literal")
    }
}
