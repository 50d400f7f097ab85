import Foundation
import Logging

/// Sends rendered messages to one relay over a reused connection.
///
/// All network I/O runs on a thread owned by the client, one message at a time; callers on
/// Swift's concurrency pool only await the result. The connection is reused with RSET after a
/// failed transaction and a NOOP probe after idling, and replaced after
/// `maximumMessagesPerConnection` messages or `maximumIdleTime`. `send` never throws: every
/// result, including a relay that is down, is a classified `DeliveryOutcome`. Concurrent sends
/// queue up and take turns on the one connection; parallel connections need several clients.
public final class SMTPClient: Sendable {
    private let configuration: SMTPConfiguration
    private let tlsContext: TLSContext?
    private let logger: Logger
    private let thread: IOThread
    private let slot = ConnectionSlot()

    /// Prepares a client; loads the CA file or the system store now, so a bad path fails here.
    public init(configuration: SMTPConfiguration, logger: Logger) throws(SMTPConfigurationError) {
        self.configuration = configuration
        self.logger = logger
        tlsContext = configuration.security == .plaintext ? nil : try TLSContext(caFile: configuration.caFile)
        thread = IOThread(name: "smtp \(configuration.relayDescription)")
    }

    deinit {
        let slot = slot
        thread.submit { slot.close() }
        thread.stop()
    }

    /// Delivers one message and reports what happened. Cancelling the task interrupts the wait
    /// within a fraction of a second; the outcome is then transient, or unknown after the final dot.
    public func send(_ message: RenderedMessage) async -> DeliveryOutcome {
        let cancellation = CancellationFlag()
        var logger = self.logger
        logger[metadataKey: "smtp.message_id"] = "\(message.messageID)"
        let (configuration, tlsContext, slot, jobLogger) = (configuration, tlsContext, slot, logger)
        let outcome = await withTaskCancellationHandler {
            await thread.run {
                slot.deliver(
                    message, configuration: configuration, tlsContext: tlsContext, logger: jobLogger,
                    cancellation: cancellation)
            }
        } onCancel: {
            cancellation.cancel()
        }
        logger.debug(
            "SMTP attempt finished",
            metadata: [
                "smtp.outcome": "\(outcome.kind.rawValue)", "smtp.phase": "\(outcome.phase.rawValue)",
                "smtp.reply": "\(outcome.reply.map(\.description) ?? "none")",
            ])
        return outcome
    }

    /// Ends the current connection with QUIT, if there is one. The client stays usable.
    public func close() async {
        let slot = slot
        await thread.run { slot.close() }
    }

    /// Renders `message`, sends it over a fresh connection and closes it: the one-call API for
    /// `invoiceflow mail test` and other one-off sends.
    public static func send(
        _ message: MailMessage, configuration: SMTPConfiguration, logger: Logger
    ) async -> DeliveryOutcome {
        let rendered: RenderedMessage
        do {
            rendered = try message.render()
        } catch {
            return DeliveryOutcome(kind: .permanent, phase: .message, reply: nil, detail: "\(error)")
        }
        let client: SMTPClient
        do {
            client = try SMTPClient(configuration: configuration, logger: logger)
        } catch {
            return DeliveryOutcome(kind: .configuration, phase: .tls, reply: nil, detail: error.description)
        }
        let outcome = await client.send(rendered)
        await client.close()
        return outcome
    }

    /// Sends a short Russian and English test message (Cyrillic subject, text and HTML) from the
    /// configured sender to `recipient`.
    public static func sendTestMessage(
        to recipient: Mailbox, configuration: SMTPConfiguration, logger: Logger, date: Date = Date()
    ) async -> DeliveryOutcome {
        let domain = configuration.sender.address.domain
        let message: MailMessage
        do {
            message = MailMessage(
                from: configuration.sender, to: [recipient],
                subject: "Проверка почты InvoiceFlow — test message",
                textBody: "Это проверочное письмо InvoiceFlow.\nThis is an InvoiceFlow test message.\n",
                htmlBody:
                    "<p>Это проверочное письмо <b>InvoiceFlow</b>.</p><p>This is an InvoiceFlow test message.</p>",
                messageID: try MessageID.random(domain: domain), date: date)
        } catch {
            return DeliveryOutcome(kind: .configuration, phase: .message, reply: nil, detail: "\(error)")
        }
        return await send(message, configuration: configuration, logger: logger)
    }
}

