import Foundation
import InvoiceDomain

/// The language of a recipient's mail; Russian unless the employee chose English.
public enum MailLocale: String, Sendable, Hashable, CaseIterable {
    /// Russian, the default.
    case ru
    /// English.
    case en

    /// The locale stored for an employee (`employee.locale`); anything unknown falls back to Russian.
    public init(stored: String?) {
        self = stored.flatMap(MailLocale.init(rawValue:)) ?? .ru
    }
}

/// Russian plural forms (CLDR one/few/many): 1 задача, 2 задачи, 5 задач, 11 задач, 21 задача.
public struct RussianPlural: Sendable, Hashable {
    /// The form after 1, 21, 101 (but not 11): «задача».
    public var one: String
    /// The form after 2–4, 22–24 (but not 12–14): «задачи».
    public var few: String
    /// The form after 0, 5–20, 25–30, 11–14: «задач».
    public var many: String

    /// Creates the three forms of a word or phrase.
    public init(one: String, few: String, many: String) {
        self.one = one
        self.few = few
        self.many = many
    }

    /// The form that goes with `count`.
    public func form(for count: Int) -> String {
        let n = count.magnitude
        let lastTwo = n % 100
        let last = n % 10
        if (11...14).contains(lastTwo) { return many }
        if last == 1 { return one }
        if (2...4).contains(last) { return few }
        return many
    }

    /// `count` and its form: «21 задача».
    public func phrase(_ count: Int) -> String { "\(count) \(form(for: count))" }
}

/// English plural forms: 1 task, 2 tasks.
struct EnglishPlural: Sendable, Hashable {
    var one: String
    var other: String

    func phrase(_ count: Int) -> String { "\(count) \(count == 1 ? one : other)" }
}

/// Money and times the way a recipient reads them.
public enum MailFormat {
    /// Money in the recipient's language: Russian «1 234 567,89 ₽» (no-break spaces), English
    /// «RUB 1,234,567.89».
    public static func money(_ amount: Money, locale: MailLocale) -> String {
        switch locale {
        case .ru:
            return amount.russianText
        case .en:
            // plainText is "1234567.89 RUB": group the whole part with commas.
            let pieces = amount.plainText.split(separator: " ")
            let number = String(pieces.first ?? "")
            let negative = number.hasPrefix("-")
            let digits = negative ? String(number.dropFirst()) : number
            let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
            let whole = String(parts[0])
            var grouped = ""
            for (index, character) in whole.enumerated() {
                if index > 0 && (whole.count - index) % 3 == 0 { grouped.append(",") }
                grouped.append(character)
            }
            let fraction = parts.count > 1 ? "." + parts[1] : ""
            return "\(amount.currency.code) \(negative ? "-" : "")\(grouped)\(fraction)"
        }
    }

    /// A moment in the recipient's time zone with its UTC offset, so nobody guesses the zone:
    /// Russian «30.11.2026 18:00 (UTC+03:00)», English «30 Nov 2026, 18:00 (UTC+03:00)».
    public static func moment(_ date: Date, in timeZone: TimeZone, locale: MailLocale) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        func two(_ value: Int?) -> String {
            let v = value ?? 0
            return v < 10 ? "0\(v)" : "\(v)"
        }
        let offsetMinutes = timeZone.secondsFromGMT(for: date) / 60
        let sign = offsetMinutes < 0 ? "-" : "+"
        let offset = "UTC\(sign)\(two(abs(offsetMinutes) / 60)):\(two(abs(offsetMinutes) % 60))"
        let time = "\(two(c.hour)):\(two(c.minute))"
        switch locale {
        case .ru:
            return "\(two(c.day)).\(two(c.month)).\(c.year ?? 1970) \(time) (\(offset))"
        case .en:
            let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            return "\(c.day ?? 1) \(months[((c.month ?? 1) - 1) % 12]) \(c.year ?? 1970), \(time) (\(offset))"
        }
    }
}
