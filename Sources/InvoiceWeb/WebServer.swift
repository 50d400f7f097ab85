import Hummingbird
import InvoiceDaemon
import Logging
import PostgresClient
import ServiceLifecycle
import Synchronization

/// The daemon's HTTP server: one Hummingbird application on ``HTTPSettings/address`` serving every
/// ``WebRoutes`` group. It runs as one more service in the daemon's service group, so SIGTERM stops it
/// with the rest (in-flight requests finish first).
public struct WebServer: Service {
    private let address: HTTPListenAddress
    private let routes: [any WebRoutes]
    private let logger: Logger
    private let onListening: @Sendable (Int) async -> Void
    private let pools: [PostgresPool]
    /// Whether failing to listen stops the daemon; false for the default address, see ``run()``.
    private let required: Bool

    /// A server on `address` for `routes`.
    ///
    /// - Parameters:
    ///   - onListening: called once with the bound port (useful with port 0 in tests).
    ///   - pools: connection pools of the routes, closed when the server stops.
    ///   - required: whether failing to listen (the port taken) is an error; when false the server logs it
    ///     and stays idle until shutdown, so the daemon keeps routing and mailing.
    public init(
        address: HTTPListenAddress, routes: [any WebRoutes], logger: Logger, pools: [PostgresPool] = [],
        required: Bool = true, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.required = required
        self.address = address
        self.routes = routes
        self.logger = logger
        self.pools = pools
        self.onListening = onListening
    }

    /// A server on `address` for every page family of `site`; closes the site's pool when it stops.
    public init(
        address: HTTPListenAddress, site: WebSite, required: Bool = true,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.init(
            address: address, routes: site.routes, logger: site.logger, pools: [site.pool], required: required,
            onListening: onListening)
    }

    /// The router with every group registered, for tests that want Hummingbird's own client.
    public func router() -> Router<WebContext> {
        // HEAD answers like GET without the body: link checkers and mail scanners use it.
        let router = Router(context: WebContext.self, options: .autoGenerateHeadEndpoints)
        for group in routes { group.register(on: router) }
        return router
    }

    /// Serves until graceful shutdown or cancellation.
    ///
    /// When the server cannot listen and is not ``required`` (the default address, already taken by another
    /// daemon on this host), it says so and waits for shutdown: the pages are one part of the daemon, and a
    /// second replica started with defaults must still route and mail.
    public func run() async throws {
        let logger = self.logger
        let listening = Atomic(false)
        let onListening: @Sendable (Int) async -> Void = { [onListening] port in
            listening.store(true, ordering: .relaxed)
            await onListening(port)
        }
        let application = Application(
            router: router(),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("HTTP server listening", metadata: ["host": "\(address.host)", "port": "\(port)"])
                await onListening(port)
            },
            logger: logger)
        do {
            try await application.run()
        } catch  where !required && !listening.load(ordering: .relaxed) && !Task.isCancelled {
            logger.error(
                "HTTP server cannot listen; the daemon goes on without it (set INVOICEFLOW_HTTP_ADDRESS to choose)",
                metadata: ["address": "\(address)", "error": "\(error)"])
            try? await gracefulShutdown()
        } catch {
            for pool in pools { await pool.close() }
            throw error
        }
        for pool in pools { await pool.close() }
    }
}

extension WebServer {
    /// The daemon's web services for `context`: the server with every page family, or nothing when
    /// `INVOICEFLOW_HTTP_ADDRESS=off`. The executable passes this to `Daemon.serve(_:logger:services:)`.
    public static func services(_ context: Daemon.Context) throws -> [any Service] {
        guard let address = context.settings.http.address else {
            context.logger.notice("HTTP server disabled (INVOICEFLOW_HTTP_ADDRESS=off)")
            return []
        }
        let site = try WebSite(context)
        return [WebServer(address: address, site: site, required: context.settings.http.addressConfigured)]
    }
}
