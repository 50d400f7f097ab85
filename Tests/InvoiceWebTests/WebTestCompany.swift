import InvoiceDaemonTestSupport

/// The web tests use the shared test company (the router's, in InvoiceDaemonTestSupport).
typealias WebTestCompany = TestCompany
