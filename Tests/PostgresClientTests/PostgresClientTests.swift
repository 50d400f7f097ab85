import Testing
@testable import PostgresClient
