/// The step of the SMTP dialogue in which an attempt ended.
public enum SMTPPhase: String, Sendable, Hashable, Codable {
    /// Resolving and connecting.
    case connect
    /// Waiting for the 220 greeting.
    case greeting
    /// EHLO (or HELO).
    case ehlo
    /// STARTTLS and the TLS handshake, or the implicit-TLS handshake.
    case tls
    /// AUTH.
    case authentication
    /// Probing a reused connection with NOOP or resetting it with RSET.
    case reuse
    /// MAIL FROM.
    case mailFrom
    /// RCPT TO.
    case recipient
    /// DATA and the content before the final dot.
    case data
    /// Waiting for the reply to the final dot.
    case finalDot
    /// Building the message or checking it against the server's limits before sending.
    case message
}

/// What became of one attempt to send one message. The mailer switches on `kind`, and stores
/// `reply` and `detail` in the attempt record.
public struct DeliveryOutcome: Sendable, Hashable, CustomStringConvertible {
    /// The classes the outbox acts on.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The relay accepted the message (2xx after the final dot).
        case sent
        /// Not delivered, but may succeed later: 4xx, 421, network errors and timeouts before
        /// the final dot, a relay that is down. Retry with backoff.
        case transient
        /// The relay refused this message for good (5xx). Dead-letter it.
        case permanent
        /// Nothing can be sent until an operator acts: bad credentials, a certificate that does
        /// not verify, no STARTTLS, AUTH refused over plaintext. Pause the queue, keep the messages.
        case configuration
        /// The connection failed after the final dot was sent and before its reply arrived: the
        /// relay may or may not have the message (RFC 1047). Retry with the same bytes and
        /// Message-ID; a duplicate is possible.
        case unknownAfterFinalDot
    }

    /// The class of the outcome.
    public let kind: Kind
    /// Where the attempt ended.
    public let phase: SMTPPhase
    /// The server's reply that decided the outcome, if one did.
    public let reply: SMTPReply?
    /// A sentence on what happened, without secrets or message content.
    public let detail: String

    /// Creates an outcome.
    public init(kind: Kind, phase: SMTPPhase, reply: SMTPReply?, detail: String) {
        self.kind = kind
        self.phase = phase
        self.reply = reply
        self.detail = detail
    }

    /// The reply code, if any, for the attempt record.
    public var replyCode: Int? { reply?.code }
    /// The enhanced status code as text, for example `5.1.1`, if any.
    public var enhancedStatus: String? { reply?.enhancedStatus?.description }

    /// `transient at recipient: 451 4.3.0 Try again later`.
    public var description: String {
        "\(kind.rawValue) at \(phase.rawValue): " + (reply.map { "\($0) (\(detail))" } ?? detail)
    }

    /// Maps a negative reply to an outcome class (RFC 5321 §4.2.1, §4.5.3.1.10; RFC 4954 §6).
    static func classify(_ reply: SMTPReply, in phase: SMTPPhase) -> Kind {
        switch (reply.code, phase) {
        case (200..<300, _): return .sent
        // 530 auth required, 534 mechanism too weak, 535 bad credentials, 538 encryption
        // required: every message would fail the same way.
        case (530, _), (534, _), (535, _), (538, _): return .configuration
        case (_, .authentication) where reply.code >= 500: return .configuration
        // "Too many recipients" is transient despite its 5yz code (RFC 5321 §4.5.3.1.10).
        case (552, .recipient): return .transient
        case (400..<500, _): return .transient
        default: return .permanent
        }
    }
}

/// An attempt that ended early, carried inside the connection code until it becomes an outcome.
struct DeliveryFailure: Error {
    let kind: DeliveryOutcome.Kind
    let phase: SMTPPhase
    let reply: SMTPReply?
    let detail: String

    init(_ kind: DeliveryOutcome.Kind, _ phase: SMTPPhase, reply: SMTPReply? = nil, _ detail: String) {
        self.kind = kind
        self.phase = phase
        self.reply = reply
        self.detail = detail
    }

    /// The server said no.
    static func rejected(_ reply: SMTPReply, in phase: SMTPPhase, _ detail: String) -> DeliveryFailure {
        DeliveryFailure(DeliveryOutcome.classify(reply, in: phase), phase, reply: reply, detail)
    }

    var outcome: DeliveryOutcome { DeliveryOutcome(kind: kind, phase: phase, reply: reply, detail: detail) }
}
