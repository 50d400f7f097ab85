// Money as exact integers: minor units plus an ISO 4217 code, never floating point (DESIGN.md
// invariant 9). Every arithmetic operation refuses overflow and mixed currencies instead of
// producing a wrong amount.

/// An ISO 4217 alphabetic currency code such as `RUB`, with its number of minor-unit digits.
public struct CurrencyCode: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The three capital Latin letters of the code.
    public let code: String

    /// Creates a code from three capital Latin letters; `nil` for anything else.
    public init?(_ code: String) {
        let scalars = Array(code.unicodeScalars)
        guard scalars.count == 3, scalars.allSatisfy({ $0.value >= 65 && $0.value <= 90 }) else { return nil }
        self.code = code
    }

    /// Russian rouble.
    public static let rub = CurrencyCode(unchecked: "RUB")
    /// US dollar.
    public static let usd = CurrencyCode(unchecked: "USD")
    /// Euro.
    public static let eur = CurrencyCode(unchecked: "EUR")
    /// Chinese yuan.
    public static let cny = CurrencyCode(unchecked: "CNY")

    private init(unchecked code: String) { self.code = code }

    /// Digits after the decimal separator. Most currencies have 2; the exceptions a Russian
    /// wholesaler meets are listed, because hard-coding ×100 is a classic bug (JPY 0, BHD 3).
    public var minorUnitDigits: Int {
        switch code {
        case "JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG", "KMF", "RWF", "DJF", "GNF", "VUV":
            return 0
        case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
            return 3
        default:
            return 2
        }
    }

    /// The code itself, e.g. `RUB`.
    public var description: String { code }

    /// Alphabetical order, so lists of currencies print stably.
    public static func < (lhs: CurrencyCode, rhs: CurrencyCode) -> Bool { lhs.code < rhs.code }
}

extension CurrencyCode: Codable {
    /// Decodes the plain three-letter string, refusing anything that is not a code.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let code = CurrencyCode(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an ISO 4217 code: \(text)"))
        }
        self = code
    }

    /// Encodes as the plain three-letter string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }
}

/// Why a money operation was refused.
public enum MoneyError: Error, Hashable, Sendable {
    /// The two amounts are in different currencies; converting is never implicit.
    case currencyMismatch(CurrencyCode, CurrencyCode)
    /// The exact result does not fit into 64-bit minor units.
    case overflow
    /// A textual amount could not be parsed (the text is included).
    case malformed(String)
}

/// An exact amount of money: 64-bit minor units (kopecks for RUB) and a currency.
public struct Money: Hashable, Sendable {
    /// The amount in minor units of `currency` (kopecks for roubles). May be negative.
    public let minorUnits: Int64
    /// The currency of the amount.
    public let currency: CurrencyCode

    /// Creates an amount from minor units.
    public init(minorUnits: Int64, currency: CurrencyCode) {
        self.minorUnits = minorUnits
        self.currency = currency
    }

    /// Roubles and kopecks, e.g. `Money.rub(300_000)` or `Money.rub(299_999, kopecks: 99)`.
    /// Traps on overflow: meant for literals in routes and tests, not for user input.
    public static func rub(_ roubles: Int64, kopecks: Int64 = 0) -> Money {
        Money(minorUnits: roubles * 100 + kopecks, currency: .rub)
    }

    /// Zero in the given currency.
    public static func zero(_ currency: CurrencyCode) -> Money { Money(minorUnits: 0, currency: currency) }

    /// The sum; refuses mixed currencies and overflow.
    public func adding(_ other: Money) throws(MoneyError) -> Money {
        try requireSameCurrency(other)
        let (sum, overflow) = minorUnits.addingReportingOverflow(other.minorUnits)
        if overflow { throw .overflow }
        return Money(minorUnits: sum, currency: currency)
    }

    /// The difference; refuses mixed currencies and overflow.
    public func subtracting(_ other: Money) throws(MoneyError) -> Money {
        try requireSameCurrency(other)
        let (difference, overflow) = minorUnits.subtractingReportingOverflow(other.minorUnits)
        if overflow { throw .overflow }
        return Money(minorUnits: difference, currency: currency)
    }

