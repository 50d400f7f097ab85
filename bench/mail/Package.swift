// swift-tools-version:6.1
// The mail benchmark: sends messages through InvoiceFlow's SMTP client to a local aiosmtpd sink
// over one reused TLS connection. A package of its own, depending on the root package by path,
// so the benchmark needs no target in the product's Package.swift. Run it with bench/mail/run.
import PackageDescription

let package = Package(
    name: "mailbench",
    dependencies: [
        .package(name: "invoiceflow", path: "../.."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "mailbench",
            dependencies: [
                .product(name: "SMTP", package: "invoiceflow"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ]
)
