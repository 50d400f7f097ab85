import Foundation

/// A globally unique message identifier, `<left@right>` (RFC 5322 §3.6.4). The outbox fixes
/// it at enqueue time so every retry carries the same one.
public struct MessageID: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The part between the angle brackets.
    public let value: String

    /// Validates `text`, with or without angle brackets, as `dot-atom@dot-atom`.
    public init(_ text: String) throws(MessageError) {
        var inner = Substring(text)
        if inner.first == "<" && inner.last == ">" { inner = inner.dropFirst().dropLast() }
        let parts = inner.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, EmailAddress.isDotAtom(String(parts[0])), EmailAddress.isDotAtom(String(parts[1])),
            inner.utf8.count <= 250
        else { throw .invalidMessageID(text) }
        value = String(inner)
    }

    /// A fresh random identifier in `domain`, for messages that are not in the outbox.
    public static func random(domain: String) throws(MessageError) -> MessageID {
        try MessageID("\(UUID().uuidString.lowercased())@\(domain)")
    }

    /// `<value>`, the header form.
    public var description: String { "<\(value)>" }

    /// Decodes from the string form, validating it.
    public init(from decoder: any Decoder) throws {
        try self.init(decoder.singleValueContainer().decode(String.self))
    }

    /// Encodes as the string form without brackets.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// The SMTP envelope: who the relay reports bounces to and who receives the message
/// (RFC 5321 §2.3.1). It is separate from the From and To headers.
public struct Envelope: Sendable, Hashable, Codable {
    /// The reverse path, sent in MAIL FROM.
    public var sender: EmailAddress
    /// The forward paths, one RCPT TO each.
    public var recipients: [EmailAddress]

    /// Creates an envelope.
    public init(sender: EmailAddress, recipients: [EmailAddress]) {
        self.sender = sender
        self.recipients = recipients
    }
}

/// A message rendered once to its final bytes. The outbox stores these three values, and every
/// attempt sends exactly these bytes, so a retry is byte-for-byte the same message.
public struct RenderedMessage: Sendable, Hashable {
    /// The Message-ID header's value.
    public let messageID: MessageID
    /// Where the message goes.
    public let envelope: Envelope
    /// The RFC 5322 message with CRLF line ends, 7-bit, not yet dot-stuffed.
    public let bytes: [UInt8]

    /// Wraps stored bytes, for example when the mailer loads an outbox row.
    public init(messageID: MessageID, envelope: Envelope, bytes: [UInt8]) {
        self.messageID = messageID
        self.envelope = envelope
        self.bytes = bytes
    }
}

/// An extra header field such as `List-Unsubscribe` or `X-InvoiceFlow-Invoice`.
public struct HeaderField: Sendable, Hashable {
    /// The field name.
    public let name: String
    /// The unstructured value; non-ASCII is encoded with RFC 2047.
    public let value: String

    /// Fields the renderer writes itself, which callers may not duplicate.
    static let reservedNames: Set<String> = [
        "date", "from", "to", "cc", "bcc", "reply-to", "subject", "message-id", "mime-version",
        "content-type", "content-transfer-encoding", "auto-submitted", "in-reply-to", "references", "sender",
    ]

    /// Validates the name (RFC 5322 §2.2 printable ASCII without a colon) and the value.
    public init(name: String, value: String) throws(MessageError) {
        guard !name.isEmpty, name.utf8.count <= 76, name.utf8.allSatisfy({ (33...126).contains($0) && $0 != 58 }),
            !Self.reservedNames.contains(name.lowercased())
        else { throw .invalidHeaderName(name) }
        try HeaderText.requireNoControlCharacters(value, field: name)
        self.name = name
        self.value = value
    }
}

