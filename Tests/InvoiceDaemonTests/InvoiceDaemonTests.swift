import Testing
@testable import InvoiceDaemon
