import Hummingbird

/// The request context of every InvoiceWeb route. One type for the whole server, so the action-link
/// pages and the health/metrics endpoints share one router and one middleware chain.
public struct WebContext: RequestContext {
    /// Hummingbird's per-request storage (logger, allocator, parameters).
    public var coreContext: CoreRequestContextStorage

    /// Creates the context of one request.
    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }
}

/// A group of routes that the web server registers at start; each page family is one.
public protocol WebRoutes: Sendable {
    /// Adds this group's routes (and route-specific middleware) to `router`.
    func register(on router: Router<WebContext>)
}
