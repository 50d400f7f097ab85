import Testing

@testable import InvoiceDomain

@Suite("Money")
struct MoneyTests {
    @Test(
        "Russian formatting groups thousands and uses a decimal comma",
        arguments: [
            (Money.rub(1_234_567, kopecks: 89), "1 234 567,89 ₽"),
            (Money.rub(0), "0,00 ₽"),
            (Money.rub(999, kopecks: 5), "999,05 ₽"),
            (Money.rub(1000), "1 000,00 ₽"),
            (Money(minorUnits: -150, currency: .rub), "-1,50 ₽"),
            (Money(minorUnits: 1_000_000, currency: CurrencyCode("JPY")!), "1 000 000 JPY"),
            (Money(minorUnits: 12_345, currency: CurrencyCode("KWD")!), "12,345 KWD"),
            (Money(minorUnits: .min, currency: .rub), "-92 233 720 368 547 758,08 ₽"),
        ])
    func russianText(money: Money, expected: String) {
        #expect(money.russianText == expected.replacingSpaces())
    }

    @Test(
        "plain text round-trips exactly",
        arguments: ["300000.00 RUB", "0.01 RUB", "-5.10 USD", "100 JPY", "1.234 BHD", "92233720368547758.07 RUB"])
    func plainTextRoundTrip(text: String) throws {
        #expect(try Money(plainText: text).plainText == text)
    }

    @Test(
        "malformed plain text is refused",
        arguments: [
            "300000 RUB", "1.5 RUB", "1.500 RUB", "1,50 RUB", "1.50 rub", "1.50", ".50 RUB", "1 JPY ", "1.0 JPY",
            "١.٠٠ RUB",
        ])
    func malformedPlainText(text: String) {
        #expect(throws: MoneyError.self) { try Money(plainText: text) }
    }

    @Test("text beyond Int64 is refused as overflow")
    func parseOverflow() {
        #expect(throws: MoneyError.overflow) { try Money(plainText: "92233720368547758.08 RUB") }
    }

    @Test("arithmetic is exact and refuses overflow and mixed currencies")
    func arithmetic() throws {
        #expect(try Money.rub(0, kopecks: 10).adding(.rub(0, kopecks: 20)) == .rub(0, kopecks: 30))
        #expect(try Money.rub(5).subtracting(.rub(7)) == Money(minorUnits: -200, currency: .rub))
        #expect(try Money.rub(3, kopecks: 33).multiplied(by: 3) == .rub(9, kopecks: 99))
        #expect(throws: MoneyError.overflow) { try Money(minorUnits: .max, currency: .rub).adding(.rub(0, kopecks: 1)) }
        #expect(throws: MoneyError.overflow) {
            try Money(minorUnits: .min, currency: .rub).subtracting(.rub(0, kopecks: 1))
        }
        #expect(throws: MoneyError.overflow) { try Money(minorUnits: .max / 2 + 1, currency: .rub).multiplied(by: 2) }
        #expect(throws: MoneyError.currencyMismatch(.rub, .usd)) { try Money.rub(1).adding(.zero(.usd)) }
        #expect(throws: MoneyError.currencyMismatch(.rub, .eur)) { try Money.rub(1).compare(to: .zero(.eur)) }
        #expect(try Money.rub(1).compare(to: .rub(0, kopecks: 99)) == 1)
    }

    @Test("currency codes are three capital Latin letters", arguments: ["RUB", "usd", "RU", "RUBL", "RÜB", ""])
    func currencyCodes(text: String) {
        #expect((CurrencyCode(text) != nil) == (text == "RUB"))
    }
}

@Suite("Time")
struct TimeTests {
    @Test(
        "dates convert to and from days since the epoch",
        arguments: [
            ("1970-01-01", 0, Weekday.thursday), ("2000-02-29", 11_016, .tuesday), ("2025-01-01", 20_089, .wednesday),
            ("2026-11-29", 20_786, .sunday), ("1969-12-31", -1, .wednesday), ("2100-03-01", 47_541, .monday),
        ])
    func epochDays(iso: String, days: Int64, weekday: Weekday) throws {
        let date = try #require(CalendarDate(iso: iso))
        #expect(date.daysSinceEpoch == days)
        #expect(CalendarDate(daysSinceEpoch: days) == date)
        #expect(date.weekday == weekday)
        #expect(date.description == iso)
    }

    @Test(
        "impossible dates are refused",
        arguments: ["2025-02-29", "2100-02-29", "2025-13-01", "2025-04-31", "25-01-01", "2025-1-01"])
    func impossibleDates(iso: String) {
        #expect(CalendarDate(iso: iso) == nil)
    }

