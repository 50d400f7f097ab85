import Foundation
import Logging
import PostgresClient
import SMTP
import ServiceLifecycle

/// The mailer: drains the outbox into the relay (or the mail folder), at least once.
///
/// It wakes on NOTIFY `invoiceflow_mail`, on ``wake`` and on a timer (NOTIFY is only a hint), claims
/// due messages under a lease and commits before any network I/O, sends each with the transport (one
/// reused SMTP connection), and records every attempt with the relay's reply (the attempts of a batch in
/// one transaction once the batch is sent, or once the relay refuses our configuration). The outbox decides what
/// follows from the outcome: sent; transient or unknown after the final dot → retry after
/// ``MailRetryPolicy`` with the same bytes and Message-ID; permanent → dead-letter; configuration fault →
/// the whole queue pauses, keeping the messages, until an administrator resumes it. A crash while
/// sending leaves a lease that expires; the message is then sent again (a possible duplicate with the
/// same Message-ID, never a loss).
public struct MailerService: Service {
    /// How to connect; the login should be `invoiceflow_daemon`.
    public var configuration: PostgresConfiguration
    /// This mailer's name in the outbox (`locked_by`) and in logs.
    public var worker: String
    /// Where messages go.
    public var transport: any MailTransport
    /// Back-off and maximum age of transient failures.
    public var retry: MailRetryPolicy
    /// Signal this to make the mailer look at the outbox now (the router does after enqueueing).
    public let wake: RouterWake
    /// How often the mailer looks without a hint.
    public var sweepInterval: Duration
    /// Messages claimed per round.
    public var batchSize: Int
    /// How long a woken mailer waits before it claims, so that one claim takes the messages that arrive
    /// together (a routing backlog notifies once per message): mail is not a matter of milliseconds, and a
    /// claim and its record cost the same for one message as for a batch.
    public var gather: Duration
    /// How long a claim holds; longer than the SMTP final-dot timeout (10 min).
    public var lease: Duration
    /// Whether to LISTEN for `invoiceflow_mail` (tests that drive the mailer by hand turn it off).
    public var listens: Bool
    /// Counts each recorded attempt for `/metrics` (none when nil).
    public var metrics: DaemonMetrics?
    private let logger: Logger

    /// Creates a mailer.
    public init(
        configuration: PostgresConfiguration, worker: String, transport: any MailTransport, logger: Logger,
        retry: MailRetryPolicy = MailRetryPolicy(), wake: RouterWake = RouterWake(),
        sweepInterval: Duration = .seconds(5), batchSize: Int = 10, lease: Duration = .seconds(15 * 60),
        gather: Duration = .milliseconds(100), listens: Bool = true
    ) {
        self.configuration = configuration.setting("application_name", "invoiceflow-mailer")
        self.worker = worker
        self.transport = transport
        self.logger = logger
        self.retry = retry
        self.wake = wake
        self.sweepInterval = sweepInterval
        self.batchSize = batchSize
        self.lease = lease
        self.gather = gather
        self.listens = listens
    }

