// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "invoiceflow",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "invoiceflow", targets: ["invoiceflow"]),
        .library(name: "InvoiceDomain", targets: ["InvoiceDomain"]),
        .library(name: "PostgresClient", targets: ["PostgresClient"]),
        .library(name: "SMTP", targets: ["SMTP"]),
        .library(name: "InvoiceTestSupport", targets: ["InvoiceTestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", exact: "2.1.1"),
        // The daemon's HTTP side (InvoiceWeb only); no traits: swift-configuration is not needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
    ],
    targets: [
        // Pure domain core: values and functions, no I/O.
        .target(name: "InvoiceDomain"),

        // C libraries.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "COpenSSLShims", dependencies: ["COpenSSL"]),

        // I/O layers.
        .target(
            name: "PostgresClient",
            dependencies: [
                "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SMTP",
            dependencies: [
                "COpenSSL",
                "COpenSSLShims",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The product's SQL: embedded migrations and repositories.
        .executableTarget(name: "MigrationEmbedder"),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["MigrationEmbedder"]
        ),
        .target(
            name: "InvoiceStore",
            dependencies: ["PostgresClient", "InvoiceDomain"],
            plugins: ["EmbedMigrations"]
        ),

        // Services, configuration, start-up.
        .target(
            name: "InvoiceDaemon",
            dependencies: [
                "InvoiceDomain",
                "PostgresClient",
                "SMTP",
                "InvoiceStore",
                "COpenSSL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
                // DaemonMetrics: the API only (no NIO); the Prometheus backend is InvoiceWeb's.
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        // The daemon's HTTP server: action links, the invoice card, health and metrics.
        .target(
            name: "InvoiceWeb",
            dependencies: [
                "InvoiceDomain",
                "InvoiceDaemon",
                "InvoiceStore",
                "PostgresClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "invoiceflow",
            dependencies: [
                "InvoiceDaemon",
                "InvoiceStore",
                "InvoiceWeb",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .target(
            name: "InvoiceTestSupport",
            dependencies: [
                "PostgresClient",
                "InvoiceStore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The end-to-end tests' company (router, mailer, web): one fixture for both test targets.
        .target(
            name: "InvoiceDaemonTestSupport",
            dependencies: [
                "InvoiceDaemon",
                "InvoiceDomain",
                "InvoiceStore",
                "InvoiceTestSupport",
                "PostgresClient",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "InvoiceDomainTests", dependencies: ["InvoiceDomain"]),
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient", "InvoiceTestSupport"]),
        .testTarget(name: "SMTPTests", dependencies: ["SMTP", "InvoiceTestSupport"]),
        .testTarget(name: "InvoiceStoreTests", dependencies: ["InvoiceStore", "InvoiceTestSupport"]),
        .testTarget(
            name: "InvoiceDaemonTests",
            dependencies: ["InvoiceDaemon", "InvoiceDaemonTestSupport", "InvoiceTestSupport"]
        ),
        .testTarget(
            name: "InvoiceWebTests",
            dependencies: ["InvoiceWeb", "InvoiceDaemon", "InvoiceDaemonTestSupport", "InvoiceTestSupport"]
        ),
    ]
)
