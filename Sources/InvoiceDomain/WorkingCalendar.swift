// Business time. SLAs count only working hours on working days (DESIGN.md invariant 9), so a
// request sent on Friday evening before the May holidays is not overdue on Saturday.

/// Working days, working hours and payment days of a company, in one fixed-offset zone.
///
/// Which dates are non-working is data (`holidays`, `transferredWorkingDays`), edited when the
/// government publishes the next year's transfer decree; nothing here hard-codes a year.
public struct WorkingCalendar: Hashable, Sendable, Codable {
    /// The zone whose wall clock defines days and hours (Moscow for the defaults).
    public var zone: FixedOffsetZone
    /// Regular days off (Saturday and Sunday).
    public var weekend: Set<Weekday>
    /// Non-working days that would otherwise be working: public holidays and days off moved by a decree.
    public var holidays: Set<CalendarDate>
    /// Weekend days declared working by a transfer decree (e.g. Saturday 1 November 2025).
    public var transferredWorkingDays: Set<CalendarDate>
    /// Start of the working day, minutes after local midnight (540 = 09:00).
    public var workdayStartMinute: Int
    /// End of the working day, minutes after local midnight (1080 = 18:00).
    public var workdayEndMinute: Int
    /// Weekdays on which the payment registry is run (Tuesday and Thursday by default).
    public var paymentDays: Set<Weekday>

    /// Creates a calendar.
    public init(
        zone: FixedOffsetZone, weekend: Set<Weekday> = [.saturday, .sunday], holidays: Set<CalendarDate>,
        transferredWorkingDays: Set<CalendarDate>, workdayStartMinute: Int = 9 * 60, workdayEndMinute: Int = 18 * 60,
        paymentDays: Set<Weekday> = [.tuesday, .thursday]
    ) {
        self.zone = zone
        self.weekend = weekend
        self.holidays = holidays
        self.transferredWorkingDays = transferredWorkingDays
        self.workdayStartMinute = workdayStartMinute
        self.workdayEndMinute = workdayEndMinute
        self.paymentDays = paymentDays
    }

    /// Why a calendar cannot be used; every business-time function relies on these being absent.
    public var problems: [String] {
        var found: [String] = []
        if !(0..<workdayEndMinute).contains(workdayStartMinute) || workdayEndMinute > 24 * 60 {
            found.append("working hours must satisfy 0 <= start < end <= 24:00")
        }
        if weekend.count == 7 { found.append("every weekday is a day off") }
        if paymentDays.isSubset(of: weekend) { found.append("no payment day falls on a working weekday") }
        if !holidays.isDisjoint(with: transferredWorkingDays) {
            found.append("a date is both a holiday and a transferred working day")
        }
        return found
    }

    /// Length of one full working day in microseconds (9 hours by default).
    public var workdayLength: Int64 { Int64(workdayEndMinute - workdayStartMinute) * Instant.minute }

    /// Whether people work on this date.
    public func isWorkingDay(_ date: CalendarDate) -> Bool {
        if transferredWorkingDays.contains(date) { return true }
        return !weekend.contains(date.weekday) && !holidays.contains(date)
    }

    /// The first working day on or after `date`.
    public func nextWorkingDay(onOrAfter date: CalendarDate) -> CalendarDate {
        var day = date
        // A valid calendar has at least one working weekday, so a week always contains one
        // unless holidays fill it; a year bounds even the longest holiday run.
        for _ in 0..<366 where !isWorkingDay(day) { day = day.adding(days: 1) }
        return day
    }

    /// The date `count` working days after `date` (`count` ≥ 0). With 0 it is `date` itself when
    /// that is a working day, else the next one: "due 5 business days after payment" on a Friday
    /// before a holiday week lands after the holidays.
    public func addingBusinessDays(_ count: Int, to date: CalendarDate) -> CalendarDate {
        var day = nextWorkingDay(onOrAfter: date)
        for _ in 0..<max(count, 0) { day = nextWorkingDay(onOrAfter: day.adding(days: 1)) }
        return day
    }

    /// The instant after `microseconds` of working time have elapsed from `start`. Time outside
    /// working hours does not count; a result that exactly ends a working day is that day's end.
    public func addingBusinessTime(_ microseconds: Int64, to start: Instant) -> Instant {
        guard microseconds > 0 else { return start }
        var remaining = microseconds
        let local = zone.localDateTime(of: start)
        var day = local.date
        var position = local.microsecondOfDay
        let open = Int64(workdayStartMinute) * Instant.minute
        let close = Int64(workdayEndMinute) * Instant.minute
        while true {
            if isWorkingDay(day) && position < close {
                let from = max(position, open)
                let available = close - from
                if remaining <= available {
                    return zone.instant(of: LocalDateTime(date: day, microsecondOfDay: from + remaining))
                }
                remaining -= available
            }
            day = day.adding(days: 1)
            position = 0
        }
    }

    /// Shorthand for `addingBusinessTime` with whole business hours.
    public func addingBusinessHours(_ hours: Int, to start: Instant) -> Instant {
        addingBusinessTime(Int64(hours) * Instant.hour, to: start)
    }

    /// Working time between two instants in microseconds (negative when `end` is before `start`).
    public func businessTime(from start: Instant, to end: Instant) -> Int64 {
        if end < start { return -businessTime(from: end, to: start) }
        let a = zone.localDateTime(of: start)
        let b = zone.localDateTime(of: end)
        let open = Int64(workdayStartMinute) * Instant.minute
        let close = Int64(workdayEndMinute) * Instant.minute
        var total: Int64 = 0
        var day = a.date
        while day <= b.date {
            if isWorkingDay(day) {
                let from = max(open, day == a.date ? a.microsecondOfDay : 0)
                let to = min(close, day == b.date ? b.microsecondOfDay : close)
                if to > from { total += to - from }
            }
            day = day.adding(days: 1)
        }
        return total
    }

    /// Whether the payment registry runs on this date: a payment weekday that is also a working day.
    public func isPaymentDay(_ date: CalendarDate) -> Bool {
        paymentDays.contains(date.weekday) && isWorkingDay(date)
    }

    /// The first payment day on or after `date`. A Tuesday holiday moves payment to Thursday, not
    /// to Wednesday: the registry only runs on payment days.
    public func nextPaymentDay(onOrAfter date: CalendarDate) -> CalendarDate {
        var day = date
        for _ in 0..<366 where !isPaymentDay(day) { day = day.adding(days: 1) }
        return day
    }
}