/// A notification email: plain text, optionally with an HTML alternative. `render()` turns it
/// into RFC 5322/MIME bytes that are 7-bit clean, so no relay has to convert them.
public struct MailMessage: Sendable {
    /// The author; its address is also the envelope sender.
    public var from: Mailbox
    /// The recipients, also the envelope recipients.
    public var to: [Mailbox]
    /// Where replies go, if not to `from`.
    public var replyTo: Mailbox?
    /// The subject, any Unicode text without control characters.
    public var subject: String
    /// The text/plain part; any line-end convention.
    public var textBody: String
    /// The text/html part, if any; sent as the preferred alternative.
    public var htmlBody: String?
    /// The identifier; fix it before the first attempt.
    public var messageID: MessageID
    /// The Date header; fix it with the Message-ID so retries are identical.
    public var date: Date
    /// The message this one follows up, for threading reminders with the original request.
    public var inReplyTo: MessageID?
    /// The thread's earlier messages, oldest first.
    public var references: [MessageID]
    /// Further fields, such as List-Unsubscribe on digests.
    public var extraHeaders: [HeaderField]

    /// Creates a message; `Auto-Submitted: auto-generated` is always added (RFC 3834).
    public init(
        from: Mailbox, to: [Mailbox], replyTo: Mailbox? = nil, subject: String, textBody: String,
        htmlBody: String? = nil, messageID: MessageID, date: Date, inReplyTo: MessageID? = nil,
        references: [MessageID] = [], extraHeaders: [HeaderField] = []
    ) {
        self.from = from
        self.to = to
        self.replyTo = replyTo
        self.subject = subject
        self.textBody = textBody
        self.htmlBody = htmlBody
        self.messageID = messageID
        self.date = date
        self.inReplyTo = inReplyTo
        self.references = references
        self.extraHeaders = extraHeaders
    }

    /// Renders the message; throws if a field would break the header structure. The same message
    /// always renders to the same bytes.
    public func render() throws(MessageError) -> RenderedMessage {
        guard !to.isEmpty else { throw .noRecipients }
        var head = "Date: \(Self.rfc5322Date(date))\r\n"
        head += HeaderText.addressList(name: "From", mailboxes: [from])
        head += HeaderText.addressList(name: "To", mailboxes: to)
        if let replyTo { head += HeaderText.addressList(name: "Reply-To", mailboxes: [replyTo]) }
        head += try HeaderText.unstructured(name: "Subject", value: subject)
        head += "Message-ID: \(messageID)\r\n"
        if let inReplyTo { head += "In-Reply-To: \(inReplyTo)\r\n" }
        if !references.isEmpty {
            head += HeaderText.fold(name: "References", tokens: references.map(\.description))
        }
        head += "Auto-Submitted: auto-generated\r\n"
        for field in extraHeaders { head += try HeaderText.unstructured(name: field.name, value: field.value) }
        head += "MIME-Version: 1.0\r\n"

        let text = BodyEncoding.part(contentType: "text/plain; charset=utf-8", body: textBody)
        var message: String
        if let htmlBody {
            let html = BodyEncoding.part(contentType: "text/html; charset=utf-8", body: htmlBody)
            // "=_" cannot occur in quoted-printable or base64 output, so the boundary never
            // collides with the content (RFC 2046 §5.1.1) and need not be random: deriving it
            // from the Message-ID makes rendering deterministic.
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
            for byte in messageID.value.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            let boundary = "=_invoiceflow_" + String(hash, radix: 16)
            message = head + "Content-Type: multipart/alternative;\r\n boundary=\"\(boundary)\"\r\n\r\n"
            message += "This is a MIME message with a plain-text and an HTML version.\r\n"
            message += "--\(boundary)\r\n\(text)\r\n--\(boundary)\r\n\(html)\r\n--\(boundary)--\r\n"
        } else {
            message = head + text
        }
        let envelope = Envelope(sender: from.address, recipients: to.map(\.address))
        return RenderedMessage(messageID: messageID, envelope: envelope, bytes: Array(message.utf8))
    }

    /// `Sun, 29 Nov 2026 03:52:14 +0000`, always in English and UTC (RFC 5322 §3.3), whatever
    /// the process locale.
    static func rfc5322Date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int?) -> String { n.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        return "\(days[(c.weekday ?? 1) - 1]), \(two(c.day)) \(months[(c.month ?? 1) - 1]) \(c.year ?? 1970) "
            + "\(two(c.hour)):\(two(c.minute)):\(two(c.second)) +0000"
    }
}
