import InvoiceDaemonTestSupport

/// The router's end-to-end tests use the shared test company.
typealias RouterTestCompany = TestCompany
