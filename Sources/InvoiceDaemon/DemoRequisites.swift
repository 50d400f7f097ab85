/// Bank and tax requisites for the demo company, computed with their check digits rather than copied,
/// so every ИНН and account passes the validators of `0002_requisites.sql` (and `Requisites` in the
/// domain core) by construction. The numbers are made up; only their arithmetic is real.
public enum DemoRequisites {
    /// A 10-digit ИНН of an organisation: a 4-digit tax office, a 5-digit serial, the check digit.
    public static func organisationINN(taxOffice: String, serial: Int) -> String {
        let body = taxOffice + padded(serial, to: 5)
        return body + String(checkDigit(body, weights: [2, 4, 10, 3, 5, 9, 4, 6, 8]))
    }

    /// A 12-digit ИНН of an individual entrepreneur: a 4-digit tax office, a 6-digit serial, two check digits.
    public static func entrepreneurINN(taxOffice: String, serial: Int) -> String {
        var inn = taxOffice + padded(serial, to: 6)
        inn += String(checkDigit(inn, weights: [7, 2, 4, 10, 3, 5, 9, 4, 6, 8]))
        inn += String(checkDigit(inn, weights: [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]))
        return inn
    }

    /// A КПП: the tax office, reason code 01 (registered at its location), sequence 001.
    public static func kpp(taxOffice: String) -> String { taxOffice + "01001" }

    /// A расчётный счёт of a resident organisation in roubles (40702 810) at the bank with this БИК;
    /// the control key (the 9th digit) makes the weighted sum with the БИК's last three digits divisible by 10.
    public static func settlementAccount(bik: String, serial: Int) -> String {
        // An account held at a РКЦ of the Bank of Russia (БИК digits 7–8 are 00) is keyed like a correspondent one.
        let prefix = bik.dropFirst(6).hasPrefix("00") ? "0" + bik.dropFirst(4).prefix(2) : bik.suffix(3)
        return keyed(String(prefix), head: "40702810", tail: padded(serial, to: 11))
    }

    /// The корреспондентский счёт of the bank with this БИК (class 301, keyed with 0 and БИК digits 5–6).
    public static func correspondentAccount(bik: String) -> String {
        keyed("0" + bik.dropFirst(4).prefix(2), head: "30101810", tail: "00000000" + bik.suffix(3))
    }

    /// `head` (8 digits) + the control key + `tail` (11 digits), keyed for `prefix` with weights 7, 1, 3.
    private static func keyed(_ prefix: String, head: String, tail: String) -> String {
        let weights = [7, 1, 3]
        let digits = (prefix + head + "0" + tail).compactMap(\.wholeNumberValue)
        let sum = digits.enumerated().reduce(0) { $0 + $1.element * weights[$1.offset % 3] }
        // The key sits at position 12 of the 23 digits, weight 3; 7 is 3's inverse modulo 10.
        let key = (7 * (10 - sum % 10)) % 10
        return head + String(key) + tail
    }

    private static func checkDigit(_ digits: String, weights: [Int]) -> Int {
        let values = digits.compactMap(\.wholeNumberValue)
        return zip(values, weights).reduce(0) { $0 + $1.0 * $1.1 } % 11 % 10
    }

    private static func padded(_ value: Int, to width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
