import Testing
@testable import SMTP
