import Testing
@testable import InvoiceStore
