import Foundation

/// A calendar date without a time or time zone: PostgreSQL's `date` (due dates, document dates).
public struct PostgresDate: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The proleptic Gregorian year (1 BC is year 0, as in ISO 8601).
    public let year: Int
    /// 1...12
    public let month: Int
    /// 1...31, valid for the month.
    public let day: Int

    /// A date from its parts; nil if there is no such day (February 30th).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= CivilCalendar.daysIn(month: month, year: year) else {
            return nil
        }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count >= 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// The day a number of days after 1970-01-01.
    public init(daysSince1970 days: Int) {
        (year, month, day) = CivilCalendar.civil(fromDays: days)
    }

    /// The UTC calendar day of an instant.
    public init(_ date: Date) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        self.init(daysSince1970: seconds.floorDivided(by: 86_400))
    }

    /// Days since 1970-01-01 (negative before).
    public var daysSince1970: Int { CivilCalendar.days(year: year, month: month, day: day) }

    /// The date `days` later (or earlier, if negative).
    public func adding(days: Int) -> PostgresDate { PostgresDate(daysSince1970: daysSince1970 + days) }

    /// `YYYY-MM-DD`.
    public var description: String {
        "\(CivilCalendar.pad(year, 4))-\(CivilCalendar.pad(month, 2))-\(CivilCalendar.pad(day, 2))"
    }

    /// Chronological order.
    public static func < (lhs: PostgresDate, rhs: PostgresDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// Decodes `YYYY-MM-DD`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = PostgresDate(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a YYYY-MM-DD date")
        }
        self = date
    }

    /// Encodes `YYYY-MM-DD`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension PostgresDate: PostgresArrayElement {
    /// date
    public static var postgresType: PostgresDataType { .date }
    /// date[]
    public static var postgresArrayType: PostgresDataType { .dateArray }
    /// `YYYY-MM-DD`, with ` BC` for years before 1.
    public var postgresText: String? {
        guard year <= 0 else { return description }
        return "\(CivilCalendar.pad(1 - year, 4))-\(CivilCalendar.pad(month, 2))-\(CivilCalendar.pad(day, 2)) BC"
    }
    /// Parses ISO output (`DateStyle = ISO`, set on every connection); the date part of a timestamp is
    /// accepted too.
    public init(postgresText text: String, type: PostgresDataType) throws {
        guard let parsed = try? TimestampText.parse(text) else {
            throw PostgresDecodingError(reason: "not an ISO date")
        }
        self.init(daysSince1970: parsed.days)
    }
}

extension Date: PostgresArrayElement {
    /// timestamptz
    public static var postgresType: PostgresDataType { .timestamptz }
    /// timestamptz[]
    public static var postgresArrayType: PostgresDataType { .timestamptzArray }
    /// UTC with microseconds, `2026-11-29 03:52:14.123456+00`: PostgreSQL's own precision, so a
    /// round trip changes nothing beyond the microsecond.
    public var postgresText: String? {
        let micros = Int64((timeIntervalSince1970 * 1_000_000).rounded())
        let seconds = Int(micros.floorDivided(by: 1_000_000))
        let fraction = Int(micros - Int64(seconds) * 1_000_000)
        let date = PostgresDate(daysSince1970: seconds.floorDivided(by: 86_400))
        let secondOfDay = seconds - seconds.floorDivided(by: 86_400) * 86_400
        let time =
            "\(CivilCalendar.pad(secondOfDay / 3600, 2)):\(CivilCalendar.pad(secondOfDay / 60 % 60, 2)):"
            + "\(CivilCalendar.pad(secondOfDay % 60, 2)).\(CivilCalendar.pad(fraction, 6))+00"
        guard date.year <= 0 else { return "\(date) \(time)" }
        return
            "\(CivilCalendar.pad(1 - date.year, 4))-\(CivilCalendar.pad(date.month, 2))-\(CivilCalendar.pad(date.day, 2)) \(time) BC"
    }
    /// Parses timestamptz (any offset), timestamp (taken as UTC) and date (midnight UTC) output;
    /// `infinity` and `-infinity` become `distantFuture` and `distantPast`.
    public init(postgresText text: String, type: PostgresDataType) throws {
        switch text {
        case "infinity": self = .distantFuture
        case "-infinity": self = .distantPast
        default:
            let parsed = try TimestampText.parse(text)
            let seconds = Double(parsed.days * 86_400 + parsed.secondsOfDay - parsed.offsetSeconds)
            self = Date(timeIntervalSince1970: seconds + Double(parsed.microseconds) / 1_000_000)
        }
    }
}