    @Test("Moscow wall clock is UTC+3 on both sides of midnight")
    func moscowOffset() throws {
        let date = try #require(CalendarDate(iso: "2025-03-04"))
        let nineAM = FixedOffsetZone.moscow.instant(date, hour: 9)
        #expect(nineAM.description == "2025-03-04T06:00:00.000000Z")
        let lateUTC = FixedOffsetZone.utc.instant(date, hour: 22)
        #expect(FixedOffsetZone.moscow.localDateTime(of: lateUTC) == LocalDateTime(date: date.adding(days: 1), hour: 1))
        let beforeEpoch = Instant(microsecondsSinceEpoch: -1)
        #expect(FixedOffsetZone.utc.localDateTime(of: beforeEpoch).description == "1969-12-31T23:59:59.999999")
    }
}

@Suite("Invoice stages")
struct StageTests {
    static let legal: [(InvoiceStage, StageEvent, InvoiceStage)] = [
        (.draft, .submit, .approval), (.draft, .resubmit, .approval), (.draft, .withdraw, .withdrawn),
        (.approval, .approvalCompleted, .payment), (.approval, .reject, .rejected), (.approval, .withdraw, .withdrawn),
        (.approval, .returnForRework, .draft), (.rejected, .returnForRework, .draft),
        (.rejected, .withdraw, .withdrawn),
        (.payment, .paid, .closingDocuments),
        (.closingDocuments, .closingDocumentsCollected, .closed),
    ]

    @Test("exactly the documented transitions are legal", arguments: InvoiceStage.allCases)
    func transitions(from stage: InvoiceStage) {
        for event in StageEvent.allCases {
            let expected = Self.legal.first { $0.0 == stage && $0.1 == event }?.2
            #expect(stage.after(event) == expected, "\(stage) on \(event)")
        }
    }

    @Test("the transition table lists every legal transition once")
    func table() {
        #expect(InvoiceStage.legalTransitions.count == Self.legal.count)
    }

    @Test(
        "final stages accept nothing and only draft or rejected invoices are editable", arguments: InvoiceStage.allCases
    )
    func finality(stage: InvoiceStage) {
        #expect(stage.isFinal == StageEvent.allCases.allSatisfy { stage.after($0) == nil })
        #expect(stage.isEditable == (stage == .draft))
    }
}

@Suite("Requisites")
struct RequisitesTests {
    @Test(
        "ИНН check digits",
        arguments: [
            ("7725088527", true), ("7715034360", true), ("1234567894", true), ("773370857141", true),
            ("344809916052", true), ("123456789047", true), ("7725088528", false), ("773370857142", false),
            ("773370857131", false), ("0000000000", false), ("000000000000", false), ("772508852", false),
            ("77250885270", false), ("7725O88527", false), (" 7725088527", false), ("", false),
            ("７７２５０８８５２７", false),
        ])
    func inn(value: String, valid: Bool) {
        #expect(Requisites.isValidINN(value) == valid)
    }

    @Test(
        "КПП shape",
        arguments: [
            ("773601001", true), ("7736AB001", true), ("77360100", false), ("7736ab001", false), ("77A601001", false),
            ("773601A01", false), ("000000000", false), ("7736010011", false), ("7736АБ001", false),
        ])
    func kpp(value: String, valid: Bool) {
        #expect(Requisites.isValidKPP(value) == valid)
    }

    @Test(
        "БИК shape",
        arguments: [
            ("044525225", true), ("144525225", true), ("244525225", true), ("344525225", false),
            ("04452522", false), ("04452522A", false),
        ])
    func bik(value: String, valid: Bool) {
        #expect(Requisites.isValidBIK(value) == valid)
    }

    @Test(
        "settlement account key against the БИК",
        arguments: [
            ("40702810900000002851", "044030827", true), ("40701810000001002118", "044106001", true),
            ("40702810000000002851", "044030827", false), ("40702810900000002851", "044030828", false),
            ("4070281090000000285", "044030827", false), ("40702810900000002851", "344030827", false),
            ("4070281090000000285X", "044030827", false),
        ])
    func settlement(account: String, bik: String, valid: Bool) {
        #expect(Requisites.isValidSettlementAccount(account, bik: bik) == valid)
    }

    @Test(
        "correspondent account key against the БИК",
        arguments: [
            ("30101810200000000827", "044030827", true), ("30101810400000000225", "044525225", true),
            ("30101810400000000226", "044525225", false), ("30201810400000000225", "044525225", false),
            ("30101810400000000225", "044030827", false),
        ])
    func correspondent(account: String, bik: String, valid: Bool) {
        #expect(Requisites.isValidCorrespondentAccount(account, bik: bik) == valid)
    }
}

extension String {
    /// Test tables write ordinary spaces; the formatter uses no-break spaces.
    func replacingSpaces() -> String { String(map { $0 == " " ? "\u{00A0}" : $0 }) }
}
