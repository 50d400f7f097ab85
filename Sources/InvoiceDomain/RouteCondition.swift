// Step conditions as a small expression tree, stored in route files as single-key JSON objects
// (`{"amountAbove": "300000.00 RUB"}`, `{"all": [...]}`) so a person can read and edit them.

/// A condition over an invoice's facts deciding whether a step or participant applies.
public indirect enum RouteCondition: Hashable, Sendable {
    /// Always true.
    case always
    /// The amount is strictly greater than the threshold ("> 300 000").
    case amountAbove(Money)
    /// The amount is greater than or equal to the threshold.
    case amountAtLeast(Money)
    /// The invoice is in this currency.
    case currency(CurrencyCode)
    /// The prepaid share is strictly greater than this many basis points ("prepayment over 50 %").
    case prepaymentAbove(basisPoints: Int)
    /// The flag is set on the invoice.
    case flag(InvoiceFlag)
    /// Every sub-condition holds (true when empty).
    case all([RouteCondition])
    /// At least one sub-condition holds (false when empty).
    case any([RouteCondition])
    /// The sub-condition does not hold.
    case not(RouteCondition)
}

/// Why a route could not be evaluated for an invoice.
public enum RouteEvaluationError: Error, Hashable, Sendable {
    /// An amount threshold is in another currency than the invoice; thresholds are never converted.
    /// Guard such a threshold with `{"currency": …}` to write multi-currency routes.
    case thresholdCurrencyMismatch(stepID: String, threshold: Money, invoice: CurrencyCode)
    /// The route is for another invoice type.
    case wrongType(route: InvoiceTypeCode, invoice: InvoiceTypeCode)
    /// The initiator holds none of the positions allowed to start this type.
    case initiatorNotAllowed(EmployeeID, allowed: [PositionCode])
}

extension RouteCondition {
    /// Whether the condition holds. `all` and `any` short-circuit left to right, so a currency
    /// guard placed first protects the thresholds after it.
    public func holds(for facts: InvoiceFacts, stepID: String = "") throws(RouteEvaluationError) -> Bool {
        switch self {
        case .always: return true
        case .amountAbove(let threshold):
            return try Self.compare(facts.amount, threshold, stepID) > 0
        case .amountAtLeast(let threshold):
            return try Self.compare(facts.amount, threshold, stepID) >= 0
        case .currency(let code): return facts.amount.currency == code
        case .prepaymentAbove(let basisPoints): return facts.prepaymentBasisPoints > basisPoints
        case .flag(let flag): return facts.flags.contains(flag)
        case .all(let parts):
            for part in parts where !(try part.holds(for: facts, stepID: stepID)) { return false }
            return true
        case .any(let parts):
            for part in parts where try part.holds(for: facts, stepID: stepID) { return true }
            return false
        case .not(let part): return !(try part.holds(for: facts, stepID: stepID))
        }
    }

    private static func compare(_ amount: Money, _ threshold: Money, _ stepID: String) throws(RouteEvaluationError)
        -> Int
    {
        guard amount.currency == threshold.currency else {
            throw .thresholdCurrencyMismatch(stepID: stepID, threshold: threshold, invoice: amount.currency)
        }
        return amount.minorUnits < threshold.minorUnits ? -1 : (amount.minorUnits == threshold.minorUnits ? 0 : 1)
    }

    /// A one-line reading for `routes simulate`, e.g. `amount > 300000.00 RUB and (new counterparty)`.
    public var summary: String {
        switch self {
        case .always: return "always"
        case .amountAbove(let m): return "amount > \(m)"
        case .amountAtLeast(let m): return "amount >= \(m)"
        case .currency(let c): return "currency = \(c)"
        case .prepaymentAbove(let bp): return "prepayment > \(bp / 100).\(CalendarDate.pad(bp % 100, 2)) %"
        case .flag(let f): return f.rawValue
        case .all(let parts):
            return parts.isEmpty ? "always" : parts.map { "(\($0.summary))" }.joined(separator: " and ")
        case .any(let parts): return parts.isEmpty ? "never" : parts.map { "(\($0.summary))" }.joined(separator: " or ")
        case .not(let part): return "not (\(part.summary))"
        }
    }
}

