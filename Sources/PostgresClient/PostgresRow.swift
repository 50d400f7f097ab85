internal import CLibPQ

/// The rows and command status of one statement, copied out of libpq so no C memory outlives the call.
struct QueryResult {
    var rows: [PostgresRow]
    /// `PQcmdTuples`: rows inserted, updated, deleted, selected...; 0 when the command reports none.
    var affectedRows: Int

    init(_ result: OpaquePointer) {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var names: [String] = []
        var types: [PostgresDataType] = []
        names.reserveCapacity(columnCount)
        types.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            names.append(PQfname(result, Int32(column)).map { String(cString: $0) } ?? "?column?")
            types.append(PostgresDataType(rawValue: UInt32(PQftype(result, Int32(column)))))
        }
        var cells: [String?] = []
        cells.reserveCapacity(rowCount * columnCount)
        for row in 0..<rowCount {
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    cells.append(nil)
                } else {
                    let length = Int(PQgetlength(result, Int32(row), Int32(column)))
                    let value = PQgetvalue(result, Int32(row), Int32(column))!
                    cells.append(
                        value.withMemoryRebound(to: UInt8.self, capacity: length) {
                            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                        })
                }
            }
        }
        let set = PostgresRowSet(columns: names, types: types, cells: cells)
        self.rows = (0..<rowCount).map { PostgresRow(storage: set, row: $0) }
        self.affectedRows = PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? 0
    }
}

/// The immutable storage shared by the rows of one result.
final class PostgresRowSet: Sendable {
    let columns: [String]
    let types: [PostgresDataType]
    let cells: [String?]
    let columnIndex: [String: Int]

    init(columns: [String], types: [PostgresDataType], cells: [String?]) {
        self.columns = columns
        self.types = types
        self.cells = cells
        // The first column of a given name wins, as in SQL's own ambiguity rules for ORDER BY.
        var index: [String: Int] = [:]
        for (position, name) in columns.enumerated() where index[name] == nil { index[name] = position }
        self.columnIndex = index
    }
}

/// One row of a result. Values stay in PostgreSQL's text format until decoded, by column name or index.
///
/// ```swift
/// let total: Int = try row.decode("total")
/// let paidAt = try row.decode("paid_at", as: Date?.self)   // NULL becomes nil
/// ```
public struct PostgresRow: Sendable {
    let storage: PostgresRowSet
    let row: Int

    /// The column names, in result order.
    public var columns: [String] { storage.columns }

    /// The number of columns.
    public var count: Int { storage.columns.count }

    /// The column's PostgreSQL type OID.
    public func type(of index: Int) -> PostgresDataType { storage.types[index] }

    /// The raw text of a column, nil for NULL.
    public func text(_ index: Int) -> String? {
        storage.cells[row * storage.columns.count + index]
    }

    /// Decodes the named column. An `Optional` type decodes NULL as nil; any other type throws on NULL.
    /// - Throws: ``PostgresDecodingError`` naming the column, for a missing column, NULL, or bad text.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let index = storage.columnIndex[column] else {
            var error = PostgresDecodingError(
                reason: "no such column; the result has \(storage.columns.map { "\"\($0)\"" }.joined(separator: ", "))")
            error.column = column
            error.targetType = "\(T.self)"
            throw error
        }
        return try decode(index, as: type)
    }

    /// Decodes the leading columns in order, one type per column:
    /// `let (id, amount, paidAt) = try row.decode(UUID.self, Int.self, Date?.self)`.
    /// - Throws: ``PostgresDecodingError`` naming the first column that fails.
    public func decode<each T: PostgresDecodable>(_ types: repeat (each T).Type) throws -> (repeat each T) {
        var index = 0
        func next<Value: PostgresDecodable>(_ type: Value.Type) throws -> Value {
            defer { index += 1 }
            return try decode(index, as: type)
        }
        return (repeat try next(each types))
    }

    /// Decodes the column at a zero-based index.
    /// - Throws: ``PostgresDecodingError`` naming the column, for an index out of range, NULL, or bad text.
    public func decode<T: PostgresDecodable>(_ index: Int, as type: T.Type = T.self) throws -> T {
        guard storage.columns.indices.contains(index) else {
            var error = PostgresDecodingError(reason: "the result has only \(storage.columns.count) column(s)")
            error.column = "#\(index)"
            error.targetType = "\(T.self)"
            throw error
        }
        do {
            guard let text = text(index) else {
                guard let null = T.postgresNull else {
                    throw PostgresDecodingError(reason: "the value is NULL; decode as \(T.self)? to accept NULL")
                }
                return null
            }
            return try T(postgresText: text, type: storage.types[index])
        } catch var error as PostgresDecodingError {
            error.column = storage.columns[index]
            error.targetType = "\(T.self)"
            error.columnType = storage.types[index]
            throw error
        }
    }
}
