import Foundation

/// A validated ASCII addr-spec, `local@domain` (RFC 5322 §3.4.1 dot-atom form, RFC 5321 §4.5.3.1
/// length limits). Quoted local parts, domain literals and UTF-8 addresses are refused: none
/// is needed for notifications, and each is a place where CR, LF or `<>` could slip into the
/// envelope or a header.
public struct EmailAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The part before the `@`, case preserved.
    public let localPart: String
    /// The domain, case preserved.
    public let domain: String

    /// Validates `text` as an address; throws `MessageError.invalidAddress` otherwise.
    public init(_ text: String) throws(MessageError) {
        guard let at = text.lastIndex(of: "@") else { throw .invalidAddress(text, reason: "no @") }
        let local = String(text[..<at])
        let domain = String(text[text.index(after: at)...])
        guard Self.isDotAtom(local) else {
            throw .invalidAddress(text, reason: "the local part is not a dot-atom of printable ASCII")
        }
        guard local.utf8.count <= 64 else { throw .invalidAddress(text, reason: "local part over 64 octets") }
        guard Self.isHostName(domain) else { throw .invalidAddress(text, reason: "the domain is not a host name") }
        guard text.utf8.count <= 254 else { throw .invalidAddress(text, reason: "address over 254 octets") }
        self.localPart = local
        self.domain = domain
    }

    /// `local@domain`.
    public var description: String { "\(localPart)@\(domain)" }

    /// Decodes from the plain string form, validating it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(container.decode(String.self))
    }

    /// Encodes as the plain string form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// RFC 5322 atext: letters, digits and ``!#$%&'*+-/=?^_`{|}~``.
    static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-/=?^_`{|}~".utf8.contains(byte)
        }
    }

    static func isDotAtom(_ text: String) -> Bool {
        let atoms = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return !text.isEmpty && atoms.allSatisfy { !$0.isEmpty && $0.allSatisfy(isAtext) }
    }

    /// LDH labels of 1-63 octets, at most 253 octets in all (RFC 1035, RFC 5321 §4.1.2).
    static func isHostName(_ text: String) -> Bool {
        let labels = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            guard (1...63).contains(label.count), label.first != UInt8(ascii: "-"),
                label.last != UInt8(ascii: "-")
            else { return false }
            return label.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"):
                    true
                default: false
                }
            }
        }
    }
}

/// An address with an optional display name, as in `Иван Петров <ivan@example.ru>`.
public struct Mailbox: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The human-readable name, any Unicode text without control characters; nil for none.
    public let displayName: String?
    /// The address.
    public let address: EmailAddress

    /// Creates a mailbox; throws `MessageError.headerInjection` if the name has control characters.
    public init(displayName: String? = nil, address: EmailAddress) throws(MessageError) {
        if let displayName { try HeaderText.requireNoControlCharacters(displayName, field: "display name") }
        self.displayName = displayName?.isEmpty == true ? nil : displayName
        self.address = address
    }

    /// Creates a mailbox from a name and an address string, validating both.
    public init(displayName: String? = nil, address: String) throws(MessageError) {
        try self.init(displayName: displayName, address: EmailAddress(address))
    }

    /// Parses a configured sender such as `InvoiceFlow <noreply@example.ru>`,
    /// `"Бухгалтерия" <buh@example.ru>` or a bare `noreply@example.ru`.
    public init(parsing text: String) throws(MessageError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") else {
            try self.init(address: trimmed)
            return
        }
        var name = trimmed[..<open].trimmingCharacters(in: .whitespaces)
        if name.count >= 2 && name.hasPrefix("\"") && name.hasSuffix("\"") {
            name = String(name.dropFirst().dropLast())
        }
        let address = String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)])
        try self.init(displayName: name.isEmpty ? nil : name, address: address)
    }

    /// A readable form for logs; not the header encoding.
    public var description: String {
        displayName.map { "\($0) <\(address)>" } ?? address.description
    }
}
