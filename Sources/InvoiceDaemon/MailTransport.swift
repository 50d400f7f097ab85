import Foundation
import Logging
import SMTP

/// Where the mailer hands messages: the configured relay, or a folder of `.eml` files when there is
/// none. Never throws: every result is a classified outcome the outbox records.
public protocol MailTransport: Sendable {
    /// Delivers one message, byte for byte as stored.
    func send(_ message: RenderedMessage) async -> DeliveryOutcome
    /// Ends any open connection.
    func close() async
}

extension SMTPClient: MailTransport {}

/// The transport of a first run without a relay: each message becomes `<Message-ID>.eml` in a folder,
/// written to a temporary name and renamed, so a reader never sees half a file. A retry of the same
/// message overwrites the same file: the folder holds each message once.
public struct MailFolder: MailTransport {
    /// The folder (`INVOICEFLOW_MAIL_DIR`, default `<data dir>/mail`).
    public var directory: URL

    /// A transport writing into `directory`, which is created on first use.
    public init(directory: URL) {
        self.directory = directory
    }

    /// The file a message is written to.
    public func file(for messageID: MessageID) -> URL {
        // Message-IDs are dot-atoms: only "/" could leave the folder.
        let name = messageID.value.replacingOccurrences(of: "/", with: "_")
        return directory.appendingPathComponent(name + ".eml")
    }

    /// Writes the message; a failure to write is transient (a full disk may clear up).
    public func send(_ message: RenderedMessage) async -> DeliveryOutcome {
        let target = file(for: message.messageID)
        let temporary = directory.appendingPathComponent(".\(UUID().uuidString).tmp")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(message.bytes).write(to: temporary)
            if FileManager.default.fileExists(atPath: target.path) {
                _ = try FileManager.default.replaceItemAt(target, withItemAt: temporary)
            } else {
                try FileManager.default.moveItem(at: temporary, to: target)
            }
            return DeliveryOutcome(kind: .sent, phase: .finalDot, reply: nil, detail: "written to \(target.path)")
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            return DeliveryOutcome(
                kind: .transient, phase: .data, reply: nil, detail: "could not write \(target.path): \(error)")
        }
    }

    /// Nothing to close.
    public func close() async {}
}

/// How long a message waits before its next attempt: capped exponential back-off with jitter, so a
/// relay that comes back is not hit by every message at once.
public struct MailRetryPolicy: Sendable, Hashable {
    /// The wait after the first failed attempt.
    public var initialDelay: Duration
    /// The longest wait.
    public var maximumDelay: Duration
    /// How long a message may keep failing transiently before it is dead-lettered.
    public var maximumAge: Duration
    /// The fraction of the delay that is random (0...1): 0.2 waits 80–100 % of it.
    public var jitter: Double

    /// Defaults for a relay that does its own long-haul retries: 30 s, doubling, at most 1 h, for 48 h.
    public init(
        initialDelay: Duration = .seconds(30), maximumDelay: Duration = .seconds(3600),
        maximumAge: Duration = .seconds(48 * 3600), jitter: Double = 0.2
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.maximumAge = maximumAge
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The wait after failed attempt number `attempt` (1-based); `random` is 0..<1.
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let uncapped = initialDelay.mailSeconds * pow(2, Double(exponent))
        let capped = min(uncapped, maximumDelay.mailSeconds)
        let seconds = capped * (1 - jitter * random)
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}