/// A JSON object key known only at run time, for the single-key object encodings of route files.
struct RouteFileKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Decoder {
    /// A keyed container that refuses every key `Key` does not name. Route files are written by hand:
    /// a misspelt optional field (`"treshold"`) would otherwise vanish silently and change the route.
    /// The error's coding path is the object's, and its message names the key and the keys allowed.
    func strictContainer<Key: CodingKey & CaseIterable>(keyedBy: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let all = try container(keyedBy: RouteFileKey.self)
        let unknown = all.allKeys.map(\.stringValue).filter { Key(stringValue: $0) == nil }.sorted()
        if let first = unknown.first {
            let allowed = Key.allCases.map(\.stringValue).joined(separator: ", ")
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: codingPath,
                    debugDescription: "unknown key \"\(first)\" (allowed here: \(allowed))"))
        }
        return try container(keyedBy: Key.self)
    }

    /// The only key of a single-key object, or an error naming what was found.
    func singleKey(_ what: String) throws -> (KeyedDecodingContainer<RouteFileKey>, RouteFileKey) {
        let container = try container(keyedBy: RouteFileKey.self)
        guard container.allKeys.count == 1, let key = container.allKeys.first else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: codingPath,
                    debugDescription:
                        "a \(what) object has exactly one key, found \(container.allKeys.map(\.stringValue))"
                ))
        }
        return (container, key)
    }
}

extension RouteCondition: Codable {
    /// Decodes `"always"` or a single-key object: `amountAbove`, `amountAtLeast`, `currency`,
    /// `prepaymentAboveBasisPoints`, `flag`, `all`, `any`, `not`.
    public init(from decoder: any Decoder) throws {
        if let word = try? decoder.singleValueContainer().decode(String.self) {
            guard word == "always" else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "unknown condition \"\(word)\""))
            }
            self = .always
            return
        }
        let (c, key) = try decoder.singleKey("condition")
        switch key.stringValue {
        case "amountAbove": self = .amountAbove(try c.decode(Money.self, forKey: key))
        case "amountAtLeast": self = .amountAtLeast(try c.decode(Money.self, forKey: key))
        case "currency": self = .currency(try c.decode(CurrencyCode.self, forKey: key))
        case "prepaymentAboveBasisPoints": self = .prepaymentAbove(basisPoints: try c.decode(Int.self, forKey: key))
        case "flag": self = .flag(try c.decode(InvoiceFlag.self, forKey: key))
        case "all": self = .all(try c.decode([RouteCondition].self, forKey: key))
        case "any": self = .any(try c.decode([RouteCondition].self, forKey: key))
        case "not": self = .not(try c.decode(RouteCondition.self, forKey: key))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: key, in: c, debugDescription: "unknown condition \"\(key.stringValue)\"")
        }
    }

    /// Encodes the form `init(from:)` reads.
    public func encode(to encoder: any Encoder) throws {
        if case .always = self {
            var single = encoder.singleValueContainer()
            try single.encode("always")
            return
        }
        var c = encoder.container(keyedBy: RouteFileKey.self)
        switch self {
        case .always: break
        case .amountAbove(let m): try c.encode(m, forKey: .init("amountAbove"))
        case .amountAtLeast(let m): try c.encode(m, forKey: .init("amountAtLeast"))
        case .currency(let code): try c.encode(code, forKey: .init("currency"))
        case .prepaymentAbove(let bp): try c.encode(bp, forKey: .init("prepaymentAboveBasisPoints"))
        case .flag(let f): try c.encode(f, forKey: .init("flag"))
        case .all(let parts): try c.encode(parts, forKey: .init("all"))
        case .any(let parts): try c.encode(parts, forKey: .init("any"))
        case .not(let part): try c.encode(part, forKey: .init("not"))
        }
    }
}
