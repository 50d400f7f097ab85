import InvoiceStore
import Logging
import PostgresClient
import ServiceLifecycle

/// Keeps the daemon's one LISTEN connection (the routing work channel and the mail channel by default)
/// and turns notifications and reconnects into wake-ups for the services that process queued work.
///
/// NOTIFY is only a hint: after every (re)connect the listener asks for a sweep of everything pending,
/// because notifications sent while it was disconnected are lost.
public struct WorkListenerService: Service {
    private let listener: PostgresListener
    private let logger: Logger
    private let onWake: @Sendable (WakeReason) async -> Void

    /// Why the work processors should look at the queue.
    public enum WakeReason: Sendable, Equatable {
        /// Something was queued and notified on `channel`.
        case notified(channel: String)
        /// The listener (re)connected: anything may be pending.
        case sweep
    }

    /// A listener on `channels` that calls `onWake` for each coalesced wake-up.
    public init(
        configuration: PostgresConfiguration, logger: Logger,
        channels: [String] = [InvoiceSchema.workChannel, MailOutbox.channel],
        onWake: @escaping @Sendable (WakeReason) async -> Void
    ) {
        self.listener = PostgresListener(
            configuration: configuration.setting("application_name", "invoiceflow-listener"),
            channels: channels, logger: logger,
            // The workers' back-off (0.2 s doubling to 2 s): after a failover the wake-ups and /healthz come
            // back with the workers, not up to 10 s later.
            reconnectBackoff: QueueWorkerLoop.reconnectBackoff)
        self.logger = logger
        self.onWake = onWake
    }

    /// Whether the LISTEN connection is up right now (for `/healthz`); false during an outage.
    public var isConnected: Bool { listener.isConnected }

    /// Runs until graceful shutdown or cancellation.
    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await listener.run() }
                group.addTask {
                    for await event in listener.events {
                        switch event {
                        case .notification(let channel, _):
                            await onWake(.notified(channel: channel))
                        case .sweep(let reason):
                            logger.info("listener connected; sweeping pending work", metadata: ["reason": "\(reason)"])
                            await onWake(.sweep)
                        }
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }
}