/// The client's current connection.
///
/// `@unchecked Sendable` is safe: `session` is only read and written by jobs on the client's
/// `IOThread`, which runs them one at a time.
final class ConnectionSlot: @unchecked Sendable {
    private var session: SMTPSession?

    func close() {
        session?.quit()
        session = nil
    }

    func deliver(
        _ message: RenderedMessage, configuration: SMTPConfiguration, tlsContext: TLSContext?, logger: Logger,
        cancellation: CancellationFlag
    ) -> DeliveryOutcome {
        if cancellation.isCancelled {
            return DeliveryOutcome(kind: .transient, phase: .connect, reply: nil, detail: "cancelled before sending")
        }
        let reused = prepareReusedSession(configuration: configuration, logger: logger, cancellation: cancellation)
        do {
            return try attempt(message, configuration, tlsContext, logger, cancellation)
        } catch let failure where reused && failure.isStaleConnection {
            // A reused connection the server had silently dropped: nothing of this message
            // reached DATA, so one fresh connection is safe. Never after DATA (nodemailer#511).
            logger.debug("SMTP reused connection was stale; reconnecting", metadata: ["smtp.phase": "\(failure.phase)"])
            session = nil
            do {
                return try attempt(message, configuration, tlsContext, logger, cancellation)
            } catch {
                return failed(error)
            }
        } catch {
            return failed(error)
        }
    }

    private func failed(_ failure: DeliveryFailure) -> DeliveryOutcome {
        if session?.isBroken == true { session = nil }
        return failure.outcome
    }

    private func attempt(
        _ message: RenderedMessage, _ configuration: SMTPConfiguration, _ tlsContext: TLSContext?, _ logger: Logger,
        _ cancellation: CancellationFlag
    ) throws(DeliveryFailure) -> DeliveryOutcome {
        let current: SMTPSession
        if let session {
            session.cancellation = cancellation
            current = session
        } else {
            current = try SMTPSession(
                configuration: configuration, tlsContext: tlsContext, logger: logger, cancellation: cancellation)
            session = current
        }
        let reply = try current.send(message)
        return DeliveryOutcome(kind: .sent, phase: .finalDot, reply: reply, detail: "accepted by the relay")
    }

    /// Keeps the current session only if it is healthy, young enough and answers when probed;
    /// returns whether one was kept.
    private func prepareReusedSession(
        configuration: SMTPConfiguration, logger: Logger, cancellation: CancellationFlag
    ) -> Bool {
        guard let current = session else { return false }
        current.cancellation = cancellation
        let idle = current.lastUsed.duration(to: .now)
        if current.isBroken || current.messagesSent >= configuration.maximumMessagesPerConnection
            || idle >= configuration.maximumIdleTime
        {
            close()
            return false
        }
        do {
            if current.needsReset {
                try current.reset()
            } else if idle >= configuration.probeAfterIdle {
                try current.probe()
            }
            return true
        } catch {
            logger.debug("SMTP idle connection did not answer; reconnecting")
            close()
            return false
        }
    }
}

extension DeliveryFailure {
    /// The failure happened before DATA was accepted and came from the connection, not from a
    /// considered reply (421 "closing" counts as the connection).
    var isStaleConnection: Bool {
        let beforeData: Set<SMTPPhase> = [.reuse, .mailFrom, .recipient]
        return kind == .transient && beforeData.contains(phase) && (reply == nil || reply?.code == 421)
    }
}
