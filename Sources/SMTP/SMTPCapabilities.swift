/// What the server announced in its EHLO reply (RFC 5321 §4.1.1.1). After STARTTLS the set is
/// replaced, never merged (RFC 3207 §4.2).
public struct SMTPCapabilities: Sendable, Hashable {
    /// Every keyword in upper case, with its parameters.
    public let keywords: [String: [String]]

    /// Parses the lines of a 250 reply to EHLO; the first line is the greeting and is skipped.
    public init(ehloReply: SMTPReply) {
        var keywords: [String: [String]] = [:]
        for line in ehloReply.lines.dropFirst() {
            // Old servers write "AUTH=LOGIN PLAIN"; treat it like "AUTH LOGIN PLAIN".
            let normalised = line.uppercased().hasPrefix("AUTH=") ? "AUTH " + line.dropFirst(5) : line
            let words = normalised.split(separator: " ")
            guard let keyword = words.first else { continue }
            let name = keyword.uppercased()
            keywords[name, default: []].append(contentsOf: words.dropFirst().map(String.init))
        }
        self.keywords = keywords
    }

    /// Creates an empty set: a server that answered HELO, or before EHLO.
    public init() { keywords = [:] }

    /// The server accepts STARTTLS (RFC 3207).
    public var startTLS: Bool { keywords["STARTTLS"] != nil }
    /// The largest message the server accepts, if it announced one (RFC 1870); 0 means no limit.
    public var maximumMessageSize: Int? {
        guard let parameters = keywords["SIZE"] else { return nil }
        return parameters.first.flatMap { Int($0) } ?? 0
    }
    /// The server accepts 8-bit bodies with BODY=8BITMIME (RFC 6152).
    public var eightBitMIME: Bool { keywords["8BITMIME"] != nil }
    /// The server accepts UTF-8 addresses and headers (RFC 6531).
    public var smtpUTF8: Bool { keywords["SMTPUTF8"] != nil }
    /// The server accepts pipelined commands (RFC 2920).
    public var pipelining: Bool { keywords["PIPELINING"] != nil }
    /// The server sends RFC 3463 enhanced status codes (RFC 2034).
    public var enhancedStatusCodes: Bool { keywords["ENHANCEDSTATUSCODES"] != nil }
    /// The SASL mechanisms offered by AUTH, in upper case (RFC 4954).
    public var authenticationMechanisms: Set<String> { Set((keywords["AUTH"] ?? []).map { $0.uppercased() }) }
}
