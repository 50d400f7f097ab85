// The Russian production calendar (производственный календарь) for 2025–2027 as data.

extension WorkingCalendar {
    /// Moscow time, Monday to Friday 09:00–18:00, payment days Tuesday and Thursday, with the
    /// Russian public holidays (Labour Code art. 112) and the transfers of the government decrees:
    ///
    /// - 2025 (decree No. 1335 of 4 Oct 2024): 4 Jan → 2 May, 5 Jan → 31 Dec, Sat 1 Nov worked
    ///   for Mon 3 Nov; 23 Feb and 8 Mar fell on a weekend, so 24 Feb and 10 Mar were off.
    /// - 2026 (decree of 2025): 3 Jan → 9 Jan, 4 Jan → 31 Dec; 8 Mar → 9 Mar, 9 May → 11 May.
    /// - 2027: only the statutory holidays and the art. 112 moves (1 May → 3 May, 9 May → 10 May,
    ///   12 Jun → 14 Jun). The decree moving the days off of 2–3 January 2027 is not known here:
    ///   add its two dates to `holidays` when it is published.
    ///
    /// Shortened pre-holiday days (one hour less) are not modelled: SLAs are at most a few hours
    /// off on those days, never in the requester's disfavour by more than an hour.
    public static let russia = WorkingCalendar(
        zone: .moscow,
        holidays: Set(
            [
                // 2025
                "2025-01-01", "2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07", "2025-01-08",
                "2025-02-24", "2025-03-10", "2025-05-01", "2025-05-02", "2025-05-09", "2025-06-12",
                "2025-11-03", "2025-11-04", "2025-12-31",
                // 2026
                "2026-01-01", "2026-01-02", "2026-01-05", "2026-01-06", "2026-01-07", "2026-01-08",
                "2026-01-09", "2026-02-23", "2026-03-09", "2026-05-01", "2026-05-11", "2026-06-12",
                "2026-11-04", "2026-12-31",
                // 2027 (statutory and art. 112 only; see above)
                "2027-01-01", "2027-01-04", "2027-01-05", "2027-01-06", "2027-01-07", "2027-01-08",
                "2027-02-23", "2027-03-08", "2027-05-03", "2027-05-10", "2027-06-14", "2027-11-04",
            ].map { CalendarDate(iso: $0)! }),
        transferredWorkingDays: [CalendarDate(year: 2025, month: 11, day: 1)!]
    )
}
