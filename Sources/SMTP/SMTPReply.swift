/// One complete SMTP reply: a three-digit code, the RFC 3463 enhanced status code when the
/// server sent one, and the text of every line (RFC 5321 §4.2).
public struct SMTPReply: Sendable, Hashable, CustomStringConvertible {
    /// The three-digit reply code, for example 250 or 451.
    public let code: Int
    /// The enhanced status code from the first line (RFC 2034, RFC 3463), if present.
    public let enhancedStatus: EnhancedStatusCode?
    /// The text of each line without the code, the separator and the enhanced status code.
    public let lines: [String]

    /// Creates a reply from its parts; used by the parser and by tests.
    public init(code: Int, enhancedStatus: EnhancedStatusCode? = nil, lines: [String]) {
        self.code = code
        self.enhancedStatus = enhancedStatus
        self.lines = lines
    }

    /// The reply class from the first digit (RFC 5321 §4.2.1).
    public var replyClass: ReplyClass {
        switch code / 100 {
        case 2: .positiveCompletion
        case 3: .positiveIntermediate
        case 4: .transientNegative
        default: .permanentNegative
        }
    }

    /// All lines joined with a space, for logs and the outbox's attempt record.
    public var text: String { lines.joined(separator: " ") }

    /// `451 4.3.0 Try again later` style rendering.
    public var description: String {
        var parts = [String(code)]
        if let enhancedStatus { parts.append(enhancedStatus.description) }
        if !text.isEmpty { parts.append(text) }
        return parts.joined(separator: " ")
    }

    /// The four reply classes of RFC 5321 §4.2.1.
    public enum ReplyClass: Sendable, Hashable {
        /// 2yz: the command was accepted.
        case positiveCompletion
        /// 3yz: more input is expected (354 after DATA, 334 during AUTH).
        case positiveIntermediate
        /// 4yz: try again later.
        case transientNegative
        /// 5yz: do not repeat the same command.
        case permanentNegative
    }
}

/// An RFC 3463 enhanced status code `class.subject.detail`, for example 5.1.1.
public struct EnhancedStatusCode: Sendable, Hashable, CustomStringConvertible {
    /// 2 success, 4 persistent transient failure, 5 permanent failure.
    public let statusClass: Int
    /// The subject (1 addressing, 2 mailbox, 3 mail system, 4 network, 5 protocol, 6 content, 7 security).
    public let subject: Int
    /// The detail within the subject.
    public let detail: Int

    /// Creates a code from its three numbers.
    public init(statusClass: Int, subject: Int, detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    /// Parses `x.y.z` (class 2, 4 or 5; subject and detail of at most three digits, RFC 3463 §2).
    public init?(_ text: Substring) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            parts.allSatisfy({ (1...3).contains($0.count) && $0.allSatisfy(\.isASCIIDigit) }),
            parts[0].count == 1,
            let statusClass = Int(parts[0]), [2, 4, 5].contains(statusClass),
            let subject = Int(parts[1]), let detail = Int(parts[2])
        else { return nil }
        self.init(statusClass: statusClass, subject: subject, detail: detail)
    }

    /// `5.1.1`.
    public var description: String { "\(statusClass).\(subject).\(detail)" }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// Why the bytes from the server could not be read as an SMTP reply.
struct MalformedReply: Error, Hashable, CustomStringConvertible {
    let reason: String
    var description: String { "malformed SMTP reply: \(reason)" }
}

/// Splits the bytes the server sends into replies. It does no I/O, so tests drive it directly
/// and the connection feeds it whatever `read` returned.
struct SMTPReplyParser {
    /// RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers exceed it a little,
    /// so the cap only stops a peer from growing our buffer without bound.
    static let maximumLineLength = 4096
    /// More lines than any real EHLO reply has.
    static let maximumLines = 200

    private var buffer: [UInt8] = []
    private var pendingCode: Int?
    private var pendingLines: [String] = []
    private var pendingEnhanced: EnhancedStatusCode?

    /// Bytes received but not yet consumed by a complete reply. STARTTLS requires this to be
    /// empty after the 220 (RFC 3207 §4; CVE-2011-0411).
    var hasUnconsumedBytes: Bool { !buffer.isEmpty || pendingCode != nil }

    /// Appends bytes read from the connection.
    mutating func feed<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        buffer.append(contentsOf: bytes)
    }

    /// Returns the next complete reply, nil when more bytes are needed, or throws when the bytes
    /// cannot be an SMTP reply.
    mutating func nextReply() throws(MalformedReply) -> SMTPReply? {
        while let lineEnd = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            var line = buffer[..<lineEnd]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            let lineBytes = Array(line)
            buffer.removeSubrange(...lineEnd)
            if let reply = try consume(line: lineBytes) { return reply }
        }
        if buffer.count > Self.maximumLineLength {
            throw MalformedReply(reason: "a line longer than \(Self.maximumLineLength) bytes")
        }
        return nil
    }

    private mutating func consume(line: [UInt8]) throws(MalformedReply) -> SMTPReply? {
        guard line.count <= Self.maximumLineLength else {
            throw MalformedReply(reason: "a line longer than \(Self.maximumLineLength) bytes")
        }
        guard line.count >= 3, line[0...2].allSatisfy({ (0x30...0x39).contains($0) }),
            (0x32...0x35).contains(line[0])
        else {
            throw MalformedReply(reason: "a line that does not start with a reply code 2yz-5yz")
        }
        let code = Int(line[0] - 0x30) * 100 + Int(line[1] - 0x30) * 10 + Int(line[2] - 0x30)
        let isLast: Bool
        switch line.count > 3 ? line[3] : UInt8(ascii: " ") {
        case UInt8(ascii: " "): isLast = true
        case UInt8(ascii: "-"): isLast = false
        default: throw MalformedReply(reason: "no space or hyphen after the reply code")
        }
        if let pendingCode, pendingCode != code {
            throw MalformedReply(reason: "reply code changed from \(pendingCode) to \(code) inside one reply")
        }
        var text = line.count > 4 ? String(decoding: line[4...], as: UTF8.self) : ""
        if pendingCode == nil {
            pendingCode = code
            // The enhanced code must agree with the reply class, or it is just text.
            if let token = text.split(separator: " ", maxSplits: 1).first,
                let enhanced = EnhancedStatusCode(token), enhanced.statusClass == code / 100
            {
                pendingEnhanced = enhanced
                text = String(text.dropFirst(token.count).drop(while: { $0 == " " }))
            }
        } else if let pendingEnhanced,
            text.hasPrefix(pendingEnhanced.description + " ") || text == pendingEnhanced.description
        {
            text = String(text.dropFirst(pendingEnhanced.description.count).drop(while: { $0 == " " }))
        }
        pendingLines.append(text)
        guard pendingLines.count <= Self.maximumLines else {
            throw MalformedReply(reason: "more than \(Self.maximumLines) lines in one reply")
        }
        guard isLast else { return nil }
        let reply = SMTPReply(code: code, enhancedStatus: pendingEnhanced, lines: pendingLines)
        pendingCode = nil
        pendingEnhanced = nil
        pendingLines = []
        return reply
    }
}
