import Foundation

/// How the connection to the relay is protected.
public enum TransportSecurity: String, Sendable, Hashable {
    /// TLS from the first byte (RFC 8314, port 465): `smtps://`.
    case implicitTLS
    /// Plain connect, then STARTTLS, which the server must offer (RFC 3207): `smtp://…?tls=required`.
    case startTLS
    /// No TLS at all: `smtp://…?tls=none`, only for a relay on the same host, and only when
    /// the deployment says so explicitly.
    case plaintext
}

/// Per-phase deadlines. The defaults are RFC 5321 §4.5.3.2's minimums; connect and TLS are
/// our own choice. A short final-dot timeout only buys duplicates, so it stays long.
public struct SMTPTimeouts: Sendable, Hashable {
    /// TCP connect, per address tried.
    public var connect: Duration = .seconds(30)
    /// The TLS handshake.
    public var tlsHandshake: Duration = .seconds(30)
    /// The 220 greeting (§4.5.3.2.1).
    public var greeting: Duration = .seconds(300)
    /// EHLO, STARTTLS, AUTH, RSET, NOOP and QUIT replies.
    public var command: Duration = .seconds(300)
    /// MAIL FROM (§4.5.3.2.2) and each RCPT TO (§4.5.3.2.3).
    public var envelope: Duration = .seconds(300)
    /// The 354 reply to DATA (§4.5.3.2.4).
    public var dataInitiation: Duration = .seconds(120)
    /// Each write of the message content (§4.5.3.2.5).
    public var dataBlock: Duration = .seconds(180)
    /// The reply to the final dot (§4.5.3.2.6).
    public var finalDot: Duration = .seconds(600)

    /// The RFC defaults.
    public init() {}

    /// Every phase given the same deadline; for tests.
    public static func uniform(_ duration: Duration) -> SMTPTimeouts {
        var timeouts = SMTPTimeouts()
        timeouts.connect = duration
        timeouts.tlsHandshake = duration
        timeouts.greeting = duration
        timeouts.command = duration
        timeouts.envelope = duration
        timeouts.dataInitiation = duration
        timeouts.dataBlock = duration
        timeouts.finalDot = duration
        return timeouts
    }
}

/// A user name and password for AUTH PLAIN or LOGIN. Never printed.
public struct SMTPCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The login.
    public let user: String
    /// The password.
    public let password: String

    /// Creates credentials.
    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// Names the user only.
    public var description: String { "\(user) (password hidden)" }
    /// Names the user only.
    public var debugDescription: String { description }
    /// Hides the password from `dump` and reflection too.
    public var customMirror: Mirror { Mirror(self, children: ["user": user]) }
}

/// Why a relay configuration was refused.
public struct SMTPConfigurationError: Error, Hashable, CustomStringConvertible {
    /// What is wrong, without the password.
    public let description: String
}

/// Everything needed to reach the relay, typically read once from `INVOICEFLOW_SMTP_URL`,
/// `INVOICEFLOW_SMTP_CA_FILE` and the sender address.
public struct SMTPConfiguration: Sendable {
    /// The relay's host name or IP address, as configured (never one learned from DNS).
    public var host: String
    /// The TCP port.
    public var port: Int
    /// TLS mode.
    public var security: TransportSecurity
    /// AUTH credentials, sent only over TLS.
    public var credentials: SMTPCredentials?
    /// A PEM file of trusted CAs replacing the system store; nil for the system store.
    public var caFile: String?
    /// The From address and envelope sender of notifications.
    public var sender: Mailbox
    /// The name we give in EHLO.
    public var clientName: String
    /// Per-phase deadlines.
    public var timeouts: SMTPTimeouts = SMTPTimeouts()
    /// Open a new connection after this many messages (nodemailer's default is 100).
    public var maximumMessagesPerConnection: Int = 100
    /// Close a connection that has been idle this long instead of reusing it.
    public var maximumIdleTime: Duration = .seconds(60)
    /// Probe a connection idle this long with NOOP before reusing it.
    public var probeAfterIdle: Duration = .seconds(10)

    /// Parses a relay URL:
    /// - `smtps://user:password@host:465`: implicit TLS (the default port is 465);
    /// - `smtp://user:password@host:587?tls=required`: STARTTLS required (also the default
    ///   for `smtp://`; the default port is 587);
    /// - `smtp://host:25?tls=none`: no TLS, refused unless `allowPlaintext` is true.
    ///
    /// User and password are percent-decoded, so `p%40ss` is `p@ss`. Credentials with `tls=none`
    /// are refused: they would cross the network in clear text.
    public init(url: String, caFile: String? = nil, sender: Mailbox, allowPlaintext: Bool = false)
        throws(SMTPConfigurationError)
    {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw SMTPConfigurationError(description: "the SMTP URL is not a URL")
        }
        guard let host = components.host, !host.isEmpty else {
            throw SMTPConfigurationError(description: "the SMTP URL names no host")
        }
        var options: [String: String] = [:]
        for item in components.queryItems ?? [] { options[item.name.lowercased()] = item.value?.lowercased() ?? "" }
        let tls = options.removeValue(forKey: "tls")
        switch (scheme, tls) {
        case ("smtps", nil), ("smtps", "implicit"): security = .implicitTLS
        case ("smtp", nil), ("smtp", "required"), ("smtp", "starttls"): security = .startTLS
        case ("smtp", "none"):
            guard allowPlaintext else {
                throw SMTPConfigurationError(
                    description: "tls=none needs plaintext SMTP to be allowed explicitly (local relays only)")
            }
            security = .plaintext
        case ("smtp", _), ("smtps", _):
            throw SMTPConfigurationError(description: "unknown tls= value; use required or none")
        default:
            throw SMTPConfigurationError(description: "the SMTP URL scheme must be smtp or smtps")
        }
        if let unknown = options.keys.sorted().first {
            throw SMTPConfigurationError(description: "unknown SMTP URL option \(unknown)")
        }
        // URLComponents keeps IPv6 literals bracketed; OpenSSL and getaddrinfo want them bare.
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? (security == .implicitTLS ? 465 : 587)
        guard (1...65535).contains(port) else { throw SMTPConfigurationError(description: "bad SMTP port") }
        if let user = components.percentEncodedUser {
            guard let decodedUser = user.removingPercentEncoding,
                let decodedPassword = (components.percentEncodedPassword ?? "").removingPercentEncoding
            else { throw SMTPConfigurationError(description: "bad percent-encoding in the SMTP user or password") }
            credentials = SMTPCredentials(user: decodedUser, password: decodedPassword)
        }
        if security == .plaintext && credentials != nil {
            throw SMTPConfigurationError(description: "credentials are never sent without TLS; remove them or use TLS")
        }
        self.caFile = caFile
        self.sender = sender
        clientName = Self.localHostName()
    }

    /// The machine's name for EHLO, or `localhost` when it has none.
    static func localHostName() -> String {
        let name = ProcessInfo.processInfo.hostName
        return EmailAddress.isHostName(name) ? name : "localhost"
    }

    /// The relay as `host:port` for logs.
    public var relayDescription: String { "\(host):\(port)" }
}
