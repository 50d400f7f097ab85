import Testing

@testable import InvoiceDomain

/// A test date from its ISO text.
func day(_ iso: String) -> CalendarDate { CalendarDate(iso: iso)! }

/// A Moscow wall-clock instant.
func msk(_ iso: String, _ hour: Int, _ minute: Int = 0) -> Instant {
    FixedOffsetZone.moscow.instant(day(iso), hour: hour, minute: minute)
}

@Suite("Working calendar")
struct CalendarTests {
    let calendar = WorkingCalendar.russia

    @Test("the shipped calendar is consistent")
    func noProblems() {
        #expect(calendar.problems == [])
        var broken = calendar
        broken.weekend = Set(Weekday.allCases)
        broken.workdayStartMinute = 20 * 60
        broken.transferredWorkingDays.insert(day("2025-01-02"))
        #expect(broken.problems.count == 4)
    }

    @Test(
        "working and non-working days, including holidays and transfers",
        arguments: [
            ("2025-01-08", false), ("2025-01-09", true), ("2025-02-24", false), ("2025-03-10", false),
            ("2025-05-02", false), ("2025-05-08", true), ("2025-06-13", true), ("2025-11-01", true),
            ("2025-11-03", false), ("2025-12-31", false), ("2026-01-09", false), ("2026-01-12", true),
            ("2026-03-09", false), ("2026-05-11", false), ("2026-12-31", false), ("2027-05-03", false),
            ("2027-06-14", false), ("2025-03-08", false), ("2025-03-11", true),
        ])
    func workingDays(iso: String, working: Bool) {
        #expect(calendar.isWorkingDay(day(iso)) == working)
    }

    /// The official totals: 247 working days in 2025 and 2026; 2027 has 249 until its
    /// January transfer decree is added.
    @Test("working days per year match the production calendar", arguments: [(2025, 247), (2026, 247), (2027, 249)])
    func yearTotals(year: Int, expected: Int) {
        var date = CalendarDate(year: year, month: 1, day: 1)!
        var count = 0
        while date.year == year {
            if calendar.isWorkingDay(date) { count += 1 }
            date = date.adding(days: 1)
        }
        #expect(count == expected)
    }

    @Test(
        "adding business days skips weekends and holidays",
        arguments: [
            ("2025-04-30", 1, "2025-05-05"), ("2025-12-30", 1, "2026-01-12"), ("2025-03-08", 0, "2025-03-11"),
            ("2025-03-05", 0, "2025-03-05"), ("2025-10-31", 1, "2025-11-01"), ("2025-03-03", 5, "2025-03-11"),
        ])
    func businessDays(from: String, count: Int, expected: String) {
        #expect(calendar.addingBusinessDays(count, to: day(from)) == day(expected))
    }

    @Test(
        "adding business hours counts only working hours",
        arguments: [
            (msk("2025-03-07", 17), 9, msk("2025-03-11", 17)),  // Monday 10 March is a holiday
            (msk("2025-10-31", 17), 2, msk("2025-11-01", 10)),  // Saturday 1 November is worked
            (msk("2025-03-03", 7), 1, msk("2025-03-03", 10)),  // before opening counts from 09:00
            (msk("2025-03-03", 9), 9, msk("2025-03-03", 18)),  // ends exactly at closing
            (msk("2025-03-03", 19), 1, msk("2025-03-04", 10)),  // after closing counts from tomorrow
            (msk("2025-12-30", 12), 18, msk("2026-01-13", 12)),  // across the New Year holidays
        ])
    func businessHours(start: Instant, hours: Int, expected: Instant) {
        #expect(calendar.addingBusinessHours(hours, to: start) == expected)
    }

    @Test("business time between instants")
    func between() {
        #expect(calendar.businessTime(from: msk("2025-03-07", 17), to: msk("2025-03-11", 10)) == 2 * Instant.hour)
        #expect(calendar.businessTime(from: msk("2025-03-11", 10), to: msk("2025-03-07", 17)) == -2 * Instant.hour)
        #expect(
            calendar.businessTime(from: msk("2025-03-03", 10, 30), to: msk("2025-03-03", 11)) == 30 * Instant.minute)
        #expect(calendar.businessTime(from: msk("2025-03-08", 10), to: msk("2025-03-09", 12)) == 0)
    }

    @Test(
        "adding then measuring business time gives the same duration",
        arguments: [msk("2025-03-07", 17, 59), msk("2025-04-30", 8), msk("2025-12-31", 12), msk("2026-05-08", 13, 7)])
    func consistency(start: Instant) {
        for minutes in [1, 59, 540, 541, 2000, 10_000] {
            let duration = Int64(minutes) * Instant.minute
            let end = calendar.addingBusinessTime(duration, to: start)
            #expect(calendar.businessTime(from: start, to: end) == duration)
        }
    }

    @Test(
        "the next payment day is a working Tuesday or Thursday",
        arguments: [
            ("2025-03-04", "2025-03-04"), ("2025-03-05", "2025-03-06"), ("2025-03-07", "2025-03-11"),
            ("2025-11-04", "2025-11-06"), ("2025-12-31", "2026-01-13"), ("2026-01-01", "2026-01-13"),
        ])
    func paymentDays(from: String, expected: String) {
        #expect(calendar.nextPaymentDay(onOrAfter: day(from)) == day(expected))
    }
}
