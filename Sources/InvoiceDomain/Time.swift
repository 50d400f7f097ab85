// Time without Foundation: an instant is microseconds since the Unix epoch (what PostgreSQL's
// timestamptz stores), a calendar date is a proleptic Gregorian day, and a zone is a fixed offset
// (Moscow has been UTC+3 all year since 2014, so no tz database is needed for the defaults).

/// A moment in time: microseconds since 1970-01-01 00:00:00 UTC, as PostgreSQL `timestamptz` keeps it.
public struct Instant: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// Microseconds since the Unix epoch (negative before 1970).
    public var microsecondsSinceEpoch: Int64

    /// Creates an instant from microseconds since the Unix epoch.
    public init(microsecondsSinceEpoch: Int64) { self.microsecondsSinceEpoch = microsecondsSinceEpoch }

    /// One microsecond.
    public static let microsecond: Int64 = 1
    /// One second in microseconds.
    public static let second: Int64 = 1_000_000
    /// One minute in microseconds.
    public static let minute: Int64 = 60 * second
    /// One hour in microseconds.
    public static let hour: Int64 = 60 * minute
    /// One day in microseconds.
    public static let day: Int64 = 24 * hour

    /// The instant shifted by a number of microseconds.
    public func advanced(by microseconds: Int64) -> Instant {
        Instant(microsecondsSinceEpoch: microsecondsSinceEpoch + microseconds)
    }

    /// Microseconds from `self` to `other` (negative when `other` is earlier).
    public func microseconds(to other: Instant) -> Int64 { other.microsecondsSinceEpoch - microsecondsSinceEpoch }

    /// Earlier first.
    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.microsecondsSinceEpoch < rhs.microsecondsSinceEpoch
    }

    /// ISO 8601 in UTC, e.g. `2025-03-04T06:00:00.000000Z`.
    public var description: String { FixedOffsetZone.utc.localDateTime(of: self).description + "Z" }
}

/// A day of the week, numbered as ISO 8601 does (Monday 1 … Sunday 7).
public enum Weekday: Int, Hashable, Comparable, Sendable, Codable, CaseIterable {
    /// Понедельник.
    case monday = 1
    /// Вторник.
    case tuesday
    /// Среда.
    case wednesday
    /// Четверг.
    case thursday
    /// Пятница.
    case friday
    /// Суббота.
    case saturday
    /// Воскресенье.
    case sunday

    /// Monday first.
    public static func < (lhs: Weekday, rhs: Weekday) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A date on the proleptic Gregorian calendar, without a time or zone.
public struct CalendarDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The year, e.g. 2025.
    public let year: Int
    /// The month, 1…12.
    public let month: Int
    /// The day of the month, 1…31.
    public let day: Int

    /// Creates a date; `nil` when the day does not exist (2025-02-29, 2025-13-01).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= CalendarDate.daysIn(month: month, year: year) else {
            return nil
        }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Creates a date from the number of days since 1970-01-01 (negative before it).
    public init(daysSinceEpoch: Int64) {
        // Howard Hinnant's civil_from_days: exact for the whole Int64-day range we use.
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        year = Int(yoe + era * 400 + (m <= 2 ? 1 : 0))
        month = Int(m)
        day = Int(d)
    }

    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The day of the week.
    public var weekday: Weekday {
        // 1970-01-01 was a Thursday (ISO 4).
        let index = ((daysSinceEpoch % 7) + 7 + 3) % 7
        return Weekday(rawValue: Int(index) + 1)!
    }

    /// The date a number of calendar days later (earlier when negative).
    public func adding(days: Int) -> CalendarDate { CalendarDate(daysSinceEpoch: daysSinceEpoch + Int64(days)) }

    /// Earlier first.
    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// ISO 8601, e.g. `2025-01-08`.
    public var description: String {
        "\(CalendarDate.pad(year, 4))-\(CalendarDate.pad(month, 2))-\(CalendarDate.pad(day, 2))"
    }

    /// Parses `YYYY-MM-DD`; `nil` for anything else.
    public init?(iso text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        var text = String(value)
        while text.count < width { text = "0" + text }
        return text
    }
}

extension CalendarDate: Codable {
    /// Decodes `YYYY-MM-DD`.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = CalendarDate(iso: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a date like 2025-01-08: \(text)"))
        }
        self = date
    }

    /// Encodes `YYYY-MM-DD`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A wall-clock reading in some zone: a date and the microseconds since its midnight.
public struct LocalDateTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The local date.
    public var date: CalendarDate
    /// Microseconds since local midnight, 0 ..< 86 400 000 000.
    public var microsecondOfDay: Int64

    /// Creates a reading from a date and a time of day.
    public init(date: CalendarDate, hour: Int, minute: Int = 0, second: Int = 0) {
        self.date = date
        self.microsecondOfDay =
            Int64(hour) * Instant.hour + Int64(minute) * Instant.minute + Int64(second) * Instant.second
    }

    /// Creates a reading from a date and microseconds since midnight.
    public init(date: CalendarDate, microsecondOfDay: Int64) {
        self.date = date
        self.microsecondOfDay = microsecondOfDay
    }

    /// Earlier first.
    public static func < (lhs: LocalDateTime, rhs: LocalDateTime) -> Bool {
        (lhs.date, lhs.microsecondOfDay) < (rhs.date, rhs.microsecondOfDay)
    }

    /// `2025-03-04T09:00:00.000000`.
    public var description: String {
        let h = microsecondOfDay / Instant.hour
        let m = microsecondOfDay % Instant.hour / Instant.minute
        let s = microsecondOfDay % Instant.minute / Instant.second
        let us = microsecondOfDay % Instant.second
        return "\(date)T\(CalendarDate.pad(Int(h), 2)):\(CalendarDate.pad(Int(m), 2)):\(CalendarDate.pad(Int(s), 2))."
            + CalendarDate.pad(Int(us), 6)
    }
}

/// A time zone with one fixed offset from UTC all year.
public struct FixedOffsetZone: Hashable, Sendable, Codable {
    /// Seconds east of UTC (Moscow: +10 800).
    public var secondsEastOfUTC: Int

    /// Creates a zone from its offset in seconds east of UTC.
    public init(secondsEastOfUTC: Int) { self.secondsEastOfUTC = secondsEastOfUTC }

    /// UTC itself.
    public static let utc = FixedOffsetZone(secondsEastOfUTC: 0)
    /// Europe/Moscow, UTC+3 with no daylight saving since 26 October 2014.
    public static let moscow = FixedOffsetZone(secondsEastOfUTC: 3 * 3600)

    /// The wall-clock reading of an instant in this zone.
    public func localDateTime(of instant: Instant) -> LocalDateTime {
        let local = instant.microsecondsSinceEpoch + Int64(secondsEastOfUTC) * Instant.second
        var days = local / Instant.day
        var rest = local % Instant.day
        if rest < 0 {
            days -= 1
            rest += Instant.day
        }
        return LocalDateTime(date: CalendarDate(daysSinceEpoch: days), microsecondOfDay: rest)
    }

    /// The instant at which the wall clock of this zone shows `local`.
    public func instant(of local: LocalDateTime) -> Instant {
        Instant(
            microsecondsSinceEpoch: local.date.daysSinceEpoch * Instant.day + local.microsecondOfDay
                - Int64(secondsEastOfUTC) * Instant.second)
    }

    /// Shorthand: the instant of a date and wall-clock time in this zone.
    public func instant(_ date: CalendarDate, hour: Int, minute: Int = 0) -> Instant {
        instant(of: LocalDateTime(date: date, hour: hour, minute: minute))
    }
}
