// Russian tax and bank requisites. The same semantics as sql/migrations/0002_requisites.sql
// (never throws, false for anything malformed, all-same-digit ИНН/КПП refused), so the Swift side
// and the CHECK constraints always agree on what is valid.

/// Validators of Russian requisites: ИНН, КПП, БИК, расчётный and корреспондентский счёт.
public enum Requisites {
    /// A ИНН with correct check digits: 10 digits (organisation) or 12 (individual, ИП).
    public static func isValidINN(_ inn: String) -> Bool {
        guard let d = digits(inn), d.count == 10 || d.count == 12, !allSame(d) else { return false }
        if d.count == 10 {
            return checkDigit(d, [2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[9]
        }
        return checkDigit(d, [7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[10]
            && checkDigit(d, [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) == d[11]
    }

    /// A КПП: 4 digits (tax office), 2 digits or capital Latin letters (reason), 3 digits (sequence).
    /// There is no check digit; all-same-character strings are refused as placeholders.
    public static func isValidKPP(_ kpp: String) -> Bool {
        let s = Array(kpp.unicodeScalars)
        guard s.count == 9 else { return false }
        let isDigit = { (c: Unicode.Scalar) in c.value >= 48 && c.value <= 57 }
        let isUpper = { (c: Unicode.Scalar) in c.value >= 65 && c.value <= 90 }
        for (i, c) in s.enumerated() {
            let ok = (i == 4 || i == 5) ? (isDigit(c) || isUpper(c)) : isDigit(c)
            if !ok { return false }
        }
        return !s.allSatisfy { $0 == s[0] }
    }

    /// A БИК's shape: 9 digits, the first 0, 1 or 2. A БИК has no check digit.
    public static func isValidBIK(_ bik: String) -> Bool {
        guard let d = digits(bik), d.count == 9 else { return false }
        return d[0] <= 2
    }

    /// A 20-digit расчётный счёт whose control key is right for the bank with this БИК.
    /// Prefix: the last 3 digits of the БИК, or `0` + БИК[5..6] when БИК[7..8] is `00` (a РКЦ).
    public static func isValidSettlementAccount(_ account: String, bik: String) -> Bool {
        guard let a = digits(account), a.count == 20, isValidBIK(bik), let b = digits(bik) else { return false }
        let prefix = (b[6] == 0 && b[7] == 0) ? [0, b[4], b[5]] : [b[6], b[7], b[8]]
        return accountKeyHolds(prefix + a)
    }

    /// A 20-digit корреспондентский счёт (class 301) whose control key is right for this БИК
    /// (prefix `0` + БИК[5..6]).
    public static func isValidCorrespondentAccount(_ account: String, bik: String) -> Bool {
        guard let a = digits(account), a.count == 20, a[0] == 3, a[1] == 0, a[2] == 1,
            isValidBIK(bik), let b = digits(bik)
        else { return false }
        return accountKeyHolds([0, b[4], b[5]] + a)
    }

    /// The decimal digits of an ASCII digit string, or `nil` if any character is not 0-9
    /// (so Arabic-Indic or full-width digits are refused, as in SQL).
    private static func digits(_ text: String) -> [Int]? {
        var result: [Int] = []
        for scalar in text.unicodeScalars {
            guard scalar.value >= 48 && scalar.value <= 57 else { return nil }
            result.append(Int(scalar.value) - 48)
        }
        return result
    }

    private static func allSame(_ d: [Int]) -> Bool { d.allSatisfy { $0 == d[0] } }

    private static func checkDigit(_ d: [Int], _ weights: [Int]) -> Int {
        zip(d, weights).reduce(0) { $0 + $1.0 * $1.1 } % 11 % 10
    }

    private static func accountKeyHolds(_ digits23: [Int]) -> Bool {
        let weights = [7, 1, 3]
        return digits23.enumerated().reduce(0) { $0 + $1.element * weights[$1.offset % 3] } % 10 == 0
    }
}