    /// Sends until graceful shutdown or cancellation. A message in flight then ends as transient (or
    /// unknown after the final dot) and is retried later, by this or another replica.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                if self.listens {
                    let listener = PostgresListener(
                        configuration: self.configuration, channels: [MailOutbox.channel], logger: self.logger)
                    group.addTask {
                        do {
                            try await listener.run()
                        } catch {
                            self.logger.warning("mail listener stopped", metadata: ["error": "\(error)"])
                        }
                    }
                    group.addTask {
                        for await _ in listener.events { self.wake.signal() }
                    }
                }
                group.addTask { await self.loop() }
                // The loop ends only on cancellation; take the listener down with it.
                await group.next()
                group.cancelAll()
            }
            await self.transport.close()
        }
    }

    private func loop() async {
        var paused = false
        let loop = QueueWorkerLoop(
            configuration: configuration, wake: wake, sweepInterval: sweepInterval, logger: logger)
        await loop.run(
            failure: "mailer round failed; reconnecting to the database", metadata: ["worker": "\(worker)"]
        ) { live in
            if gather > .zero {
                try? await Task.sleep(for: gather)
                if Task.isCancelled { return }
            }
            // Claim again only after a full batch: a short one emptied the queue of due messages, and what
            // is enqueued from here on signals the wake-up, which the next wait returns at once for.
            var round = try await drain(live, paused: &paused)
            while round >= batchSize && !Task.isCancelled { round = try await drain(live, paused: &paused) }
        }
    }

    /// Claims one batch and sends it; returns how many messages were claimed.
    func drain(_ connection: PostgresConnection, paused: inout Bool) async throws -> Int {
        let (worker, batchSize, lease) = (self.worker, self.batchSize, self.lease)
        let claimed = try await connection.transaction { connection in
            try MailOutbox.claim(worker: worker, limit: batchSize, lease: lease, on: connection)
        }
        if claimed.isEmpty {
            if !paused, try await connection.run({ try MailOutbox.pausedReason(on: $0) }) != nil {
                paused = true
            }
            return 0
        }
        if paused {
            logger.notice("mail queue resumed", metadata: ["worker": "\(worker)"])
            paused = false
        }
        var index = 0
        while index < claimed.count {
            // Send until the batch ends or the relay refuses our setup, then record that run of attempts in
            // one transaction: one commit for the run instead of one per message. A crash before it
            // commits leaves the run's leases to expire and its messages to be sent again, with the same
            // Message-IDs and bytes — the at-least-once the outbox promises, over a few messages, not one.
            var run: [(mail: MailOutbox.ClaimedMail, outcome: DeliveryOutcome)] = []
            var stopping = false
            while index < claimed.count {
                let mail = claimed[index]
                let outcome = await transport.send(mail.message)
                if Task.isCancelled && outcome.kind != .sent {
                    // Shutting down: the lease expires and the message is sent later; nothing to record.
                    stopping = true
                    break
                }
                index += 1
                run.append((mail, outcome))
                if outcome.kind == .configuration { break }
            }
            let states = try await record(run, on: connection)
            for ((mail, outcome), state) in zip(run, states) {
                log(outcome, of: mail, state: state.state, delay: state.delay)
                metrics?.mailRecorded(outcome, state: state.state)
            }
            if stopping { return claimed.count }
            if let last = run.last, states.last?.state == .paused {
                let outcome = last.outcome
                paused = true
                logger.error(
                    "mail queue paused: the relay refused our configuration; messages are kept until it is fixed and `invoiceflow mail resume` runs",
                    metadata: ["worker": "\(worker)", "smtp.outcome": "\(outcome)"])
                // Give the rest of the batch back unsent: the pause keeps them pending with their attempt
                // uncounted. (Here, not in record(): they were never attempted, so no metrics.)
                let untried = claimed[index...].map { rest in
                    (
                        mail: rest,
                        outcome: DeliveryOutcome(
                            kind: .configuration, phase: outcome.phase, reply: nil,
                            detail: "not attempted: the queue paused")
                    )
                }
                for ((mail, outcome), state) in zip(untried, try await record(untried, on: connection)) {
                    log(outcome, of: mail, state: state.state, delay: state.delay)
                }
                return claimed.count
            }
        }
        return claimed.count
    }

    /// Records a run of attempts, in order, in one transaction; returns each one's state and back-off.
    private func record(
        _ run: [(mail: MailOutbox.ClaimedMail, outcome: DeliveryOutcome)], on connection: PostgresConnection
    ) async throws -> [(state: MailOutbox.RecordedState, delay: Duration)] {
        guard !run.isEmpty else { return [] }
        let (worker, retry) = (self.worker, self.retry)
        return try await connection.transaction { connection in
            try run.map { mail, outcome in
                let delay = retry.delay(afterAttempt: mail.attempt)
                let state = try MailOutbox.record(
                    outcome, of: mail.id, worker: worker, retryAfter: delay, on: connection)
                return (state, delay)
            }
        }
    }

    private func log(
        _ outcome: DeliveryOutcome, of mail: MailOutbox.ClaimedMail, state: MailOutbox.RecordedState, delay: Duration
    ) {
        var metadata: Logger.Metadata = [
            "mail_id": "\(mail.id)", "smtp.message_id": "\(mail.message.messageID)", "attempt": "\(mail.attempt)",
            "smtp.outcome": "\(outcome.kind.rawValue)", "smtp.phase": "\(outcome.phase.rawValue)",
            "outbox.state": "\(state.rawValue)",
        ]
        if let reply = outcome.reply { metadata["smtp.reply"] = "\(reply)" }
        switch state {
        case .sent: logger.debug("mail sent", metadata: metadata)
        case .pending:
            metadata["retry_in"] = "\(delay)"
            logger.info("mail not delivered; will retry", metadata: metadata)
        case .dead: logger.warning("mail dead-lettered", metadata: metadata)
        case .leaseLost: logger.warning("mail lease expired while sending; another mailer owns it", metadata: metadata)
        case .paused: break
        }
    }
}

extension MailerService {
    /// The daemon's mailer: the configured relay or the mail folder, named after this host and
    /// process in the outbox's leases.
    ///
    /// It opens no LISTEN connection of its own: the daemon's ``WorkListenerService`` listens on the mail
    /// channel too and signals ``wake``.
    public init(_ settings: MailSettings, configuration: PostgresConfiguration, logger: Logger) throws {
        let transport = try settings.transport(logger: logger)
        if let relay = settings.relay {
            logger.info("mail goes to the relay", metadata: ["smtp.relay": "\(relay.relayDescription)"])
        } else {
            logger.notice(
                "no INVOICEFLOW_SMTP_URL: mail is written as .eml files",
                metadata: ["mail.directory": "\(settings.directory)"])
        }
        self.init(
            configuration: configuration, worker: "mailer-\(ProcessInfo.processInfo.hostName)-\(getpid())",
            transport: transport, logger: logger, listens: false)
    }
}