/// Parser for PostgreSQL's ISO timestamp output: `YYYY-MM-DD[ HH:MM:SS[.ffffff][±HH[:MM[:SS]]]][ BC]`.
enum TimestampText {
    struct Parsed {
        var days: Int
        var secondsOfDay: Int
        var microseconds: Int
        var offsetSeconds: Int
    }

    static func parse(_ text: String) throws -> Parsed {
        var bytes = Substring(text).utf8[...]
        var isBC = false
        if bytes.count > 3, bytes.suffix(3).elementsEqual(" BC".utf8) {
            isBC = true
            bytes = bytes.dropLast(3)
        }
        func number(_ minimumDigits: Int, maximumDigits: Int = 10) throws -> Int {
            var value = 0
            var digits = 0
            while let byte = bytes.first, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < maximumDigits {
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
                bytes = bytes.dropFirst()
            }
            guard digits >= minimumDigits else { throw PostgresDecodingError(reason: "not an ISO timestamp") }
            return value
        }
        func expect(_ character: Character) throws {
            guard bytes.first == character.asciiValue else {
                throw PostgresDecodingError(reason: "not an ISO timestamp")
            }
            bytes = bytes.dropFirst()
        }
        var year = try number(4)
        try expect("-")
        let month = try number(2, maximumDigits: 2)
        try expect("-")
        let day = try number(2, maximumDigits: 2)
        if isBC { year = 1 - year }
        guard let date = PostgresDate(year: year, month: month, day: day) else {
            throw PostgresDecodingError(reason: "not a valid calendar date")
        }
        var parsed = Parsed(days: date.daysSince1970, secondsOfDay: 0, microseconds: 0, offsetSeconds: 0)
        guard !bytes.isEmpty else { return parsed }
        try expect(" ")
        let hour = try number(2, maximumDigits: 2)
        try expect(":")
        let minute = try number(2, maximumDigits: 2)
        try expect(":")
        let second = try number(2, maximumDigits: 2)
        parsed.secondsOfDay = hour * 3600 + minute * 60 + second
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            let before = bytes.count
            var fraction = try number(1, maximumDigits: 6)
            for _ in 0..<(6 - (before - bytes.count)) { fraction *= 10 }
            parsed.microseconds = fraction
        }
        if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            bytes = bytes.dropFirst()
            var offset = try number(2, maximumDigits: 2) * 3600
            if bytes.first == UInt8(ascii: ":") {
                bytes = bytes.dropFirst()
                offset += try number(2, maximumDigits: 2) * 60
                if bytes.first == UInt8(ascii: ":") {
                    bytes = bytes.dropFirst()
                    offset += try number(2, maximumDigits: 2)
                }
            }
            parsed.offsetSeconds = sign == UInt8(ascii: "+") ? offset : -offset
        }
        guard bytes.isEmpty else { throw PostgresDecodingError(reason: "not an ISO timestamp") }
        return parsed
    }
}

/// Gregorian calendar arithmetic on day numbers (Howard Hinnant's algorithms), independent of
/// Foundation's calendars and locales.
enum CivilCalendar {
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDivided(by: 400)
        let yearOfEra = y - era * 400
        let monthIndex = (month + 9) % 12
        let dayOfYear = (153 * monthIndex + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

extension BinaryInteger {
    /// Division rounding towards minus infinity, for calendar arithmetic before 1970.
    func floorDivided(by divisor: Self) -> Self {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