    /// The amount times an integer factor (quantities); refuses overflow.
    public func multiplied(by factor: Int64) throws(MoneyError) -> Money {
        let (product, overflow) = minorUnits.multipliedReportingOverflow(by: factor)
        if overflow { throw .overflow }
        return Money(minorUnits: product, currency: currency)
    }

    /// Three-way comparison that refuses to compare amounts in different currencies, which is why
    /// `Money` is deliberately not `Comparable`.
    public func compare(to other: Money) throws(MoneyError) -> Int {
        try requireSameCurrency(other)
        return minorUnits < other.minorUnits ? -1 : (minorUnits == other.minorUnits ? 0 : 1)
    }

    private func requireSameCurrency(_ other: Money) throws(MoneyError) {
        if currency != other.currency { throw .currencyMismatch(currency, other.currency) }
    }

    /// The amount in the plain machine form used in route files: `"300000.00 RUB"`, `"-5.10 USD"`,
    /// `"100 JPY"` (as many fraction digits as the currency has).
    public var plainText: String {
        let (whole, fraction) = splitDigits()
        let sign = minorUnits < 0 ? "-" : ""
        let number = fraction.isEmpty ? whole : whole + "." + fraction
        return "\(sign)\(number) \(currency.code)"
    }

    /// Parses the form written by `plainText`. The fraction must have exactly the currency's
    /// number of minor digits, so `"300000 RUB"` or `"0.5 RUB"` are refused rather than guessed.
    public init(plainText text: String) throws(MoneyError) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, let currency = CurrencyCode(String(parts[1])) else { throw .malformed(text) }
        var number = Substring(parts[0])
        let negative = number.first == "-"
        if negative { number = number.dropFirst() }
        let pieces = number.split(separator: ".", omittingEmptySubsequences: false)
        let digits = currency.minorUnitDigits
        guard (digits == 0 && pieces.count == 1) || (digits > 0 && pieces.count == 2 && pieces[1].count == digits)
        else { throw .malformed(text) }
        var value: Int64 = 0
        for character in pieces.joined() {
            guard let digit = character.wholeNumberValue, character.isASCII else { throw .malformed(text) }
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = shifted.addingReportingOverflow(Int64(digit))
            if o1 || o2 { throw .overflow }
            value = next
        }
        guard !pieces[0].isEmpty else { throw .malformed(text) }
        self.init(minorUnits: negative ? -value : value, currency: currency)
    }

    /// Russian presentation: groups of three separated by a no-break space, a decimal comma and the
    /// currency sign: `"1 234 567,89 ₽"`. Currencies without a sign get their code: `"10,00 USD"`
    /// is `"10,00 $"`, `"5 JPY"` stays `"5 JPY"`.
    public var russianText: String {
        let (whole, fraction) = splitDigits()
        var grouped = ""
        for (index, character) in whole.enumerated() {
            if index > 0 && (whole.count - index) % 3 == 0 { grouped.append("\u{00A0}") }
            grouped.append(character)
        }
        let sign = minorUnits < 0 ? "-" : ""
        let number = fraction.isEmpty ? grouped : grouped + "," + fraction
        let symbol: String
        switch currency.code {
        case "RUB": symbol = "₽"
        case "USD": symbol = "$"
        case "EUR": symbol = "€"
        case "CNY": symbol = "¥"
        default: symbol = currency.code
        }
        return "\(sign)\(number)\u{00A0}\(symbol)"
    }

    /// Whole and fraction digit strings of the magnitude; works for Int64.min too.
    private func splitDigits() -> (whole: String, fraction: String) {
        let magnitude = minorUnits.magnitude
        let digits = currency.minorUnitDigits
        var divisor: UInt64 = 1
        for _ in 0..<digits { divisor *= 10 }
        let whole = String(magnitude / divisor)
        var fraction = digits == 0 ? "" : String(magnitude % divisor)
        while fraction.count < digits { fraction = "0" + fraction }
        return (whole, fraction)
    }
}

extension Money: CustomStringConvertible {
    /// The plain machine form, e.g. `300000.00 RUB`.
    public var description: String { plainText }
}

extension Money: Codable {
    /// Decodes the plain text form (`"300000.00 RUB"`), which keeps route files readable and exact.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(plainText: text)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an amount like \"300000.00 RUB\": \(text)")
            )
        }
    }

    /// Encodes the plain text form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(plainText)
    }
}
