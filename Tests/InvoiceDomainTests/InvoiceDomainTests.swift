import Testing
@testable import InvoiceDomain
